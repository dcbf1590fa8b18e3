/*
 * resocket service worker: opens one native port per web page that uses chrome.socket, and keeps the dynamic
 * content scripts of approved origins in step with the host permissions the user still grants.
 *
 * Design rules:
 *  1. One page link (runtime port named PAGE_PORT_NAME, from relay.js) = one connectNative = one host process.
 *     Closing either end closes the other: the page went away -> the host closes its sockets and exits; the
 *     host died -> the page is told why ({kind: 'closed', error}) and its shim fails every pending call.
 *  2. The page's origin comes from Chrome's sender info (sender.origin, else the origin of sender.url), never
 *     from the page: every hello passing through gets args.origin overwritten, so the host applies exactly the
 *     rules granted to that origin. The host honours args.origin only from this extension's ID.
 *  3. Staying alive: since Chrome 105 an open connectNative port keeps an MV3 service worker alive
 *     (crbug.com/1189678; "Extension service worker lifecycle" on developer.chrome.com), and every
 *     message on a port resets the idle timer (Chrome 110), so sockets stay open as long as the page does.
 *     If the worker is stopped anyway (browser update, crash), both ports close and rule 1 applies.
 */
'use strict';

// Firefox runs this file as a background script, after origins.js (manifest background.scripts).
if (typeof importScripts === 'function') importScripts('origins.js');

/** Native messaging host name (host/resocket/__init__.py HOST_NAME). */
const HOST_NAME = 'org.resocket.host';
/** runtime.connect name used by relay.js. */
const PAGE_PORT_NAME = 'resocket-page';

/**
 * The origin of the document behind a port, as Chrome reports it.
 * @param {chrome.runtime.MessageSender} sender @returns {string|null}
 */
function senderOrigin(sender) {
  if (sender.origin && sender.origin !== 'null') return sender.origin;
  try {
    const origin = new URL(sender.url).origin;
    return origin === 'null' ? null : origin;
  } catch (err) {
    return null;
  }
}

chrome.runtime.onConnect.addListener((page) => {
  if (page.name !== PAGE_PORT_NAME) return;
  const sender = page.sender || {};
  const origin = senderOrigin(sender);
  if (sender.id !== chrome.runtime.id || !origin || !/^https?:/.test(origin)) {
    page.postMessage({ kind: 'closed', error: 'resocket serves http and https pages only' });
    page.disconnect();
    return;
  }
  let native;
  try {
    native = chrome.runtime.connectNative(HOST_NAME);
  } catch (err) {
    page.postMessage({ kind: 'closed', error: String((err && err.message) || err) });
    page.disconnect();
    return;
  }
  let open = true;
  native.onMessage.addListener((msg) => {
    if (open) page.postMessage({ kind: 'msg', msg });
  });
  native.onDisconnect.addListener(() => {
    const le = chrome.runtime.lastError;
    if (!open) return;
    open = false;
    page.postMessage({ kind: 'closed', error: (le && le.message) || 'Native host has exited.' });
    page.disconnect();
  });
  page.onMessage.addListener((msg) => {
    if (!open) return;
    if (msg && msg.op === 'hello') {
      msg = Object.assign({}, msg, { args: Object.assign({}, msg.args, { origin }) });
    }
    native.postMessage(msg);
  });
  page.onDisconnect.addListener(() => {
    if (!open) return;
    open = false;
    native.disconnect();
  });
});

/** Drop approved origins whose site access was withdrawn, and re-register the rest. */
async function reconcileApprovedOrigins() {
  try {
    await resocketSyncApprovedOrigins(await resocketApprovedOrigins());
  } catch (err) {
    console.error('resocket: could not update the content scripts of approved origins:', err);
  }
}

chrome.permissions.onRemoved.addListener(reconcileApprovedOrigins);
chrome.runtime.onInstalled.addListener(reconcileApprovedOrigins);
