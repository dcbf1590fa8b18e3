'use strict';
// Web-page mode: chrome-socket.js in a page's MAIN world talking through relay.js, and the service worker
// that owns the native port and names the page's origin.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { loadPageShim, loadServiceWorker, plain, settle, FakePort } = require('./harness.js');

/** Reply to the relay's port the way the service worker does. */
const fromWorker = (port, msg) => port.reply({ kind: 'msg', msg });

test('a web page without chrome gets window.chrome, chrome.socket and chrome.runtime', () => {
  const { chrome } = loadPageShim();
  assert.equal(typeof chrome.socket.create, 'function');
  assert.equal(chrome.experimental.socket, chrome.socket);
  assert.equal(typeof chrome.runtime, 'object');
  assert.equal(chrome.runtime.lastError, undefined);
});

for (const order of ['before', 'after']) {
  test(`calls flow through the relay when it loads ${order} the shim, hello first`, async () => {
    const page = loadPageShim({ relay: order === 'before' ? true : 'after' });
    const seen = [];
    page.chrome.socket.create('tcp', (info) => seen.push(plain(info)));
    await settle();
    assert.equal(page.workerPorts.length, 1, 'exactly one link to the service worker');
    const port = page.workerPort();
    assert.equal(port.name, 'resocket-page');
    assert.deepEqual(port.sent.map((m) => m.op), ['hello']);
    fromWorker(port, { id: port.sent[0].id, result: { protocol: 1, rules: [] } });
    await settle();
    assert.deepEqual(port.sent.map((m) => m.op), ['hello', 'create']);
    fromWorker(port, { id: port.sent[1].id, args: [{ socketId: 4 }] });
    await settle();
    assert.deepEqual(seen, [{ socketId: 1 }]);
  });
}

test('a call made before the relay listens gets its hello through once the relay announces itself', async () => {
  // Chrome may run the MAIN-world shim, and the page's first call, before the ISOLATED-world relay exists.
  const page = loadPageShim();
  const seen = [];
  page.chrome.socket.create('tcp', (info) => seen.push(plain(info)));
  await settle(); // the first "open" and the hello went out with nobody listening
  const workerPorts = [];
  page.chrome.runtime.connect = (info) => {
    const port = new FakePort(page.chrome.runtime, info.name);
    workerPorts.push(port);
    return port;
  };
  vm.runInContext(fs.readFileSync(path.join(__dirname, '..', '..', 'extension', 'relay.js'), 'utf8'), page.context);
  await settle();
  assert.equal(workerPorts.length, 1);
  const port = workerPorts[0];
  assert.deepEqual(port.sent.map((m) => m.op), ['hello'], 'the re-sent open is followed by the hello, once');
  fromWorker(port, { id: port.sent[0].id, result: { protocol: 1, rules: [] } });
  await settle();
  assert.deepEqual(port.sent.map((m) => m.op), ['hello', 'create']);
  fromWorker(port, { id: port.sent[1].id, args: [{ socketId: 4 }] });
  await settle();
  assert.deepEqual(seen, [{ socketId: 1 }]);
});

test('a page sets lastError while its callback runs and clears it after', async () => {
  const page = loadPageShim({ relay: true });
  let during;
  page.chrome.socket.getInfo(3, function () { during = [arguments.length, page.chrome.runtime.lastError.message]; });
  await settle();
  const port = page.workerPort();
  fromWorker(port, { id: port.sent[0].id, result: { protocol: 1, rules: [] } });
  await settle();
  fromWorker(port, { id: port.sent[1].id, args: [], lastError: 'Socket not found' });
  await settle();
  assert.deepEqual(during, [0, 'Socket not found']);
  assert.equal(page.chrome.runtime.lastError, undefined);
});

test('the host missing behind the service worker fails the page\'s calls with the fix named', async () => {
  const page = loadPageShim({ relay: true });
  const seen = [];
  page.chrome.socket.connect(1, 'localhost', 80, (r) => seen.push([r, page.chrome.runtime.lastError.message]));
  await settle();
  const port = page.workerPort();
  port.reply({ kind: 'closed', error: 'Specified native messaging host not found.' });
  port.die();
  await settle();
  assert.deepEqual(seen, [[-1, 'resocket host not available (Specified native messaging host not found.): run `resocket install`, then `resocket doctor`']]);
  page.chrome.socket.getNetworkList(() => {});
  await settle();
  assert.equal(page.workerPorts.length, 2, 'the next call opens a new link');
});

test('an invalidated extension context fails calls with "reload the page"', async () => {
  const page = loadPageShim({ relay: 'invalidated' });
  const seen = [];
  page.chrome.socket.getInfo(1, () => seen.push(page.chrome.runtime.lastError.message));
  await settle();
  assert.deepEqual(seen, ['resocket host not available (Extension context invalidated.): reload the page; ' +
    'if it persists, check that the resocket extension is enabled']);
});

test('with no relay in the page, calls fail once the wait for it ends instead of hanging', async () => {
  const page = loadPageShim();
  const seen = [];
  page.chrome.socket.create('udp', (info) => seen.push([plain(info), page.chrome.runtime.lastError.message]));
  await settle();
  assert.deepEqual(seen, []);
  page.context.__fireTimers();
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0][0], { socketId: -1 });
  assert.match(seen[0][1], /^resocket host not available \(resocket relay content script did not answer\): reload the page/);
});

test('messages from other windows are ignored by the shim and the relay', async () => {
  const page = loadPageShim({ relay: true });
  const seen = [];
  page.chrome.socket.getNetworkList((list) => seen.push(list));
  await settle();
  const port = page.workerPort();
  fromWorker(port, { id: port.sent[0].id, result: { protocol: 1, rules: [] } });
  await settle();
  const link = page.context.__posted.find((m) => m.type === 'open').link;
  const request = port.sent[1];
  const sentBefore = port.sent.length;
  const otherWindow = {};
  page.context.__dispatch({ channel: 'org.resocket.page/1', dir: 'up', link, type: 'msg', msg: { id: 99, op: 'ping' } }, otherWindow);
  page.context.__dispatch({ channel: 'org.resocket.page/1', dir: 'down', link, type: 'msg', msg: { id: request.id, args: [['forged']] } }, otherWindow);
  await settle();
  assert.equal(port.sent.length, sentBefore, 'the relay forwarded nothing from another window');
  assert.deepEqual(seen, [], 'the shim took no reply from another window');
  fromWorker(port, { id: request.id, args: [[]] });
  await settle();
  assert.deepEqual(plain(seen), [[]]);
});

test('the service worker opens one native port per page and names the sender\'s origin in hello', () => {
  const sw = loadServiceWorker();
  const page = sw.connect({ origin: 'http://localhost:8080', url: 'http://localhost:8080/app.html' });
  assert.equal(sw.nativePorts.length, 1);
  const native = sw.nativePorts[0];
  assert.equal(native.name, 'org.resocket.host');
  page.reply({ id: 1, op: 'hello', args: { protocol: 1, client: 'resocket-extension/0.1.0', origin: 'https://bank.example' } });
  assert.deepEqual(native.sent, [{ id: 1, op: 'hello', args: { protocol: 1, client: 'resocket-extension/0.1.0', origin: 'http://localhost:8080' } }],
    'the origin the page claims is replaced by the one Chrome reports');
  page.reply({ id: 2, op: 'ping' });
  native.reply({ id: 2, result: {} });
  assert.deepEqual(page.sent, [{ kind: 'msg', msg: { id: 2, result: {} } }]);
  const other = sw.connect({ url: 'http://127.0.0.1:9000/x?y' });
  other.reply({ id: 1, op: 'hello', args: { protocol: 1, client: 'c' } });
  assert.equal(sw.nativePorts.length, 2);
  assert.equal(sw.nativePorts[1].sent[0].args.origin, 'http://127.0.0.1:9000', 'origin from sender.url when sender.origin is absent');
});

test('the service worker closes the native port when the page goes, and tells the page when the host dies', () => {
  const sw = loadServiceWorker();
  const a = sw.connect({ origin: 'http://localhost:1' });
  a.die();
  assert.ok(sw.nativePorts[0].disconnected, 'page gone -> native port closed -> host closes its sockets');
  const b = sw.connect({ origin: 'http://localhost:2' });
  sw.nativePorts[1].die('Native host has exited.');
  assert.deepEqual(b.sent, [{ kind: 'closed', error: 'Native host has exited.' }]);
  assert.ok(b.disconnected);
});

test('the service worker refuses pages that are not http(s)', () => {
  const sw = loadServiceWorker();
  const page = sw.connect({ origin: 'null', url: 'file:///tmp/x.html' });
  assert.equal(sw.nativePorts.length, 0);
  assert.ok(page.disconnected);
  assert.match(page.sent[0].error, /http and https/);
});

test('a page hidden into the back/forward cache gets its pending calls failed and reconnects when shown', async () => {
  // Chrome closes the relay's port at pagehide without an onDisconnect; the relay closes its links itself.
  const page = loadPageShim();
  const pageEvents = new Map();
  const addEventListener = page.context.addEventListener;
  page.context.addEventListener = (type, fn) => {
    if (type === 'pagehide' || type === 'pageshow') pageEvents.set(type, fn);
    else addEventListener(type, fn);
  };
  const workerPorts = [];
  page.chrome.runtime.connect = (info) => {
    const port = new FakePort(page.chrome.runtime, info.name);
    workerPorts.push(port);
    return port;
  };
  vm.runInContext(fs.readFileSync(path.join(__dirname, '..', '..', 'extension', 'relay.js'), 'utf8'), page.context);
  const seen = [];
  page.chrome.socket.read(1, (r) => seen.push([r.resultCode, page.chrome.runtime.lastError.message]));
  await settle();
  const port = workerPorts[0];
  fromWorker(port, { id: port.sent[0].id, result: { protocol: 1, rules: [] } });
  await settle();
  assert.deepEqual(port.sent.map((m) => m.op), ['hello', 'read']);
  pageEvents.get('pagehide')({ persisted: true });
  await settle();
  assert.ok(port.disconnected);
  assert.deepEqual(seen, [[-1, 'resocket host not available (the page was put in the back/forward cache, which ' +
    'closed its connection): the sockets of that page were closed; its next call reconnects']]);
  pageEvents.get('pageshow')({ persisted: true });
  page.chrome.socket.getNetworkList(() => {});
  await settle();
  assert.equal(workerPorts.length, 2, 'the next call opens a new link');
  assert.deepEqual(workerPorts[1].sent.map((m) => m.op), ['hello']);
});
