/*
 * resocket IWA runtime: what a legacy Chrome App expects around chrome.socket, rebuilt in an Isolated Web App
 * (resocket convert-app --target iwa; docs/chromeos.md). The extension target's app-runtime.js does the same
 * on extension APIs (chrome.windows, getViews), which a web app does not have.
 *
 * Loaded in every page the app shows, after direct-sockets.js, chrome-socket.js and app-config.js and before
 * the app's own scripts.
 *
 * Design rules:
 *  1. The start page of the IWA is the app's background page: its scripts run there, and chrome.app.runtime
 *     .onLaunched fires once it has loaded, as when a Chrome App was launched.
 *  2. chrome.app.window.create shows the page in a frame filling the start page's window (stacked, the newest
 *     on top), not in a window of its own: an IWA may only open windows on a user gesture, and onLaunched has
 *     none. The AppWindow is handed to the create() callback before the page's own scripts run, so
 *     `w.contentWindow.foo = ...` works as in Chrome Apps; close() and the page's window.close() remove it.
 *  3. Each page has its own chrome.socket (socket ids are per page, not app-wide as in Chrome Apps): a socket
 *     made in the background page cannot be used from a window (docs/chromeos.md, "Limits").
 *  4. Nothing breaks silently: namespaces the conversion found unavailable are stubbed; every call logs an
 *     error and fails its callback with chrome.runtime.lastError.
 */
(function installIwaRuntime(global) {
  'use strict';

  const app = global.__resocketApp || {};
  const chrome = global.chrome || (global.chrome = {});
  if (!chrome.runtime) chrome.runtime = {};
  let shell = null;
  try { shell = global.top && global.top.__resocketIwa ? global.top : null; } catch (err) { shell = null; }
  const isBackground = global === global.top;
  /** The manifest's permissions policy, delegated to app windows (iwa.py POLICY_FEATURES). */
  const FRAME_FEATURES = 'cross-origin-isolated; direct-sockets; direct-sockets-multicast; local-network; loopback-network';

  function define(obj, name, value) {
    Object.defineProperty(obj, name, { value, configurable: true, writable: true, enumerable: true });
    return value;
  }

  function namespace(obj, name) {
    const ns = obj[name];
    return (ns && typeof ns === 'object') ? ns : define(obj, name, {});
  }

  function withLastError(message, fn) {
    const runtime = chrome.runtime;
    const error = { message: String(message) };
    Object.defineProperty(runtime, 'lastError', { configurable: true, enumerable: true, get() { return error; } });
    try { fn(); } finally { delete runtime.lastError; }
  }

  function makeEvent(name) {
    const listeners = [];
    return {
      addListener(fn) {
        if (typeof fn !== 'function') throw new TypeError(`Error in invocation of ${name}.addListener: not a function`);
        if (!listeners.includes(fn)) listeners.push(fn);
      },
      removeListener(fn) { const i = listeners.indexOf(fn); if (i >= 0) listeners.splice(i, 1); },
      hasListener(fn) { return listeners.includes(fn); },
      hasListeners() { return listeners.length > 0; },
      dispatch(...args) {
        for (const fn of listeners.slice()) {
          try { fn(...args); } catch (err) { console.error(`Error in event handler for ${name}:`, err); }
        }
      },
    };
  }

  // ---- the start page: app windows as frames (rule 2) ----

  function shellRuntime() {
    const appWindows = new Map();
    const pending = []; // {frame, win, callback}
    let autoId = 0;
    let depth = 0;

    class AppWindow {
      constructor(id, frame) {
        this.id = id;
        this.frame = frame;
        this.onClosed = makeEvent('app.window.onClosed');
        for (const e of ['onBoundsChanged', 'onFullscreened', 'onMaximized', 'onMinimized', 'onRestored']) {
          this[e] = makeEvent(`app.window.${e}`);
        }
        const bounds = () => ({ left: 0, top: 0, width: global.innerWidth, height: global.innerHeight });
        this.innerBounds = Object.assign(bounds(), { setPosition() {}, setSize() {}, setMinimumSize() {},
          setMaximumSize() {} });
        this.outerBounds = this.innerBounds;
        this.getBounds = bounds;
      }

      get contentWindow() { return this.frame.contentWindow; }

      focus() { depth += 1; this.frame.style.zIndex = String(depth); }
      show() { this.frame.style.display = ''; this.focus(); }
      hide() { this.frame.style.display = 'none'; }
      minimize() { this.hide(); this.onMinimized.dispatch(); }
      restore() { this.show(); this.onRestored.dispatch(); }
      maximize() { this.onMaximized.dispatch(); }
      fullscreen() { this.onFullscreened.dispatch(); }
      isMinimized() { return this.frame.style.display === 'none'; }
      isMaximized() { return true; }
      isFullscreen() { return false; }
      isAlwaysOnTop() { return false; }
      setBounds() {}
      resizeTo() {}
      moveTo() {}
      drawAttention() {}
      clearAttention() {}
      setAlwaysOnTop() {}
      setVisibleOnAllWorkspaces() {}
      close() {
        if (!appWindows.has(this.id)) return;
        appWindows.delete(this.id);
        this.frame.remove();
        this.onClosed.dispatch();
      }
    }

    function createWindow(url, options, callback) {
      if (typeof options === 'function') { callback = options; options = undefined; }
      options = options || {};
      if (typeof url !== 'string') throw new TypeError('Error in invocation of app.window.create: url must be a string');
      const id = options.id !== undefined && options.id !== '' ? String(options.id) : `__resocket${++autoId}`;
      const existing = appWindows.get(id);
      if (existing) { // Chrome Apps: a window with this id exists -> it is focused and returned instead
        existing.focus();
        if (callback) setTimeout(() => callback(existing), 0);
        return;
      }
      const frame = global.document.createElement('iframe');
      frame.setAttribute('style', 'position:fixed;inset:0;width:100%;height:100%;border:0;background:#fff');
      // A frame gets Direct Sockets only when its container delegates the features (permissions policy).
      frame.allow = FRAME_FEATURES;
      frame.src = new URL(url.replace(/^\/+/, ''), `${global.location.origin}/`).href;
      const win = new AppWindow(id, frame);
      appWindows.set(id, win);
      pending.push({ frame, win, callback });
      if (options.hidden) win.hide();
      (global.document.body || global.document.documentElement).appendChild(frame);
      win.focus();
    }

    /** Called by a window's runtime before its own scripts run: its AppWindow, the create() callback run now. */
    function attach(view) {
      const i = pending.findIndex((p) => p.frame === view.frameElement);
      if (i < 0) {
        for (const w of appWindows.values()) if (w.frame === view.frameElement) return w;
        return null;
      }
      const { win, callback } = pending.splice(i, 1)[0];
      if (callback) {
        try { callback(win); } catch (err) { console.error('Error in response to app.window.create:', err); }
      }
      return win;
    }

    return { createWindow, attach, appWindows };
  }

  const appNs = namespace(chrome, 'app');
  const runtimeNs = namespace(appNs, 'runtime');
  const windowNs = namespace(appNs, 'window');
  for (const name of ['onLaunched', 'onRestarted', 'onEmbedRequested']) define(runtimeNs, name, makeEvent(`app.runtime.${name}`));
  define(namespace(namespace(chrome, 'experimental'), 'app'), 'onLaunched', runtimeNs.onLaunched);

  if (isBackground) {
    shell = global;
    define(global, '__resocketIwa', shellRuntime());
    global.addEventListener('load', () => setTimeout(() => {
      runtimeNs.onLaunched.dispatch({ isKioskSession: false, isPublicSession: false, source: 'app_launcher' });
      global.document.documentElement.dataset.launched = 'true';
    }, 0));
  }
  const rt = shell && shell.__resocketIwa;
  const current = !isBackground && rt ? rt.attach(global) : null;
  if (current) define(global, 'close', () => current.close()); // the window's own close() closes its frame

  define(windowNs, 'create', (url, options, callback) => rt.createWindow(url, options, callback));
  define(windowNs, 'current', () => current);
  define(windowNs, 'getAll', () => (rt ? Array.from(rt.appWindows.values()) : []));
  define(windowNs, 'get', (id) => (rt && rt.appWindows.get(String(id))) || null);
  define(windowNs, 'canSetVisibleOnAllWorkspaces', () => false);
  define(chrome.runtime, 'getBackgroundPage', (callback) => {
    if (typeof callback !== 'function') return Promise.resolve(shell);
    setTimeout(() => callback(shell), 0);
    return undefined;
  });
  if (!chrome.runtime.id) define(chrome.runtime, 'id', app.id || '');

  // ---- unavailable APIs fail loudly (rule 4) ----
  for (const path of app.missing || []) {
    const parts = path.split('.');
    let parent = chrome;
    for (const part of parts.slice(0, -1)) parent = namespace(parent, part);
    const leaf = parts[parts.length - 1];
    if (parent[leaf]) continue;
    const message = (member) => `chrome.${path}.${member} is not available in this Isolated Web App ` +
      '(resocket convert-app --target iwa: see resocket/report.json)';
    define(parent, leaf, new Proxy({}, {
      get(target, member) {
        if (typeof member !== 'string') return undefined;
        if (/^on[A-Z]/.test(member)) return makeEvent(`${path}.${member}`);
        return function unavailableApi(...args) {
          console.error(message(member));
          const callback = args.reverse().find((a) => typeof a === 'function');
          if (callback) setTimeout(() => withLastError(message(member), () => callback()), 0);
          return undefined;
        };
      },
    }));
  }
})(typeof globalThis !== 'undefined' ? globalThis : this);
