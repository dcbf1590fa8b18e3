'use strict';
// Unit tests of extension/chrome-socket.js against a fake native port: argument forms, renderer TypeErrors,
// lastError, chunking, ordering, hello-first queueing, host failures and reconnection.
const test = require('node:test');
const assert = require('node:assert/strict');
const { loadExtensionShim, plain, settle } = require('./harness.js');

/** Shim with hello already answered. */
function readyShim(options) {
  const shim = loadExtensionShim(options);
  shim.chrome.socket.getNetworkList(() => {}); // opens the port
  shim.port().hello();
  shim.port().sent.length = 0;
  return shim;
}

/** Create a socket through the fake host and return the page-visible id. */
function createSocket(shim, hostId = 1, type = 'tcp') {
  let id;
  shim.chrome.socket.create(type, (info) => { id = info.socketId; });
  const req = shim.port().requests().at(-1);
  shim.port().reply({ id: req.id, args: [{ socketId: hostId }] });
  return id;
}

const lastRequest = (shim) => shim.port().requests().at(-1);

test('defines chrome.socket with all 21 methods, and chrome.experimental.socket as an alias', () => {
  const { chrome } = loadExtensionShim();
  const names = ['create', 'destroy', 'connect', 'bind', 'disconnect', 'read', 'write', 'recvFrom', 'sendTo',
    'listen', 'accept', 'setKeepAlive', 'setNoDelay', 'getInfo', 'getNetworkList', 'joinGroup', 'leaveGroup',
    'setMulticastTimeToLive', 'setMulticastLoopbackMode', 'getJoinedGroups', 'secure'];
  assert.deepEqual(Object.keys(chrome.socket).sort(), [...names].sort());
  assert.equal(chrome.experimental.socket, chrome.socket);
});

test('sends hello first and queues calls until the hello is answered', () => {
  const shim = loadExtensionShim();
  shim.chrome.socket.create('tcp', () => {});
  shim.chrome.socket.getNetworkList(() => {});
  const port = shim.port();
  assert.equal(port.name, 'org.resocket.host');
  assert.deepEqual(port.sent.map((m) => m.op), ['hello']);
  assert.deepEqual(port.sent[0].args,
    { protocol: 1, client: 'resocket-extension/0.1.0', batch: true, writeBehind: true, wideWindows: true });
  port.hello();
  assert.deepEqual(port.sent.map((m) => m.op), ['hello', 'create', 'getNetworkList']);
  assert.equal(shim.ports.length, 1, 'one native port serves every call');
});

test('a batch frame is its messages in order: replies and events', () => {
  const shim = loadExtensionShim();
  shim.chrome.socket.getNetworkList(() => {});
  shim.port().hello();
  const got = [];
  shim.chrome.socket.create('tcp', (info) => got.push(['create', info.socketId]));
  shim.chrome.socket.getInfo(1, (info) => got.push(['getInfo', info && info.connected]));
  const [create, getInfo] = shim.port().requests().slice(-2);
  shim.port().reply({ batch: [{ id: create.id, args: [{ socketId: 9 }] }, { event: 'tcp.unknownEvent', args: [{}] },
    { id: getInfo.id, args: [{ socketType: 'tcp', connected: false }] }] });
  assert.deepEqual(got, [['create', 1], ['getInfo', false]]);
});

test('optional middle arguments may be left out or null', () => {
  const shim = readyShim();
  const s = shim.chrome.socket;
  const cb = () => {};
  const cases = [
    [() => s.create('tcp', cb), 'create', { type: 'tcp' }],
    [() => s.create('udp', null, cb), 'create', { type: 'udp' }],
    [() => s.create('udp', {}, cb), 'create', { type: 'udp', options: {} }],
    [() => s.read(0, cb), 'read', { socketId: 0 }],
    [() => s.read(0, null, cb), 'read', { socketId: 0 }],
    [() => s.read(0, 100, cb), 'read', { socketId: 0, bufferSize: 100 }],
    [() => s.recvFrom(0, cb), 'recvFrom', { socketId: 0 }],
    [() => s.recvFrom(0, 512, cb), 'recvFrom', { socketId: 0, bufferSize: 512 }],
    [() => s.listen(0, '127.0.0.1', 80, cb), 'listen', { socketId: 0, address: '127.0.0.1', port: 80 }],
    [() => s.listen(0, '127.0.0.1', 80, 9, cb), 'listen', { socketId: 0, address: '127.0.0.1', port: 80, backlog: 9 }],
    [() => s.setKeepAlive(0, true, cb), 'setKeepAlive', { socketId: 0, enable: true }],
    [() => s.setKeepAlive(0, true, 30, cb), 'setKeepAlive', { socketId: 0, enable: true, delay: 30 }],
    [() => s.secure(0, cb), 'secure', { socketId: 0 }],
    [() => s.secure(0, { tlsVersion: { min: 'tls1.2' } }, cb), 'secure', { socketId: 0, options: { tlsVersion: { min: 'tls1.2' } } }],
    [() => s.destroy(0), 'destroy', { socketId: 0 }],
    [() => s.disconnect(0), 'disconnect', { socketId: 0 }],
    [() => s.getNetworkList(cb), 'getNetworkList', {}],
  ];
  for (const [call, op, args] of cases) {
    call();
    const req = lastRequest(shim);
    assert.equal(req.op, op);
    assert.deepEqual(req.args, args, `${op} ${JSON.stringify(args)}`);
  }
});

test('wrong argument types or a missing callback throw Chrome\'s TypeError and send nothing', () => {
  const shim = readyShim();
  const s = shim.chrome.socket;
  const cb = () => {};
  const bad = [
    [() => s.connect(1, 'localhost', '80', cb), 'socket.connect(integer socketId, string hostname, integer port, function callback)'],
    [() => s.connect(1, 'localhost', 80), 'socket.connect(integer socketId, string hostname, integer port, function callback)'],
    [() => s.create(5, cb), 'socket.create(socket.SocketType type, optional socket.CreateOptions options, optional function callback)'],
    [() => s.create('tcp', 5), 'socket.create(socket.SocketType type, optional socket.CreateOptions options, optional function callback)'],
    [() => s.destroy(1, cb), 'socket.destroy(integer socketId)'],
    [() => s.disconnect('1'), 'socket.disconnect(integer socketId)'],
    [() => s.read(1.5, cb), 'socket.read(integer socketId, optional integer bufferSize, function callback)'],
    [() => s.read(1, '100', cb), 'socket.read(integer socketId, optional integer bufferSize, function callback)'],
    [() => s.write(1, 'text', cb), 'socket.write(integer socketId, binary data, function callback)'],
    // binary: a real ArrayBuffer or a view of one, never an object dressed up as one (Chromium 156)
    [() => s.write(1, Object.create(ArrayBuffer.prototype), cb), 'socket.write(integer socketId, binary data, function callback)'],
    [() => s.write(1, { [Symbol.toStringTag]: 'ArrayBuffer', byteLength: 4 }, cb), 'socket.write(integer socketId, binary data, function callback)'],
    [() => s.write(1, [1, 2], cb), 'socket.write(integer socketId, binary data, function callback)'],
    [() => s.setNoDelay(1, 1, cb), 'socket.setNoDelay(integer socketId, boolean noDelay, function callback)'],
    [() => s.getInfo(1, cb, cb), 'socket.getInfo(integer socketId, optional function callback)'],
    [() => s.getInfo(2 ** 31, cb), 'socket.getInfo(integer socketId, optional function callback)'],
    [() => s.getNetworkList(5), 'socket.getNetworkList(optional function callback)'],
    [() => s.connect(1, 'localhost', 80), 'socket.connect(integer socketId, string hostname, integer port, function callback)'],
    [() => s.secure(1), 'socket.secure(integer socketId, optional socket.SecureOptions options, function callback)'],
    [() => s.listen(1, '127.0.0.1', 80, 5, 6, cb), 'socket.listen(integer socketId, string address, integer port, optional integer backlog, function callback)'],
  ];
  for (const [call, signature] of bad) {
    assert.throws(call, (err) => {
      assert.equal(err.name, 'TypeError', `a TypeError for ${signature}`);
      assert.equal(err.message, `Error in invocation of ${signature}: No matching signature.`);
      return true;
    });
  }
  // An enum matches as a string; one that is no member is a parameter error (Chromium 156).
  for (const type of ['raw', 'TCP']) {
    assert.throws(() => s.create(type, cb), (err) => err.name === 'TypeError' && err.message ===
      'Error in invocation of socket.create(socket.SocketType type, optional socket.CreateOptions options, ' +
      'optional function callback): Error at parameter \'type\': Value must be one of tcp, udp.');
  }
  assert.deepEqual(shim.port().sent, []);
});

test('create, getInfo and getNetworkList without a callback give a Promise, as in Chromium 156', async () => {
  // Recorded through the Chrome App oracle, 2026-12-03: these three resolve or reject; every other method that
  // takes a callback throws "No matching signature." without one (above).
  const shim = readyShim();
  const s = shim.chrome.socket;
  const created = s.create('tcp');
  assert.equal(typeof created.then, 'function');
  shim.port().reply({ id: lastRequest(shim).id, args: [{ socketId: 4 }] });
  const { socketId } = await created;
  const list = s.getNetworkList();
  shim.port().reply({ id: lastRequest(shim).id, args: [[]] });
  assert.deepEqual(plain(await list), []);
  const info = s.getInfo(socketId);
  shim.port().reply({ id: lastRequest(shim).id, args: [], lastError: 'Socket not found' });
  await assert.rejects(info, (err) => err.message === 'Socket not found');
});

test('secure options of the wrong types throw the renderer\'s property errors, word for word, and send nothing', () => {
  // Chromium 156's Chrome App threw exactly these, recorded 2026-12-03 through the oracle (tests/e2e/oracle.py).
  const shim = readyShim();
  const s = shim.chrome.socket;
  const cb = () => {};
  const sig = 'Error in invocation of socket.secure(integer socketId, optional socket.SecureOptions options, ' +
    'function callback): Error at parameter \'options\': ';
  const bad = [
    [{ tlsVersion: 5 }, 'Error at property \'tlsVersion\': Invalid type: expected socket.TLSVersionConstraints, found integer.'],
    [{ tlsVersion: { min: 5 } }, 'Error at property \'tlsVersion\': Error at property \'min\': Invalid type: expected string, found integer.'],
    [{ tlsVersion: { max: [] } }, 'Error at property \'tlsVersion\': Error at property \'max\': Invalid type: expected string, found array.'],
    [{ other: 1 }, 'Unexpected property: \'other\'.'],
  ];
  for (const [options, why] of bad) {
    assert.throws(() => s.secure(1, options, cb), (err) => err.name === 'TypeError' && err.message === sig + why);
  }
  // CreateOptions has no properties: any is unexpected (also recorded); a number matches no signature.
  const create = 'Error in invocation of socket.create(socket.SocketType type, optional socket.CreateOptions options, ' +
    'optional function callback): ';
  assert.throws(() => s.create('tcp', { foo: 1 }, cb),
    (err) => err.message === `${create}Error at parameter 'options': Unexpected property: 'foo'.`);
  assert.throws(() => s.create('tcp', 5, cb), (err) => err.message === `${create}No matching signature.`);
  assert.deepEqual(shim.port().sent, []);
  // null means absent, as in Chrome (which secured both of these, and created a socket for the third).
  s.secure(1, { tlsVersion: null }, cb);
  s.secure(1, { tlsVersion: { min: null } }, cb);
  s.create('tcp', null, cb);
  assert.equal(shim.port().requests().length, 3);
});

test('each of Chrome\'s three error styles sets lastError only while the callback runs', () => {
  const shim = readyShim();
  const seen = [];
  const record = (label) => function (...args) {
    const le = shim.chrome.runtime.lastError;
    seen.push({ label, args: plain(args), argc: arguments.length, lastError: le && le.message });
  };
  shim.chrome.socket.connect(0, 'localhost', 80, record('value only'));
  const r1 = lastRequest(shim);
  shim.chrome.socket.connect(0, 'localhost', 80, record('value + lastError'));
  const r2 = lastRequest(shim);
  shim.chrome.socket.getInfo(0, record('lastError only'));
  const r3 = lastRequest(shim);
  shim.port().reply({ id: r1.id, args: [-102] });
  assert.equal(shim.chrome.runtime.lastError, undefined);
  shim.port().reply({ id: r2.id, args: [-1], lastError: 'Socket not found' });
  assert.equal(shim.chrome.runtime.lastError, undefined);
  assert.equal(Object.getOwnPropertyDescriptor(shim.runtime, 'lastError'), undefined, 'no property left behind');
  shim.port().reply({ id: r3.id, args: [], lastError: 'Socket not found' });
  assert.equal(shim.chrome.runtime.lastError, undefined);
  assert.deepEqual(seen, [
    { label: 'value only', args: [-102], argc: 1, lastError: undefined },
    { label: 'value + lastError', args: [-1], argc: 1, lastError: 'Socket not found' },
    { label: 'lastError only', args: [], argc: 0, lastError: 'Socket not found' },
  ]);
  assert.deepEqual(shim.logged, [], 'lastError was read, so nothing is logged as unchecked');
});

test('a lastError the callback never reads is logged as unchecked', () => {
  const shim = readyShim();
  shim.chrome.socket.getInfo(0, () => {});
  shim.port().reply({ id: lastRequest(shim).id, args: [], lastError: 'Socket not found' });
  assert.deepEqual(shim.logged, ['Unchecked runtime.lastError: Socket not found']);
});

test('a throwing callback does not stop later callbacks and leaves lastError cleared', () => {
  const shim = readyShim();
  const order = [];
  shim.chrome.socket.getInfo(0, () => { order.push('first'); throw new Error('app bug'); });
  const r1 = lastRequest(shim);
  shim.chrome.socket.getInfo(0, (info) => { order.push(`second:${shim.chrome.runtime.lastError}`); });
  const r2 = lastRequest(shim);
  shim.port().reply({ id: r1.id, args: [], lastError: 'Socket not found' });
  shim.port().reply({ id: r2.id, args: [{ socketType: 'tcp', connected: false }] });
  assert.deepEqual(order, ['first', 'second:undefined']);
  assert.ok(shim.logged.some((line) => line.includes('app bug')));
});

test('socket ids from create and accept are the page\'s own and are translated for the host', () => {
  const shim = readyShim();
  const listener = createSocket(shim, 7);
  assert.equal(listener, 1);
  let accepted;
  shim.chrome.socket.accept(listener, (info) => { accepted = plain(info); });
  assert.deepEqual(lastRequest(shim).args, { socketId: 7 });
  shim.port().reply({ id: lastRequest(shim).id, args: [{ resultCode: 0, socketId: 8 }] });
  assert.deepEqual(accepted, { resultCode: 0, socketId: 2 });
  shim.chrome.socket.setNoDelay(accepted.socketId, true, () => {});
  assert.deepEqual(lastRequest(shim).args, { socketId: 8, noDelay: true });
  shim.chrome.socket.destroy(accepted.socketId);
  assert.deepEqual(lastRequest(shim).args, { socketId: 8 });
  shim.chrome.socket.getInfo(accepted.socketId, () => {});
  assert.deepEqual(lastRequest(shim).args, { socketId: 0 }, 'a destroyed id is sent as 0, which the host never allocates');
});

test('a write over 64 KiB is sent as 63 KiB chunk frames followed by the request, and the bytes survive', () => {
  for (const fastBase64 of [false, true]) {
    const shim = readyShim({ fastBase64 });
    const id = createSocket(shim, 3);
    const size = 63 * 1024 * 2 + 1000;
    const bytes = new Uint8Array(size).map((_, i) => (i * 31 + 7) & 0xff);
    let result;
    shim.chrome.socket.write(id, bytes.buffer, (info) => { result = plain(info); });
    bytes.fill(0); // the caller reusing its buffer must not change what was sent
    const frames = shim.port().sent.filter((m) => m.op !== 'create');
    assert.equal(frames.length, 3);
    const [c1, c2, req] = frames;
    assert.equal(c1.id, req.id);
    assert.equal(c2.id, req.id);
    assert.equal(req.op, 'write');
    assert.equal(req.args.socketId, 3);
    assert.equal(Buffer.from(c1.chunk, 'base64').length, 63 * 1024);
    assert.equal(Buffer.from(c2.chunk, 'base64').length, 63 * 1024);
    const sent = Buffer.concat([c1.chunk, c2.chunk, req.args.data].map((b) => Buffer.from(b, 'base64')));
    const expected = Buffer.from(new Uint8Array(size).map((_, i) => (i * 31 + 7) & 0xff));
    assert.ok(sent.equals(expected));
    assert.equal(c1.chunk + c2.chunk + req.args.data, expected.toString('base64'));
    shim.port().reply({ id: req.id, args: [{ bytesWritten: size }] });
    assert.deepEqual(result, { bytesWritten: size });
    if (fastBase64) assert.ok(shim.context.__b64calls.to > 0, 'Uint8Array.prototype.toBase64 is used when present');
  }
});

test('a write of up to 64 KiB is one frame with base64 data', () => {
  const shim = readyShim();
  const id = createSocket(shim, 3);
  const bytes = new Uint8Array(64 * 1024).map((_, i) => i & 0xff);
  shim.chrome.socket.write(id, bytes.buffer, () => {});
  assert.equal(shim.port().sent.filter((m) => 'chunk' in m).length, 0);
  assert.ok(Buffer.from(lastRequest(shim).args.data, 'base64').equals(Buffer.from(bytes)));
});

test('a write or sendTo of an ArrayBuffer view sends the view\'s bytes, not its whole buffer (Chromium 156)', () => {
  const shim = readyShim();
  const id = createSocket(shim, 3);
  const buf = new TextEncoder().encode('0123456789').buffer;
  const sent = [];
  for (const view of [new Uint8Array(buf, 2, 5), new DataView(buf, 1, 3), new Uint16Array(buf, 4, 2)]) {
    shim.chrome.socket.write(id, view, () => {});
    sent.push(Buffer.from(lastRequest(shim).args.data, 'base64').toString());
  }
  shim.chrome.socket.sendTo(id, new Uint8Array(buf, 8), '127.0.0.1', 9, () => {});
  sent.push(Buffer.from(lastRequest(shim).args.data, 'base64').toString());
  assert.deepEqual(sent, ['23456', '123', '4567', '89']);
});

test('a small write is one frame with base64 data', () => {
  const shim = readyShim();
  const id = createSocket(shim, 3);
  shim.chrome.socket.write(id, new TextEncoder().encode('hi').buffer, () => {});
  assert.deepEqual(lastRequest(shim).args, { socketId: 3, data: 'aGk=' });
  assert.equal(shim.port().sent.filter((m) => 'chunk' in m).length, 0);
});

test('a split read is joined into one ArrayBuffer', () => {
  for (const fastBase64 of [false, true]) {
    const shim = readyShim({ fastBase64 });
    const id = createSocket(shim, 3);
    let info;
    shim.chrome.socket.read(id, 200000, (r) => { info = r; });
    const req = lastRequest(shim);
    const all = Buffer.from(new Uint8Array(100001).map((_, i) => i % 251));
    shim.port().reply({ id: req.id, chunk: all.subarray(0, 49152).toString('base64') });
    shim.port().reply({ id: req.id, chunk: all.subarray(49152, 98305).toString('base64') }); // not a multiple of 3
    assert.equal(info, undefined, 'no callback before the final reply');
    shim.port().reply({ id: req.id, args: [{ resultCode: 100001, data: all.subarray(98305).toString('base64') }] });
    assert.equal(info.resultCode, 100001);
    assert.equal(Object.prototype.toString.call(info.data), '[object ArrayBuffer]');
    assert.ok(Buffer.from(new Uint8Array(info.data)).equals(all));
  }
});

test('read and recvFrom results carry ArrayBuffers, empty when there is no data', () => {
  const shim = readyShim();
  const results = [];
  shim.chrome.socket.recvFrom(0, (r) => results.push(r));
  shim.port().reply({ id: lastRequest(shim).id, args: [{ resultCode: 2, data: 'aGk=', address: '127.0.0.1', port: 5 }] });
  shim.chrome.socket.read(0, (r) => results.push(r));
  shim.port().reply({ id: lastRequest(shim).id, args: [{ resultCode: -1, data: '' }], lastError: 'Socket not found' });
  assert.equal(new TextDecoder().decode(new Uint8Array(results[0].data)), 'hi');
  assert.equal(results[0].address, '127.0.0.1');
  assert.equal(results[1].data.byteLength, 0);
  assert.equal(Object.prototype.toString.call(results[1].data), '[object ArrayBuffer]');
});

test('callbacks run in the order the host replies', () => {
  const shim = readyShim();
  const order = [];
  shim.chrome.socket.read(0, () => order.push('read'));
  const read = lastRequest(shim);
  shim.chrome.socket.write(0, new ArrayBuffer(1), () => order.push('write'));
  const write = lastRequest(shim);
  shim.chrome.socket.getInfo(0, () => order.push('getInfo'));
  const info = lastRequest(shim);
  assert.ok(read.id < write.id && write.id < info.id, 'requests go out in issue order');
  shim.port().reply({ id: write.id, args: [{ bytesWritten: 1 }] });
  shim.port().reply({ id: info.id, args: [{ socketType: 'tcp', connected: true }] });
  shim.port().reply({ id: read.id, args: [{ resultCode: 0, data: '' }] });
  assert.deepEqual(order, ['write', 'getInfo', 'read']);
});

/** One call of every method with a callback, recording what its callback saw. */
function callEverything(s, record) {
  const ab = new ArrayBuffer(1);
  s.create('tcp', record('create'));
  s.connect(1, 'localhost', 80, record('connect'));
  s.bind(1, '127.0.0.1', 0, record('bind'));
  s.read(1, record('read'));
  s.write(1, ab, record('write'));
  s.recvFrom(1, record('recvFrom'));
  s.sendTo(1, ab, '127.0.0.1', 9, record('sendTo'));
  s.listen(1, '127.0.0.1', 0, record('listen'));
  s.accept(1, record('accept'));
  s.setKeepAlive(1, true, record('setKeepAlive'));
  s.setNoDelay(1, true, record('setNoDelay'));
  s.getInfo(1, record('getInfo'));
  s.getNetworkList(record('getNetworkList'));
  s.joinGroup(1, '224.0.0.1', record('joinGroup'));
  s.leaveGroup(1, '224.0.0.1', record('leaveGroup'));
  s.setMulticastTimeToLive(1, 1, record('setMulticastTimeToLive'));
  s.setMulticastLoopbackMode(1, true, record('setMulticastLoopbackMode'));
  s.getJoinedGroups(1, record('getJoinedGroups'));
  s.secure(1, record('secure'));
  s.destroy(1);
  s.disconnect(1);
}

const FAILURE_VALUES = {
  create: [{ socketId: -1 }],
  connect: [-1], bind: [-1],
  read: [{ resultCode: -1, data: 0 }],
  write: [{ bytesWritten: -1 }],
  recvFrom: [{ resultCode: -1, data: 0, address: '', port: 0 }],
  sendTo: [-1], listen: [-1],
  accept: [{ resultCode: -2 }],
  setKeepAlive: [false], setNoDelay: [false],
  getInfo: [], getNetworkList: [],
  joinGroup: [-1], leaveGroup: [-1], setMulticastTimeToLive: [-1], setMulticastLoopbackMode: [-1],
  getJoinedGroups: [-1], secure: [-4],
};

function recorder(shim, seen) {
  return (label) => (...args) => {
    const le = shim.chrome.runtime.lastError;
    const shown = args.map((a) => (a && typeof a === 'object' && 'data' in a ? { ...a, data: a.data.byteLength } : a));
    seen.push({ label, args: plain(shown), lastError: le && le.message });
  };
}

test('a missing host fails every call, in order, with the fix named and Chrome-shaped values', () => {
  const shim = loadExtensionShim();
  const seen = [];
  callEverything(shim.chrome.socket, recorder(shim, seen));
  assert.deepEqual(shim.port().requests(), [], 'nothing but hello is sent before the hello reply');
  shim.port().die('Specified native messaging host not found.');
  const message = 'resocket host not available (Specified native messaging host not found.): ' +
    'run `resocket install`, then `resocket doctor`';
  assert.deepEqual(seen.map((e) => e.label), Object.keys(FAILURE_VALUES));
  for (const entry of seen) {
    assert.deepEqual(entry.args, plain(FAILURE_VALUES[entry.label]), entry.label);
    assert.equal(entry.lastError, message, entry.label);
  }
  assert.equal(shim.chrome.runtime.lastError, undefined);
});

test('a host crash fails pending calls; the next call reconnects and old sockets are gone', () => {
  const shim = readyShim();
  const id = createSocket(shim, 1);
  const seen = [];
  shim.chrome.socket.read(id, recorder(shim, seen)('read'));
  shim.port().die('Native host has exited.');
  assert.deepEqual(seen, [{ label: 'read', args: [{ resultCode: -1, data: 0 }],
    lastError: 'resocket host not available (Native host has exited.): run `resocket doctor`; the sockets of that host are closed' }]);
  shim.chrome.socket.getInfo(id, recorder(shim, seen)('getInfo'));
  assert.equal(shim.ports.length, 2, 'a new native port is opened');
  const port = shim.port();
  assert.equal(port.sent[0].op, 'hello');
  port.hello();
  assert.deepEqual(port.requests().map((m) => [m.op, m.args]), [['getInfo', { socketId: 0 }]],
    'the dead host\'s socket id is sent as 0 so the new host answers "Socket not found"');
  port.reply({ id: port.requests()[0].id, args: [], lastError: 'Socket not found' });
  assert.deepEqual(seen[1], { label: 'getInfo', args: [], lastError: 'Socket not found' });
  const fresh = createSocket(shim, 1);
  assert.notEqual(fresh, id, 'page ids are never reused, even though the new host starts at 1 again');
});

test('a protocol mismatch fails every call with the host\'s message and closes the port', () => {
  const shim = loadExtensionShim();
  const seen = [];
  shim.chrome.socket.create('udp', recorder(shim, seen)('create'));
  const port = shim.port();
  port.reply({ id: port.sent[0].id, error: { code: 'protocol_mismatch',
    message: 'host speaks protocol 2, extension speaks 1: update the resocket extension' } });
  assert.deepEqual(seen, [{ label: 'create', args: [{ socketId: -1 }],
    lastError: 'resocket host speaks another protocol: host speaks protocol 2, extension speaks 1: update the resocket extension' }]);
  assert.ok(port.disconnected);
  assert.deepEqual(port.requests(), []);
  shim.chrome.socket.create('udp', recorder(shim, seen)('create again'));
  assert.equal(shim.ports.length, 2, 'a later call tries again (the host may have been updated)');
});

test('a protocol error on a call fails that call only', () => {
  const shim = readyShim();
  const seen = [];
  shim.chrome.socket.create('tcp', recorder(shim, seen)('create'));
  shim.port().reply({ id: lastRequest(shim).id, error: { code: 'too_many_sockets', message: 'at most 4096 sockets' } });
  assert.deepEqual(seen, [{ label: 'create', args: [{ socketId: -1 }], lastError: 'resocket: too_many_sockets: at most 4096 sockets' }]);
  shim.chrome.socket.getNetworkList(() => {});
  assert.equal(shim.ports.length, 1);
  assert.equal(lastRequest(shim).op, 'getNetworkList');
});

test('an origin with no grant: each call fails with its failure values and the host\'s message, no channel asked', async () => {
  const shim = loadExtensionShim();
  shim.context.WebSocket = function WebSocket() { throw new Error('no channel may be opened'); };
  const seen = [];
  shim.chrome.socket.create('tcp', recorder(shim, seen)('create'));
  const tcpCreate = shim.chrome.sockets.tcp.create();
  const port = shim.port();
  port.hello({ protocol: 1, host: 'resocket-host', version: '0.1.0', origin: 'http://localhost:8080', rules: [],
    granted: false });
  const message = 'resocket: http://localhost:8080 holds no grant, so its socket calls are refused: run ' +
    '`resocket grant http://localhost:8080 tcp-connect:HOST:PORT` (the rules it needs), then reload the page';
  assert.deepEqual(port.requests().map((m) => m.op), ['create', 'tcp.create'], 'no datachannel.open');
  for (const request of port.requests()) port.reply({ id: request.id, error: { code: 'not_granted', message } });
  assert.deepEqual(seen, [{ label: 'create', args: [{ socketId: -1 }], lastError: message }]);
  await assert.rejects(tcpCreate, (err) => err.message === message);
  shim.chrome.socket.connect(-1, '127.0.0.1', 80, recorder(shim, seen)('connect'));
  port.reply({ id: lastRequest(shim).id, error: { code: 'not_granted', message } });
  assert.deepEqual(seen[1], { label: 'connect', args: [-1], lastError: message });
  assert.equal(shim.ports.length, 1, 'the connection stays: a grant applies from the next page load');
});

test('connectNative throwing (no nativeMessaging permission) fails the call instead of throwing', async () => {
  const shim = loadExtensionShim();
  shim.runtime.connectNative = () => { throw new Error("'runtime.connectNative' is not available in this context."); };
  const seen = [];
  shim.chrome.socket.getInfo(1, recorder(shim, seen)('getInfo'));
  await new Promise((r) => setImmediate(r));
  assert.equal(seen.length, 1);
  assert.match(seen[0].lastError, /^resocket host not available \('runtime\.connectNative' is not available/);
});

test('a host that never answers hello fails the queued calls after 10 s, naming resocket doctor', () => {
  const shim = loadExtensionShim();
  const seen = [];
  shim.chrome.socket.create('tcp', recorder(shim, seen)('create'));
  shim.chrome.socket.getNetworkList(recorder(shim, seen)('getNetworkList'));
  const port = shim.port();
  assert.deepEqual(seen, [], 'nothing fails before the timeout');
  assert.deepEqual(shim.fireTimers(), [10000]);
  const message = 'resocket host did not answer hello within 10 s: run `resocket doctor`';
  assert.deepEqual(seen, [
    { label: 'create', args: [{ socketId: -1 }], lastError: message },
    { label: 'getNetworkList', args: [], lastError: message },
  ]);
  assert.ok(port.disconnected, 'the silent host\'s port is closed (Chrome then stops the host)');
  assert.deepEqual(port.requests(), [], 'the queued calls were never sent');
  shim.chrome.socket.getNetworkList(() => {});
  assert.equal(shim.ports.length, 2, 'the next call tries a new connection');
});

test('a hello answered in time cancels the hello timeout', () => {
  const shim = readyShim();
  assert.equal(shim.pendingTimers(), 0);
  const seen = [];
  shim.chrome.socket.create('tcp', recorder(shim, seen)('create'));
  shim.fireTimers();
  assert.deepEqual(seen, [], 'the call stays pending until the host replies');
  assert.ok(!shim.port().disconnected);
});

test('a second secure() while the first is in flight fails at once and removes the socket; the first is never called back (oracle secure_twice)', async () => {
  const shim = readyShim({ readAhead: false });
  const port = shim.port();
  const seen = [];
  const tls = createSocket(shim, 1);
  shim.chrome.socket.secure(tls, (code) => seen.push(['first', code, shim.chrome.runtime.lastError?.message]));
  const first = lastRequest(shim);
  shim.chrome.socket.secure(tls, (code) => seen.push(['second', code, shim.chrome.runtime.lastError?.message]));
  const destroy = lastRequest(shim);
  assert.deepEqual([destroy.op, destroy.args], ['destroy', { socketId: 1 }]); // the second never reaches the host
  await settle();
  assert.deepEqual(seen, [['second', -2, 'net::ERR_FAILED']]);
  port.reply({ id: first.id, args: [0] }); // the host finished the first handshake meanwhile: still dropped
  port.reply({ id: destroy.id, args: [] });
  const other = createSocket(shim, 2); // another socket's secure goes on as usual
  shim.chrome.socket.secure(other, (code) => seen.push(['other', code]));
  port.reply({ id: lastRequest(shim).id, args: [0] });
  shim.chrome.sockets.tcp.create({}, () => {});
  port.reply({ id: lastRequest(shim).id, args: [{ socketId: 5 }] });
  await settle();
  shim.chrome.sockets.tcp.secure(1, () => {});
  shim.chrome.sockets.tcp.secure(1, (code) => seen.push(['sockets second', code, shim.chrome.runtime.lastError?.message]));
  assert.deepEqual([lastRequest(shim).op, lastRequest(shim).args], ['tcp.close', { socketId: 5 }]);
  await settle();
  assert.deepEqual(seen, [['second', -2, 'net::ERR_FAILED'], ['other', 0], ['sockets second', -2, 'net::ERR_FAILED']]);
});

test('calls while secure() is in flight get what Chrome gives a socket mid-upgrade, whatever the host already did (oracle secure_busy)', async () => {
  const shim = readyShim({ readAhead: false });
  const port = shim.port();
  const seen = [];
  const s = createSocket(shim, 1);
  shim.chrome.socket.secure(s, (code) => seen.push(['secure', code]));
  const secure = lastRequest(shim);
  const sent = port.requests().length;
  shim.chrome.socket.read(s, (r) => seen.push(['read', r.resultCode]));
  shim.chrome.socket.write(s, new ArrayBuffer(3), (w) => seen.push(['write', w.bytesWritten]));
  shim.chrome.socket.setNoDelay(s, true, (ok) => seen.push(['setNoDelay', ok]));
  shim.chrome.socket.setKeepAlive(s, true, (ok) => seen.push(['setKeepAlive', ok]));
  shim.chrome.socket.getInfo(s, (i) => seen.push(['getInfo', i.socketType, i.connected]));
  const info = lastRequest(shim);
  assert.equal(port.requests().length, sent + 1); // only getInfo reached the host
  await settle();
  port.reply({ id: info.id, args: [{ socketType: 'udp', connected: true }] }); // the handshake was already done
  port.reply({ id: secure.id, args: [0] });
  await settle();
  assert.deepEqual(seen, [['read', -15], ['write', -15], ['setNoDelay', false], ['setKeepAlive', false],
    ['getInfo', 'tcp', true], ['secure', 0]]);
  // A disconnect the app made while its secure() was unanswered: never called back, even if the host succeeded.
  const t = createSocket(shim, 2);
  shim.chrome.socket.secure(t, (code) => seen.push(['cut secure', code]));
  const cut = lastRequest(shim);
  shim.chrome.socket.disconnect(t);
  port.reply({ id: cut.id, args: [0] });
  await settle();
  assert.equal(seen.length, 6);
});

test('disconnect or destroy: a connect, accept or secure the host cut short, and a UDP read, are never called back (quirks 6, 7)', async () => {
  const shim = readyShim({ readAhead: false });
  const port = shim.port();
  const seen = [];
  const reply = (req, args) => port.reply({ id: req.id, args });
  const tcp = createSocket(shim, 1);
  shim.chrome.socket.connect(tcp, '127.0.0.1', 9, (code) => seen.push(['connect', code]));
  const connect = lastRequest(shim);
  shim.chrome.socket.disconnect(tcp);
  reply(connect, [-3]); // the host's answer to a connect its disconnect cut short: Chrome never calls back
  const server = createSocket(shim, 2);
  shim.chrome.socket.accept(server, (info) => seen.push(['accept', info.resultCode]));
  const accept = lastRequest(shim);
  shim.chrome.socket.destroy(server);
  reply(accept, [{ resultCode: -3 }]);
  const refused = createSocket(shim, 3);
  shim.chrome.socket.connect(refused, '127.0.0.1', 9, (code) => seen.push(['refused', code]));
  const early = lastRequest(shim);
  shim.chrome.socket.disconnect(refused);
  reply(early, [-102]); // answered before the disconnect reached the host: Chrome calls it back too
  const udp = createSocket(shim, 4, 'udp');
  shim.chrome.socket.read(udp, (r) => seen.push(['udp read', r.resultCode]));
  const udpRead = lastRequest(shim);
  shim.chrome.socket.disconnect(udp);
  reply(udpRead, [{ resultCode: -100, data: '' }]);
  const stream = createSocket(shim, 5);
  shim.chrome.socket.read(stream, (r) => seen.push(['tcp read', r.resultCode]));
  const tcpRead = lastRequest(shim);
  shim.chrome.socket.disconnect(stream);
  reply(tcpRead, [{ resultCode: -100, data: '' }]); // a TCP read is called back, as in Chrome
  const tls = createSocket(shim, 6);
  shim.chrome.socket.secure(tls, (code) => seen.push(['secure', code]));
  const secure = lastRequest(shim);
  shim.chrome.socket.destroy(tls);
  port.reply({ id: secure.id, args: [-3], lastError: 'net::ERR_ABORTED' });
  await settle();
  assert.deepEqual(seen, [['refused', -102], ['tcp read', -100]]);
});

test('a reply or event the shim cannot decode fails only that call or event; the rest of the batch is delivered', async () => {
  const shim = readyShim({ readAhead: false });
  const sid = createSocket(shim, 1);
  const got = [];
  shim.chrome.socket.read(sid, 10, (r) => got.push(['read', r.resultCode, shim.chrome.runtime.lastError?.message]));
  const read = lastRequest(shim);
  shim.chrome.socket.read(createSocket(shim, 2), 10, (r) => got.push(['chunked read', r.resultCode]));
  const chunked = lastRequest(shim);
  shim.chrome.socket.getInfo(sid, (i) => got.push(['getInfo', i.connected]));
  const info = lastRequest(shim);
  shim.chrome.sockets.tcp.create({}, () => {});
  shim.port().reply({ id: lastRequest(shim).id, args: [{ socketId: 7 }] });
  await settle();
  shim.chrome.sockets.tcp.onReceive.addListener((i) => got.push(['onReceive', i.data.byteLength]));
  shim.port().reply({ batch: [{ id: read.id, args: [{ resultCode: 3, data: '!!!' }] },
    { id: chunked.id, chunk: '%%%' }, { id: chunked.id, args: [{ resultCode: 3, data: 'YWJj' }] },
    { event: 'tcp.onReceive', args: [{ socketId: 7, data: '!!' }] },
    { event: 'tcp.onReceive', args: [{ socketId: 7, data: 'YWJj' }] },
    { id: info.id, args: [{ socketType: 'tcp', connected: true }] }] });
  await settle();
  assert.equal(got.length, 4, JSON.stringify(got));
  assert.deepEqual([got[0].slice(0, 2), ...got.slice(1)],
    [['read', -1], ['chunked read', -1], ['onReceive', 3], ['getInfo', true]]);
  assert.match(got[0][2], /^resocket host sent a malformed reply: /);
  const reported = shim.logged.filter((line) => line.startsWith('resocket: a '));
  assert.equal(reported.length, 3, shim.logged.join('\n'));
});
