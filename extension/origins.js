/*
 * resocket: web origins the user approved in the options page (beyond the loopback origins that the manifest
 * always serves). Shared by options.js and service-worker.js (importScripts); plain functions, no state.
 *
 * Approved origins live in chrome.storage.local under "approvedOrigins" (normalized origins, e.g.
 * "https://example.com:8443"). Their scripts are registered as two dynamic content scripts covering all of
 * them: the MAIN-world shim and the ISOLATED-world relay, at document_start, like the static loopback pair.
 * Match patterns carry no port (Chrome's host permissions ignore ports); the host enforces the exact granted
 * origin, port included, because the service worker names the page's exact origin in hello.
 */
'use strict';

const RESOCKET_SCRIPT_IDS = { main: 'resocket-approved-main', relay: 'resocket-approved-relay' };

/**
 * Normalize what the user typed into an origin, or throw an Error saying why it is not one.
 * @param {string} text @returns {string}
 */
function resocketNormalizeOrigin(text) {
  let url;
  try { url = new URL(String(text).trim()); } catch (err) { throw new Error(`not an origin: ${text}`); }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('only http and https origins can be approved');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username) {
    throw new Error('give an origin only (scheme://host[:port]), without a path');
  }
  return url.origin;
}

/** @param {string} origin @returns {string} the match pattern for its pages, any port */
function resocketMatchPattern(origin) {
  const url = new URL(origin);
  return `${url.protocol}//${url.hostname}/*`;
}

/** @returns {Promise<string[]>} */
async function resocketApprovedOrigins() {
  const stored = await chrome.storage.local.get({ approvedOrigins: [] });
  return Array.isArray(stored.approvedOrigins) ? stored.approvedOrigins : [];
}

/**
 * Make the registered content scripts match exactly the approved origins whose host permission is still held
 * (the user can withdraw site access in chrome://extensions), and store that list.
 * @param {string[]} origins
 * @returns {Promise<string[]>} the origins kept
 */
async function resocketSyncApprovedOrigins(origins) {
  const kept = [];
  for (const origin of new Set(origins)) {
    if (await chrome.permissions.contains({ origins: [resocketMatchPattern(origin)] })) kept.push(origin);
  }
  await chrome.storage.local.set({ approvedOrigins: kept });
  const ids = Object.values(RESOCKET_SCRIPT_IDS);
  const existing = await chrome.scripting.getRegisteredContentScripts({ ids });
  if (existing.length) await chrome.scripting.unregisterContentScripts({ ids: existing.map((s) => s.id) });
  if (kept.length) {
    const matches = Array.from(new Set(kept.map(resocketMatchPattern)));
    await chrome.scripting.registerContentScripts([
      { id: RESOCKET_SCRIPT_IDS.relay, js: ['relay.js'], matches, runAt: 'document_start', world: 'ISOLATED', persistAcrossSessions: true },
      { id: RESOCKET_SCRIPT_IDS.main, js: ['chrome-socket.js'], matches, runAt: 'document_start', world: 'MAIN', persistAcrossSessions: true },
    ]);
  }
  return kept;
}
