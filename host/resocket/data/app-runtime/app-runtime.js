/*
 * resocket app runtime: what a legacy Chrome App expects around chrome.socket, rebuilt on MV3.
 *
 * Loaded in every page of a converted app, after chrome-socket.js and app-config.js and before any of the
 * app's own scripts, app-filesystem.js right after it (resocket convert-app inserts the tags at the top of each
 * page the app shows; an HTML file it left as data gets them from the loader page resocket/page.html when a
 * window opens it).
 *
 * Design rules:
 *  1. The app's background scripts run in an extension page (resocket/background.html, or the app's own
 *     background page), opened in a minimised popup window. Not the MV3 service worker: legacy background
 *     scripts use window and document. Not an offscreen document: those only get chrome.runtime messaging,
 *     so no connectNative, chrome.storage or chrome.windows. An extension page has all of them, and every
 *     page of the extension shares its renderer process, so the background page is a plain window reference
 *     (chrome.extension.getViews) as it was for Chrome Apps.
 *  2. State lives in the background page only: the app windows registry, pending creates, onLaunched. Other
 *     pages call into the background page's runtime (`window.__resocketRuntime`) directly.
 *  3. One chrome.socket per app, as in Chrome Apps (socket ids are app-wide): app windows forward to the
 *     background page's chrome.socket, carrying chrome.runtime.lastError into their own callbacks and copying
 *     ArrayBuffers into their own realm.
 *  4. Nothing breaks silently: namespaces the conversion found missing are stubbed; every call logs an error
 *     and fails its callback with chrome.runtime.lastError.
 */
(function installAppRuntime(global) {
  'use strict';

  const app = global.__resocketApp || {};
  const BACKGROUND_PATH = '/' + (app.background || 'resocket/background.html');
  const isBackground = global.location.pathname === BACKGROUND_PATH;
  const isLaunchPage = global.location.pathname === '/' + (app.launch || 'resocket/launch.html');
  /** How long a page waits for the background page to open and run its scripts (a hang guard only). */
  const BACKGROUND_TIMEOUT_MS = 30000;
  const chrome = global.chrome;

  // ---- small helpers ----

  /** Define (or replace) obj[name]; extension API objects may hold lazy accessors that plain assignment misses. */
  function define(obj, name, value) {
    Object.defineProperty(obj, name, { value, configurable: true, writable: true, enumerable: true });
    return value;
  }

  function namespace(obj, name) {
    let ns;
    try { ns = obj[name]; } catch (err) { ns = undefined; }
    return (ns && typeof ns === 'object') ? ns : define(obj, name, {});
  }

  /** Run fn with chrome.runtime.lastError = {message} (same technique as chrome-socket.js). */
  function withLastError(message, fn) {
    if (!message) { fn(); return; }
    const runtime = chrome.runtime;
    const previous = Object.getOwnPropertyDescriptor(runtime, 'lastError');
    const error = { message: String(message) };
    let checked = false;
    Object.defineProperty(runtime, 'lastError', {
      configurable: true, enumerable: true, get() { checked = true; return error; },
    });
    try {
      fn();
    } finally {
      if (previous) Object.defineProperty(runtime, 'lastError', previous);
      else delete runtime.lastError;
      if (!checked) console.error(`Unchecked runtime.lastError: ${error.message}`);
    }
  }

  /** A chrome.events.Event look-alike that the runtime dispatches itself. */
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

  // ---- the background page ----

  function backgroundRuntime(view) {
    try { return view && view.__resocketRuntime; } catch (err) { return undefined; }
  }

  /** The background page's window if it is open (this window when we are it), else null. */
  function findBackground() {
    if (isBackground) return global;
    const views = chrome.extension && chrome.extension.getViews ? chrome.extension.getViews() : [];
    for (const view of views) {
      try { if (view.location.pathname === BACKGROUND_PATH) return view; } catch (err) { /* navigating */ }
    }
    return null;
  }

  let opening = null;
  /** The background page once its scripts ran (its load event), opening it first if needed. @returns {Promise<Window>} */
  function ensureBackground() {
    const ready = () => { const view = findBackground(); const rt = backgroundRuntime(view); return rt && rt.ready ? view : null; };
    const now = ready();
    if (now) return Promise.resolve(now);
    if (opening) return opening;
    opening = new Promise((resolve, reject) => {
      if (!findBackground()) {
        const url = chrome.runtime.getURL(BACKGROUND_PATH.slice(1));
        chrome.windows.create({ url, type: 'popup', state: 'minimized' }, () => {
          const err = chrome.runtime.lastError;
          // No windows (some embedders): a background tab does the same job.
          if (err) chrome.tabs.create({ url, active: false, pinned: true });
        });
      }
      const started = Date.now();
      const poll = () => {
        const view = ready();
        if (view) { opening = null; resolve(view); return; }
        if (Date.now() - started > BACKGROUND_TIMEOUT_MS) {
          opening = null;
          reject(new Error(`the background page ${BACKGROUND_PATH} did not start`));
          return;
        }
        setTimeout(poll, 25);
      };
      poll();
    });
    return opening;
  }

  // ---- app windows (state in the background page only) ----

  const appWindows = new Map(); // id -> AppWindow
  const pendingCreates = []; // {url, win, callback}
  let autoId = 0;

  const BOUNDS_KEYS = ['left', 'top', 'width', 'height'];

  /** chrome.app.window.AppWindow on top of a chrome.windows popup. */
  class AppWindow {
    constructor(id, url) {
      this.id = id;
      this.url = url;
      this.contentWindow = null;
      this.windowId = null;
      this.state = 'normal';
      this.onClosed = makeEvent('app.window.onClosed');
      this.onBoundsChanged = makeEvent('app.window.onBoundsChanged');
      this.onFullscreened = makeEvent('app.window.onFullscreened');
      this.onMaximized = makeEvent('app.window.onMaximized');
      this.onMinimized = makeEvent('app.window.onMinimized');
      this.onRestored = makeEvent('app.window.onRestored');
      this.innerBounds = this.makeBounds();
      this.outerBounds = this.innerBounds;
    }

    update(info) {
      if (this.windowId === null) return;
      chrome.windows.update(this.windowId, info, () => { void chrome.runtime.lastError; });
    }

    setState(state) {
      this.state = state;
      this.update({ state });
      const event = { minimized: this.onMinimized, maximized: this.onMaximized, fullscreen: this.onFullscreened,
        normal: this.onRestored }[state];
      if (event) setTimeout(() => event.dispatch(), 0);
    }

    makeBounds() {
      const win = this;
      const w = () => win.contentWindow || {};
      const bounds = {
        get left() { return w().screenX; }, get top() { return w().screenY; },
        get width() { return w().innerWidth; }, get height() { return w().innerHeight; },
        set left(v) { win.update({ left: v }); }, set top(v) { win.update({ top: v }); },
        set width(v) { win.update({ width: v }); }, set height(v) { win.update({ height: v }); },
        setPosition(left, top) { win.update({ left, top }); },
        setSize(width, height) { win.update({ width, height }); },
        setMinimumSize() {}, setMaximumSize() {},
        minWidth: null, minHeight: null, maxWidth: null, maxHeight: null,
      };
      return bounds;
    }

    focus() { this.update({ focused: true }); }
    fullscreen() { this.setState('fullscreen'); }
    isFullscreen() { return this.state === 'fullscreen'; }
    minimize() { this.setState('minimized'); }
    isMinimized() { return this.state === 'minimized'; }
    maximize() { this.setState('maximized'); }
    isMaximized() { return this.state === 'maximized'; }
    restore() { this.setState('normal'); }
    show() { this.setState('normal'); this.focus(); }
    hide() { this.minimize(); }
    drawAttention() { this.update({ drawAttention: true }); }
    clearAttention() { this.update({ drawAttention: false }); }
    setAlwaysOnTop() {}
    isAlwaysOnTop() { return false; }
    setVisibleOnAllWorkspaces() {}
    setInterceptAllKeys() {}
    getBounds() { const b = this.innerBounds; return { left: b.left, top: b.top, width: b.width, height: b.height }; }
    setBounds(b) {
      const info = {};
      for (const key of BOUNDS_KEYS) if (typeof (b || {})[key] === 'number') info[key] = b[key];
      this.update(info);
    }
    resizeTo(width, height) { this.update({ width, height }); }
    moveTo(left, top) { this.update({ left, top }); }
    close() {
      if (this.windowId !== null) chrome.windows.remove(this.windowId, () => { void chrome.runtime.lastError; });
      else if (this.contentWindow) this.contentWindow.close();
    }
  }

  function absoluteUrl(url) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(url)) return url;
    return new URL(String(url).replace(/^\/+/, ''), chrome.runtime.getURL('/')).href;
  }

  /**
   * The URL a window for `full` opens. convert-app left some HTML files unchanged (dataPages: data the app
   * serves or reads, no runtime scripts in them); one shown in a window anyway goes through the loader page
   * resocket/page.html, which adds the runtime scripts before the page's own (page.js).
   */
  function windowUrl(full) {
    const target = new URL(full);
    if (target.origin !== global.location.origin) return full;
    let path;
    try { path = decodeURIComponent(target.pathname.slice(1)); } catch (err) { return full; }
    if (!(app.dataPages || []).includes(path)) return full;
    return chrome.runtime.getURL(`resocket/page.html?src=${encodeURIComponent(target.pathname + target.search + target.hash)}`);
  }

  /** chrome.windows.create data from chrome.app.window.CreateWindowOptions (every generation of them). */
  function windowCreateData(url, options) {
    const data = { url, type: 'popup' };
    const b = Object.assign({}, options.bounds || {}, options.outerBounds || {}, options.innerBounds || {});
    for (const key of BOUNDS_KEYS) {
      const v = typeof options[key] === 'number' ? options[key] : b[key];
      if (typeof v === 'number') data[key] = Math.round(v);
    }
    const state = options.hidden ? 'minimized' : options.state;
    if (state && state !== 'normal') {
      // chrome.windows refuses bounds together with minimized/maximized/fullscreen.
      for (const key of BOUNDS_KEYS) delete data[key];
      data.state = state;
    } else if (options.focused === false) {
      data.focused = false;
    }
    return data;
  }

  /** chrome.app.window.create, running in the background page. */
  function createWindow(url, options, callback) {
    if (typeof options === 'function') { callback = options; options = undefined; }
    options = options || {};
    if (typeof url !== 'string') throw new TypeError('Error in invocation of app.window.create: url must be a string');
    const id = options.id !== undefined && options.id !== '' ? String(options.id) : `__resocket${++autoId}`;
    const existing = appWindows.get(id);
    if (existing) {
      // Chrome Apps: a window with this id exists -> it is focused and returned instead.
      existing.focus();
      if (callback) setTimeout(() => callback(existing), 0);
      return;
    }
    const full = absoluteUrl(url);
    const win = new AppWindow(id, full);
    win.state = options.hidden ? 'minimized' : (options.state || 'normal');
    appWindows.set(id, win);
    pendingCreates.push({ url: full, win, callback });
    chrome.windows.create(windowCreateData(windowUrl(full), options), (w) => {
      const err = chrome.runtime.lastError;
      if (err || !w) {
        console.error(`app.window.create(${url}): ${err ? err.message : 'no window'}`);
        appWindows.delete(id);
        const i = pendingCreates.findIndex((p) => p.win === win);
        if (i >= 0) pendingCreates.splice(i, 1);
        if (callback) withLastError(err ? err.message : 'Could not create window', () => callback(undefined));
        return;
      }
      win.windowId = w.id;
    });
  }

  /**
   * Called by an app window's runtime before its own scripts run: binds it to its AppWindow and runs the
   * create() callback now, so the callback can prepare contentWindow before the page's scripts, as in Chrome Apps.
   */
  function attachWindow(view) {
    const href = view.location.href;
    const bare = (u) => u.split(/[?#]/)[0];
    let i = pendingCreates.findIndex((p) => p.url === href);
    if (i < 0) i = pendingCreates.findIndex((p) => bare(p.url) === bare(href));
    let win;
    let callback;
    if (i >= 0) {
      ({ win, callback } = pendingCreates.splice(i, 1)[0]);
    } else {
      for (const w of appWindows.values()) if (w.contentWindow === view) win = w;
      if (!win) { win = new AppWindow(`__resocket${++autoId}`, href); appWindows.set(win.id, win); }
    }
    win.contentWindow = view;
    if (callback) {
      try { callback(win); } catch (err) { console.error('Error in response to app.window.create:', err); }
    }
    return win;
  }

  function windowRemoved(windowId) {
    for (const [id, win] of appWindows) {
      if (win.windowId === windowId) {
        appWindows.delete(id);
        win.onClosed.dispatch();
      }
    }
  }

  // ---- install: every page ----

  const appNs = namespace(chrome, 'app');
  const runtimeNs = namespace(appNs, 'runtime');
  const windowNs = namespace(appNs, 'window');
  const experimental = namespace(chrome, 'experimental');

  // app-filesystem.js (loaded next) builds on these.
  const rt = { ready: false, ensureBackground, findBackground, isBackground,
    util: { define, namespace, withLastError, makeEvent } };
  define(global, '__resocketRuntime', rt);

  if (isBackground) {
    const onLaunched = makeEvent('app.runtime.onLaunched');
    define(runtimeNs, 'onLaunched', onLaunched);
    define(runtimeNs, 'onRestarted', makeEvent('app.runtime.onRestarted'));
    define(runtimeNs, 'onEmbedRequested', makeEvent('app.runtime.onEmbedRequested'));
    Object.assign(rt, {
      createWindow, attachWindow, appWindows,
      /** Fire onLaunched in the background page's own task (the caller may be a closing launch page). */
      fireLaunched(data) {
        setTimeout(() => onLaunched.dispatch(Object.assign({ isKioskSession: false, isPublicSession: false,
          source: 'app_launcher' }, data || {})), 0);
      },
    });
    chrome.windows.onRemoved.addListener(windowRemoved);
    global.addEventListener('load', () => { rt.ready = true; });
  } else {
    for (const name of ['onLaunched', 'onRestarted', 'onEmbedRequested']) {
      define(runtimeNs, name, makeEvent(`app.runtime.${name}`));
    }
  }
  define(namespace(experimental, 'app'), 'onLaunched', runtimeNs.onLaunched);

  const bgNow = findBackground();
  const bgRt = backgroundRuntime(bgNow);
  let current = null;
  if (!isBackground && !isLaunchPage && bgRt && bgRt.attachWindow) current = bgRt.attachWindow(global);

  define(windowNs, 'create', function create(url, options, callback) {
    const bg = backgroundRuntime(findBackground());
    if (bg && bg.createWindow) { bg.createWindow(url, options, callback); return; }
    ensureBackground().then((view) => view.__resocketRuntime.createWindow(url, options, callback),
      (err) => console.error(`app.window.create: ${err.message}`));
  });
  define(windowNs, 'current', function currentWindow() { return current; });
  define(windowNs, 'getAll', function getAll() {
    const bg = backgroundRuntime(findBackground());
    return bg && bg.appWindows ? Array.from(bg.appWindows.values()) : [];
  });
  define(windowNs, 'get', function get(id) {
    const bg = backgroundRuntime(findBackground());
    return (bg && bg.appWindows && bg.appWindows.get(String(id))) || null;
  });
  define(windowNs, 'canSetVisibleOnAllWorkspaces', () => false);

  // chrome.runtime.getBackgroundPage / chrome.extension.getBackgroundPage: MV3 has no background page.
  define(chrome.runtime, 'getBackgroundPage', function getBackgroundPage(callback) {
    const p = ensureBackground();
    if (typeof callback !== 'function') return p;
    p.then((view) => callback(view), (err) => withLastError(err.message, () => callback(undefined)));
    return undefined;
  });
  if (chrome.extension) define(chrome.extension, 'getBackgroundPage', () => findBackground());

  // chrome.runtime.getPackageDirectoryEntry is native, but its entry belongs to the page that asked and dies with
  // it: a window's call is answered by the background page, so the entry outlives the window (rule 2).
  const nativePackageEntry = chrome.runtime.getPackageDirectoryEntry;
  if (!isBackground && typeof nativePackageEntry === 'function') {
    define(chrome.runtime, 'getPackageDirectoryEntry', function getPackageDirectoryEntry(callback) {
      ensureBackground().then((view) => view.chrome.runtime.getPackageDirectoryEntry((entry) => {
        const le = view.chrome.runtime.lastError;
        withLastError(le && le.message, () => { if (typeof callback === 'function') callback(entry); });
      }), (err) => withLastError(err.message, () => { if (typeof callback === 'function') callback(undefined); }));
    });
  }

  // ---- one chrome.socket per app (rule 3) ----
  if (!isBackground && bgNow && bgNow.chrome && bgNow.chrome.socket && bgNow.chrome.socket.__resocket) {
    const remote = bgNow.chrome.socket;
    const local = {};
    const ownRealm = (v) => {
      if (Object.prototype.toString.call(v) === '[object ArrayBuffer]') return new Uint8Array(v).slice().buffer;
      if (Array.isArray(v)) return v.map(ownRealm);
      if (v && typeof v === 'object') {
        const o = {};
        for (const k of Object.keys(v)) o[k] = ownRealm(v[k]);
        return o;
      }
      return v;
    };
    for (const name of Object.keys(remote)) {
      if (typeof remote[name] !== 'function') continue;
      local[name] = function (...args) {
        const last = args.length - 1;
        if (last >= 0 && typeof args[last] === 'function') {
          const callback = args[last];
          args[last] = function (...values) {
            const le = bgNow.chrome.runtime.lastError;
            withLastError(le && le.message, () => callback(...values.map(ownRealm)));
          };
        }
        return remote[name](...args);
      };
      Object.defineProperty(local[name], 'name', { value: name });
    }
    Object.defineProperty(local, '__resocket', { value: remote.__resocket });
    define(chrome, 'socket', local);
    define(experimental, 'socket', local);
  }

  // ---- missing APIs fail loudly (rule 4) ----
  for (const path of app.missing || []) {
    const parts = path.split('.');
    let parent = chrome;
    for (const part of parts.slice(0, -1)) parent = namespace(parent, part);
    const leaf = parts[parts.length - 1];
    let exists;
    try { exists = parent[leaf]; } catch (err) { exists = undefined; }
    if (exists) continue;
    const message = (member) => `chrome.${path}.${member} is not available in this converted app ` +
      '(resocket convert-app: see resocket/report.json)';
    define(parent, leaf, new Proxy({}, {
      get(target, member) {
        if (typeof member !== 'string') return undefined;
        if (/^on[A-Z]/.test(member)) {
          const ev = makeEvent(`${path}.${member}`);
          const add = ev.addListener;
          ev.addListener = (fn) => { console.error(message(member)); add(fn); };
          return ev;
        }
        return function missingApi(...args) {
          console.error(message(member));
          const callback = args.reverse().find((a) => typeof a === 'function');
          if (callback) setTimeout(() => withLastError(message(member), () => callback()), 0);
          return undefined;
        };
      },
    }));
  }
})(typeof globalThis !== 'undefined' ? globalThis : this);
