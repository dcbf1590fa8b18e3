'use strict';
// Loads extension/chrome-socket.js into a fresh vm context with a fake chrome.runtime.connectNative port
// (extension-page mode) or a fake window message bus (web-page mode). Pure-layer unit tests only; the real
// browser is exercised by the E2E suite.
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const SHIM_PATH = path.join(__dirname, '..', '..', 'extension', 'chrome-socket.js');
const SHIM_SOURCE = fs.readFileSync(SHIM_PATH, 'utf8');
const EXT_DIR = path.join(__dirname, '..', '..', 'extension');
const RELAY_PATH = path.join(EXT_DIR, 'relay.js');
const RELAY_SOURCE = fs.readFileSync(RELAY_PATH, 'utf8');

/** JSON round trip: turns objects of the vm realm into plain objects of this realm (for deepStrictEqual). */
const plain = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

/** A fake native port that records what the shim posts and lets the test reply or kill it. */
class FakePort {
  constructor(runtime, name) {
    this.runtime = runtime;
    this.name = name;
    this.sent = [];
    this.messageListeners = [];
    this.disconnectListeners = [];
    this.disconnected = false;
    this.onMessage = { addListener: (fn) => this.messageListeners.push(fn) };
    this.onDisconnect = { addListener: (fn) => this.disconnectListeners.push(fn) };
  }

  postMessage(msg) {
    if (this.disconnected) throw new Error('Attempting to use a disconnected port object');
    this.sent.push(plain(msg));
  }

  disconnect() { this.disconnected = true; }

  /** Deliver one host message as Chrome does (a JSON-parsed object). */
  reply(msg) { for (const fn of this.messageListeners) fn(JSON.parse(JSON.stringify(msg))); }

  /** Answer the hello (the first frame) with a protocol-1 result. */
  hello(result = { protocol: 1, host: 'resocket-host', version: '0.1.0', rules: [] }) {
    const hello = this.sent[0];
    if (!hello || hello.op !== 'hello') throw new Error('first frame is not hello');
    this.reply({ id: hello.id, result });
  }

  /** Close the port as Chrome does: lastError is an own property only while onDisconnect runs. */
  die(message) {
    this.disconnected = true;
    if (message !== undefined) {
      Object.defineProperty(this.runtime, 'lastError', { configurable: true, get: () => ({ message }) });
    }
    try { for (const fn of this.disconnectListeners) fn(this); } finally { delete this.runtime.lastError; }
  }

  /** Requests (not chunks, not hello) sent so far. */
  requests() { return this.sent.filter((m) => m.op && m.op !== 'hello'); }
}

/**
 * Load the shim in extension-page mode.
 * @param {{fastBase64?: boolean}} [options]
 */
function loadExtensionShim(options = {}) {
  const logged = [];
  const runtime = {};
  // Timers the test fires by hand (the shim's hello timeout); real ones would keep node alive for 10 s.
  const timers = new Map();
  let nextTimer = 1;
  const fakeSetTimeout = (fn, ms) => { const id = nextTimer++; timers.set(id, { fn, ms }); return id; };
  const fakeClearTimeout = (id) => { timers.delete(id); };
  /** Run every pending timer; returns the delays they were set with. */
  const fireTimers = () => {
    const all = [...timers.values()];
    timers.clear();
    all.forEach((t) => t.fn());
    return all.map((t) => t.ms);
  };
  const ports = [];
  runtime.connectNative = (name) => {
    const port = new FakePort(runtime, name);
    ports.push(port);
    return port;
  };
  const context = vm.createContext({
    console: { error: (...a) => logged.push(a.join(' ')), log() {}, warn() {} },
    btoa, atob, setTimeout: fakeSetTimeout, clearTimeout: fakeClearTimeout,
    chrome: { runtime },
  });
  if (options.fastBase64) {
    vm.runInContext(`
      globalThis.__b64calls = { to: 0, from: 0 };
      Uint8Array.prototype.toBase64 = function () { __b64calls.to++; let s = ''; for (const b of this) s += String.fromCharCode(b); return btoa(s); };
      Uint8Array.fromBase64 = function (t) { __b64calls.from++; const s = atob(t); const u = new Uint8Array(s.length); for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i); return u; };
    `, context);
  }
  vm.runInContext(SHIM_SOURCE, context, { filename: SHIM_PATH });
  return { context, chrome: context.chrome, runtime, ports, logged, port: () => ports[ports.length - 1],
    fireTimers, pendingTimers: () => timers.size };
}

/**
 * Load the shim in web-page mode: no chrome object, window.postMessage delivered asynchronously to
 * listeners with event.source === window, and timers the test fires by hand.
 */
function loadPageShim(options = {}) {
  const context = vm.createContext({ console: { error() {}, log() {}, warn() {} }, btoa, atob });
  vm.runInContext(`
    (() => {
      const listeners = new Set();
      const timers = new Map();
      let nextTimer = 1;
      globalThis.__posted = [];
      globalThis.addEventListener = (type, fn) => { if (type === 'message') listeners.add(fn); };
      globalThis.removeEventListener = (type, fn) => { listeners.delete(fn); };
      globalThis.postMessage = (data, target) => {
        const copy = JSON.parse(JSON.stringify(data));
        __posted.push(copy);
        Promise.resolve().then(() => { for (const fn of [...listeners]) fn({ data: copy, source: globalThis }); });
      };
      globalThis.setTimeout = (fn, ms) => { const id = nextTimer++; timers.set(id, fn); return id; };
      globalThis.clearTimeout = (id) => { timers.delete(id); };
      globalThis.__fireTimers = () => { const all = [...timers.values()]; timers.clear(); all.forEach((fn) => fn()); };
      globalThis.__listen = (fn) => listeners.add(fn);
      globalThis.__dispatch = (data, source) => { for (const fn of [...listeners]) fn({ data, source }); };
      globalThis.window = globalThis;
    })();
  `, context);
  const workerPorts = [];
  if (options.relay) {
    // The relay runs in the ISOLATED world in Chrome; here it shares the page's global, which is enough to
    // exercise the envelope. Its chrome.runtime.connect reaches a fake service-worker port.
    context.chrome = { runtime: { connect: (info) => {
      if (options.relay === 'invalidated') throw new Error('Extension context invalidated.');
      const port = new FakePort(context.chrome.runtime, info.name);
      workerPorts.push(port);
      return port;
    } } };
  }
  const load = (src, file) => vm.runInContext(src, context, { filename: file });
  if (options.relay === 'after') load(SHIM_SOURCE, SHIM_PATH);
  if (options.relay) load(RELAY_SOURCE, RELAY_PATH);
  if (options.relay !== 'after') load(SHIM_SOURCE, SHIM_PATH);
  return { context, chrome: context.chrome, workerPorts, workerPort: () => workerPorts[workerPorts.length - 1] };
}

/**
 * Load service-worker.js with fake chrome.runtime.onConnect / connectNative / permissions / scripting.
 * @returns {{connect: function(object): FakePort, nativePorts: FakePort[]}}
 */
function loadServiceWorker() {
  const onConnect = [];
  const nativePorts = [];
  const runtime = {
    id: 'flgdmcpaemonpacjpigcafobmllikoco',
    onConnect: { addListener: (fn) => onConnect.push(fn) },
    onInstalled: { addListener() {} },
    connectNative: (name) => { const p = new FakePort(runtime, name); nativePorts.push(p); return p; },
  };
  const context = vm.createContext({
    console: { error() {}, log() {}, warn() {} }, URL,
    chrome: { runtime, permissions: { onRemoved: { addListener() {} } } },
    importScripts: (...files) => files.forEach((f) => vm.runInContext(
      fs.readFileSync(path.join(EXT_DIR, f), 'utf8'), context, { filename: f })),
  });
  vm.runInContext(fs.readFileSync(path.join(EXT_DIR, 'service-worker.js'), 'utf8'), context, { filename: 'service-worker.js' });
  /** Connect a page port as relay.js would, with Chrome's sender info. */
  const connect = (sender) => {
    const page = new FakePort(runtime, 'resocket-page');
    page.sender = Object.assign({ id: runtime.id }, sender);
    for (const fn of onConnect) fn(page);
    return page;
  };
  return { connect, nativePorts, runtime };
}

/** Let queued microtasks and immediate tasks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

module.exports = { loadExtensionShim, loadPageShim, loadServiceWorker, plain, settle, FakePort };
