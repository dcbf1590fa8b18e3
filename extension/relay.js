/*
 * resocket relay: the ISOLATED-world content script that carries a web page's chrome.socket traffic between
 * chrome-socket.js (MAIN world, window.postMessage) and the service worker (a runtime port per link).
 *
 * Envelope (shared with chrome-socket.js): {channel: 'org.resocket.page/1', dir: 'up'|'down', link, type, ...}
 *   up:   open | msg {msg} | close
 *   down: ready (this script loaded) | opened | msg {msg} | closed {error}
 * Only messages whose event.source is this very window are accepted: other frames cannot post into a link.
 * The page never names its origin here: the service worker takes it from Chrome's sender info.
 */
(() => {
  'use strict';

  const PAGE_CHANNEL = 'org.resocket.page/1';
  /** runtime.connect name the service worker accepts (service-worker.js PAGE_PORT_NAME). */
  const PAGE_PORT_NAME = 'resocket-page';
  /** @type {Map<string, chrome.runtime.Port>} */
  const links = new Map();

  const down = (link, type, extra) =>
    window.postMessage(Object.assign({ channel: PAGE_CHANNEL, dir: 'down', link, type }, extra), '*');

  /** @param {string} link */
  function open(link) {
    if (links.has(link)) return; // a repeated open (the page re-sent it on "ready")
    let port;
    try {
      port = chrome.runtime.connect({ name: PAGE_PORT_NAME });
    } catch (err) {
      // "Extension context invalidated." after the extension was reloaded or removed.
      down(link, 'closed', { error: String((err && err.message) || err) });
      return;
    }
    let closedError = null;
    links.set(link, port);
    port.onMessage.addListener((m) => {
      if (m && m.kind === 'msg') down(link, 'msg', { msg: m.msg });
      else if (m && m.kind === 'closed') closedError = m.error;
    });
    port.onDisconnect.addListener(() => {
      const le = chrome.runtime.lastError;
      if (links.get(link) !== port) return;
      links.delete(link);
      down(link, 'closed', { error: closedError || (le && le.message) || 'resocket service worker stopped' });
    });
    down(link, 'opened');
  }

  window.addEventListener('message', (event) => {
    const data = event.data;
    if (event.source !== window || !data || data.channel !== PAGE_CHANNEL || data.dir !== 'up') return;
    if (typeof data.link !== 'string') return;
    if (data.type === 'open') { open(data.link); return; }
    const port = links.get(data.link);
    if (!port) return;
    if (data.type === 'msg') {
      try {
        port.postMessage(data.msg);
      } catch (err) {
        links.delete(data.link);
        down(data.link, 'closed', { error: String((err && err.message) || err) });
      }
    } else if (data.type === 'close') {
      links.delete(data.link);
      port.disconnect();
    }
  });

  /**
   * Back/forward cache: Chrome closes this script's ports when the page is hidden into the cache (the
   * service worker sees the disconnect and the host exits), but the ports here get no onDisconnect and
   * postMessage on them does not throw. So the page's links are closed by us, both when the page is hidden
   * and (for anything left) when it is shown again: the shim fails the pending calls and its next call
   * opens a new link, i.e. a new port and a new host.
   */
  const BFCACHE_ERROR = 'the page was put in the back/forward cache, which closed its connection';
  function closeAll() {
    for (const [link, port] of Array.from(links)) {
      links.delete(link);
      try { port.disconnect(); } catch (err) { /* already closed by Chrome */ }
      down(link, 'closed', { error: BFCACHE_ERROR });
    }
  }
  window.addEventListener('pagehide', (event) => { if (event.persisted) closeAll(); });
  window.addEventListener('pageshow', (event) => { if (event.persisted) closeAll(); });

  // Tell a shim that loaded before us (and whose "open" nobody heard) to ask again.
  window.postMessage({ channel: PAGE_CHANNEL, dir: 'down', type: 'ready' }, '*');
})();
