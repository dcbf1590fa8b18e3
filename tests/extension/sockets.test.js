'use strict';
// Unit tests of chrome.sockets.tcp / .tcpServer / .udp in extension/chrome-socket.js against a fake native
// port: signatures and renderer TypeErrors (wording copied from Chromium 156), per-namespace ids, event frames
// (id mapping, ArrayBuffer data, acknowledgement), chunked sends, optional callbacks and host failures.
const test = require('node:test');
const assert = require('node:assert/strict');
const vm = require('node:vm');
const { loadExtensionShim, plain, settle } = require('./harness.js');

function readyShim() {
  const shim = loadExtensionShim();
  shim.chrome.sockets.tcp.getSockets(() => {}); // opens the port
  shim.port().hello();
  shim.port().sent.length = 0;
  return shim;
}

const lastRequest = (shim) => shim.port().requests().at(-1);
const answer = (shim, args, lastError) => shim.port().reply(
  Object.assign({ id: lastRequest(shim).id, args }, lastError ? { lastError } : {}));

/** Create a socket in namespace `ns` through the fake host; returns the page-visible id. */
function create(shim, ns, hostId) {
  let id;
  shim.chrome.sockets[ns].create({}, (info) => { id = info.socketId; });
  answer(shim, [{ socketId: hostId }]);
  return id;
}

test('defines the three namespaces with Chrome 156\'s methods and events', () => {
  const { chrome } = loadExtensionShim();
  const keys = (o) => Object.keys(o).sort();
  assert.deepEqual(keys(chrome.sockets), ['tcp', 'tcpServer', 'udp']);
  assert.deepEqual(keys(chrome.sockets.tcp), ['DnsQueryType', 'close', 'connect', 'create', 'disconnect', 'getInfo',
    'getSockets', 'onReceive', 'onReceiveError', 'secure', 'send', 'setKeepAlive', 'setNoDelay', 'setPaused', 'update']);
  assert.deepEqual(keys(chrome.sockets.tcpServer), ['close', 'create', 'disconnect', 'getInfo', 'getSockets', 'listen',
    'onAccept', 'onAcceptError', 'setPaused', 'update']);
  assert.deepEqual(keys(chrome.sockets.udp), ['DnsQueryType', 'bind', 'close', 'create', 'getInfo', 'getJoinedGroups',
    'getSockets', 'joinGroup', 'leaveGroup', 'onReceive', 'onReceiveError', 'send', 'setBroadcast',
    'setMulticastLoopbackMode', 'setMulticastTimeToLive', 'setPaused', 'update']);
  assert.deepEqual(plain(chrome.sockets.udp.DnsQueryType), { ANY: 'any', IPV4: 'ipv4', IPV6: 'ipv6' });
  assert.deepEqual(keys(chrome.sockets.tcp.onReceive), ['addListener', 'dispatch', 'hasListener', 'hasListeners',
    'removeListener']);
});

test('a chrome.sockets the browser already has is left alone', () => {
  const shim = loadExtensionShim();
  const context = vm.createContext({ btoa, atob, setTimeout, clearTimeout,
    chrome: { runtime: { connectNative() { throw new Error('unused'); } }, sockets: { tcp: 'chrome\'s own' } } });
  vm.runInContext(require('node:fs').readFileSync(require.resolve('../../extension/chrome-socket.js'), 'utf8'), context);
  assert.equal(context.chrome.sockets.tcp, 'chrome\'s own');
  assert.equal(typeof context.chrome.socket.create, 'function');
  assert.equal(typeof shim.chrome.sockets.tcp.create, 'function');
});

test('wrong arguments throw the renderer\'s TypeError (Chromium 156 wording) and send nothing', () => {
  const shim = readyShim();
  const { tcp, tcpServer, udp } = shim.chrome.sockets;
  const cb = () => {};
  const sig = {
    send: 'sockets.tcp.send(integer socketId, binary data, function callback)',
    create: 'sockets.tcp.create(optional sockets.tcp.SocketProperties properties, optional function callback)',
    connect: 'sockets.tcp.connect(integer socketId, string peerAddress, integer peerPort, ' +
      'optional sockets.tcp.DnsQueryType dnsQueryType, function callback)',
    update: 'sockets.tcp.update(integer socketId, sockets.tcp.SocketProperties properties, optional function callback)',
    srvCreate: 'sockets.tcpServer.create(optional sockets.tcpServer.SocketProperties properties, ' +
      'optional function callback)',
    udpSend: 'sockets.udp.send(integer socketId, binary data, string address, integer port, ' +
      'optional sockets.udp.DnsQueryType dnsQueryType, function callback)',
    secure: 'sockets.tcp.secure(integer socketId, optional sockets.tcp.SecureOptions options, function callback)',
  };
  const cases = [
    [() => tcp.send(1, new ArrayBuffer(1)), `${sig.send}: No matching signature.`],
    [() => tcp.send(1, 'text', cb), `${sig.send}: No matching signature.`],
    [() => tcp.update(1, null, cb), `${sig.update}: No matching signature.`],
    [() => udp.send(1, new ArrayBuffer(1), '127.0.0.1', 70000.5, cb), `${sig.udpSend}: No matching signature.`],
    [() => tcp.create({ name: 5 }, cb), `${sig.create}: Error at parameter 'properties': Error at property 'name': ` +
      'Invalid type: expected string, found integer.'],
    [() => tcp.create({ bufferSize: 1.5 }, cb), `${sig.create}: Error at parameter 'properties': Error at property ` +
      '\'bufferSize\': Invalid type: expected integer, found number.'],
    [() => tcp.create({ foo: 5 }, cb), `${sig.create}: Error at parameter 'properties': Unexpected property: 'foo'.`],
    [() => tcpServer.create({ bufferSize: 5 }, cb), `${sig.srvCreate}: Error at parameter 'properties': ` +
      'Unexpected property: \'bufferSize\'.'],
    [() => tcp.connect(1, 'a', 1, 'bogus', cb), `${sig.connect}: Error at parameter 'dnsQueryType': ` +
      'Value must be one of any, ipv4, ipv6.'],
    [() => tcp.secure(1, { tlsVersion: 5 }, cb), `${sig.secure}: Error at parameter 'options': Error at property ` +
      '\'tlsVersion\': Invalid type: expected sockets.tcp.TLSVersionConstraints, found integer.'],
  ];
  for (const [call, message] of cases) {
    assert.throws(call, (err) => err.name === 'TypeError' && err.message === `Error in invocation of ${message}`);
  }
  assert.deepEqual(shim.port().requests(), []);
});

test('calls become "<namespace>.<method>" requests with named arguments', () => {
  const shim = readyShim();
  const { tcp, tcpServer, udp } = shim.chrome.sockets;
  const cb = () => {};
  const cases = [
    [() => tcp.create(cb), 'tcp.create', {}],
    [() => tcp.create({ name: 'n', persistent: true, bufferSize: 100 }, cb), 'tcp.create',
      { properties: { name: 'n', persistent: true, bufferSize: 100 } }],
    [() => tcp.connect(0, 'localhost', 80, cb), 'tcp.connect', { socketId: 0, peerAddress: 'localhost', peerPort: 80 }],
    [() => tcp.connect(0, 'localhost', 80, 'ipv4', cb), 'tcp.connect',
      { socketId: 0, peerAddress: 'localhost', peerPort: 80, dnsQueryType: 'ipv4' }],
    [() => tcp.setPaused(0, true), 'tcp.setPaused', { socketId: 0, paused: true }],
    [() => tcp.setKeepAlive(0, true, 5, cb), 'tcp.setKeepAlive', { socketId: 0, enable: true, delay: 5 }],
    [() => tcp.secure(0, { tlsVersion: { min: 'tls1.2' } }, cb), 'tcp.secure',
      { socketId: 0, options: { tlsVersion: { min: 'tls1.2' } } }],
    [() => tcpServer.listen(0, '127.0.0.1', 0, cb), 'tcpServer.listen', { socketId: 0, address: '127.0.0.1', port: 0 }],
    [() => tcpServer.listen(0, '127.0.0.1', 0, 3, cb), 'tcpServer.listen',
      { socketId: 0, address: '127.0.0.1', port: 0, backlog: 3 }],
    [() => udp.send(0, new Uint8Array([104, 105]).buffer, '127.0.0.1', 9, cb), 'udp.send',
      { socketId: 0, data: 'aGk=', address: '127.0.0.1', port: 9 }],
    [() => udp.setBroadcast(0, true, cb), 'udp.setBroadcast', { socketId: 0, enabled: true }],
    [() => udp.getJoinedGroups(0, cb), 'udp.getJoinedGroups', { socketId: 0 }],
    [() => tcpServer.getSockets(cb), 'tcpServer.getSockets', {}],
  ];
  for (const [call, op, args] of cases) {
    call();
    assert.equal(lastRequest(shim).op, op);
    assert.deepEqual(lastRequest(shim).args, args, op);
  }
});

test('each namespace numbers its own ids, and they are mapped to the host\'s', () => {
  const shim = readyShim();
  const { tcp, udp } = shim.chrome.sockets;
  assert.equal(create(shim, 'tcp', 1), 1);
  assert.equal(create(shim, 'udp', 1), 1);
  assert.equal(create(shim, 'tcp', 2), 2);
  let legacy;
  shim.chrome.socket.create('tcp', (info) => { legacy = info.socketId; });
  answer(shim, [{ socketId: 1 }]);
  assert.equal(legacy, 1, 'chrome.socket keeps its own counter');
  tcp.getInfo(2, () => {});
  assert.deepEqual(lastRequest(shim).args, { socketId: 2 });
  udp.close(1);
  udp.getInfo(1, () => {});
  assert.deepEqual(lastRequest(shim).args, { socketId: 0 }, 'a closed id is sent as 0 (the host: Socket not found)');
});

test('onReceive gets an ArrayBuffer and the page\'s id; the events are acknowledged after dispatch', async () => {
  const shim = readyShim();
  const id = create(shim, 'tcp', 1);
  const seen = [];
  const listener = (info) => {
    seen.push({ socketId: info.socketId, bytes: [...new Uint8Array(info.data)],
      isBuffer: Object.prototype.toString.call(info.data), acksSoFar: shim.port().requests().length });
  };
  shim.chrome.sockets.tcp.onReceive.addListener(listener);
  assert.equal(shim.chrome.sockets.tcp.onReceive.hasListener(listener), true);
  shim.port().sent.length = 0;
  shim.port().reply({ event: 'tcp.onReceive', args: [{ socketId: 1, data: 'aGk=' }] });
  shim.port().reply({ event: 'tcp.onReceive', args: [{ socketId: 1, data: '' }] });
  assert.deepEqual(seen, [
    { socketId: id, bytes: [104, 105], isBuffer: '[object ArrayBuffer]', acksSoFar: 0 },
    { socketId: id, bytes: [], isBuffer: '[object ArrayBuffer]', acksSoFar: 0 },
  ]);
  await settle();
  assert.deepEqual(shim.port().requests().map((r) => [r.op, r.args]),
    [['sockets.ack', { api: 'tcp', socketId: 1, count: 2 }]]);
  shim.chrome.sockets.tcp.onReceive.removeListener(listener);
  shim.port().reply({ event: 'tcp.onReceiveError', args: [{ socketId: 1, resultCode: -100 }] });
  assert.equal(seen.length, 2);
  await settle();
  assert.equal(shim.port().requests().length, 1, 'onReceiveError needs no acknowledgement');
});

test('an accepted connection joins chrome.sockets.tcp\'s ids; a udp datagram keeps its sender', async () => {
  const shim = readyShim();
  create(shim, 'tcp', 1);
  const server = create(shim, 'tcpServer', 1);
  const udpId = create(shim, 'udp', 1);
  const seen = [];
  shim.chrome.sockets.tcpServer.onAccept.addListener((info) => seen.push(plain(info)));
  shim.chrome.sockets.udp.onReceive.addListener((info) => seen.push({ ...plain(info), data: info.data.byteLength }));
  shim.port().reply({ event: 'tcpServer.onAccept', args: [{ socketId: 1, clientSocketId: 2 }] });
  shim.port().reply({ event: 'udp.onReceive',
    args: [{ socketId: 1, data: 'AAEC', remoteAddress: '127.0.0.1', remotePort: 5353 }] });
  assert.deepEqual(seen, [
    { socketId: server, clientSocketId: 2 },
    { socketId: udpId, data: 3, remoteAddress: '127.0.0.1', remotePort: 5353 },
  ]);
  shim.chrome.sockets.tcp.setPaused(2, false);
  assert.deepEqual(lastRequest(shim).args, { socketId: 2, paused: false });
  await settle();
  assert.deepEqual(shim.port().requests().filter((r) => r.op === 'sockets.ack').map((r) => r.args),
    [{ api: 'tcpServer', socketId: 1, count: 1 }, { api: 'udp', socketId: 1, count: 1 }]);
});

test('getInfo and getSockets show the page\'s ids after the host was replaced', () => {
  const shim = readyShim();
  create(shim, 'tcp', 1);
  shim.port().die('Native host has exited.');
  shim.chrome.sockets.tcp.getInfo(1, () => {});
  shim.port().hello();
  answer(shim, [], 'Socket not found');
  const id = create(shim, 'tcp', 1); // the new host numbers from 1 again; the page does not
  assert.equal(id, 2);
  let info;
  let list;
  shim.chrome.sockets.tcp.getInfo(id, (i) => { info = plain(i); });
  assert.deepEqual(lastRequest(shim).args, { socketId: 1 });
  answer(shim, [{ socketId: 1, persistent: false, paused: false, connected: false }]);
  shim.chrome.sockets.tcp.getSockets((l) => { list = plain(l); });
  answer(shim, [[{ socketId: 1, persistent: false, paused: false, connected: false }]]);
  assert.equal(info.socketId, id);
  assert.deepEqual(list.map((i) => i.socketId), [id]);
});

test('a large tcp.send goes as 63 KiB chunk frames and the bytes survive', () => {
  const shim = readyShim();
  const id = create(shim, 'tcp', 1);
  const data = new Uint8Array(63 * 1024 * 2 + 10).map((_, i) => (i * 7) & 0xff);
  let result;
  shim.chrome.sockets.tcp.send(id, data.buffer, (r) => { result = plain(r); });
  const frames = shim.port().sent.slice(-3);
  assert.deepEqual(frames.map((f) => (f.chunk ? 'chunk' : f.op)), ['chunk', 'chunk', 'tcp.send']);
  const joined = Buffer.from(frames[0].chunk + frames[1].chunk + frames[2].args.data, 'base64');
  assert.deepEqual([...joined], [...data]);
  answer(shim, [{ resultCode: 0, bytesSent: data.length }]);
  assert.deepEqual(result, { resultCode: 0, bytesSent: data.length });
});

test('an optional callback left out gives a Promise, rejected with the lastError text', async () => {
  const shim = readyShim();
  const info = shim.chrome.sockets.tcp.getInfo(7);
  answer(shim, [], 'Socket not found');
  await assert.rejects(info, (err) => err.message === 'Socket not found');
  const list = shim.chrome.sockets.udp.getSockets();
  answer(shim, [[]]);
  assert.deepEqual(plain(await list), []);
  assert.equal(shim.chrome.sockets.tcp.send(7, new ArrayBuffer(1), () => {}), undefined);
});

test('when the host dies, pending chrome.sockets calls fail at once with the fix named', async () => {
  const shim = readyShim();
  const id = create(shim, 'tcp', 1);
  const results = [];
  shim.chrome.sockets.tcp.connect(id, '127.0.0.1', 80, (r) => results.push([r, shim.runtime.lastError.message]));
  shim.chrome.sockets.tcp.send(id, new ArrayBuffer(1), (r) => results.push([plain(r), shim.runtime.lastError.message]));
  const closing = shim.chrome.sockets.tcp.close(id);
  shim.port().die('Specified native messaging host not found.');
  const message = 'resocket host not available (Specified native messaging host not found.): ' +
    'run `resocket install`, then `resocket doctor`';
  assert.deepEqual(results, [[-2, message], [{ resultCode: -2 }, message]]);
  await assert.rejects(closing, (err) => err.message === message);
});

test('events of a socket the page closed are dropped; an orphan accepted connection is closed', async () => {
  const shim = readyShim();
  const id = create(shim, 'tcp', 1);
  const server = create(shim, 'tcpServer', 1);
  let calls = 0;
  shim.chrome.sockets.tcp.onReceive.addListener(() => { calls += 1; });
  shim.chrome.sockets.tcpServer.onAccept.addListener(() => { calls += 1; });
  shim.chrome.sockets.tcp.close(id);
  shim.chrome.sockets.tcpServer.close(server);
  shim.port().sent.length = 0;
  shim.port().reply({ event: 'tcp.onReceive', args: [{ socketId: 1, data: 'aGk=' }] });
  shim.port().reply({ event: 'tcpServer.onAccept', args: [{ socketId: 1, clientSocketId: 2 }] });
  assert.equal(calls, 0);
  await settle();
  assert.deepEqual(shim.port().requests().map((r) => [r.op, r.args.socketId]),
    [['tcp.close', 2], ['sockets.ack', 1], ['sockets.ack', 1]]);
});

test('a throwing listener does not keep the others from the event', () => {
  const shim = readyShim();
  create(shim, 'udp', 1);
  const seen = [];
  shim.chrome.sockets.udp.onReceiveError.addListener(() => { throw new Error('app bug'); });
  shim.chrome.sockets.udp.onReceiveError.addListener((info) => seen.push(plain(info)));
  shim.port().reply({ event: 'udp.onReceiveError', args: [{ socketId: 1, resultCode: -142 }] });
  assert.deepEqual(seen, [{ socketId: 1, resultCode: -142 }]);
  assert.equal(shim.logged.length, 1);
  assert.match(shim.logged[0], /^Error in event handler: Error: app bug/);
});

test('objects reach the app with their keys in Chrome\'s (sorted) order: results, Promises, lists and events', async () => {
  const shim = readyShim();
  create(shim, 'tcp', 1);
  const seen = [];
  shim.chrome.sockets.tcp.getInfo(1, (info) => seen.push(Object.keys(info)));
  answer(shim, [{ socketId: 1, persistent: false, paused: false, connected: true, peerPort: 80, peerAddress: 'a' }]);
  shim.chrome.sockets.tcp.send(1, new ArrayBuffer(1), (info) => seen.push(Object.keys(info)));
  answer(shim, [{ resultCode: 0, bytesSent: 1 }]);
  shim.chrome.sockets.tcp.onReceiveError.addListener((info) => seen.push(Object.keys(info)));
  shim.port().reply({ event: 'tcp.onReceiveError', args: [{ socketId: 1, resultCode: -100 }] });
  const listed = shim.chrome.sockets.tcp.getSockets();
  answer(shim, [[{ socketId: 1, paused: true, connected: false, persistent: false }]]);
  seen.push((await listed).map((info) => Object.keys(info)));
  shim.chrome.socket.getNetworkList((list) => seen.push(list.map((entry) => Object.keys(entry))));
  answer(shim, [[{ name: 'eth0', prefixLength: 24, address: '10.0.0.2' }]]);
  assert.deepEqual(plain(seen), [
    ['connected', 'paused', 'peerAddress', 'peerPort', 'persistent', 'socketId'],
    ['bytesSent', 'resultCode'],
    ['resultCode', 'socketId'],
    [['connected', 'paused', 'persistent', 'socketId']],
    [['address', 'name', 'prefixLength']],
  ]);
});
