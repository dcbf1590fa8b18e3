'use strict';
// Read-ahead in the shim (docs/protocol.md, "Read-ahead") against a fake native port: the first read asks for
// a stream, later reads are answered from pushed bytes with Chrome's rules, acknowledgements keep the host's
// window open, and the end, disconnect, destroy, secure and a dying host each settle a waiting read once.
const test = require('node:test');
const assert = require('node:assert/strict');
const { loadExtensionShim, plain, settle } = require('./harness.js');

const WINDOW = 512 * 1024;

/** Shim whose host announced read-ahead, with hello answered and one connected TCP socket (host id 5). */
function streamingShim({ window = WINDOW } = {}) {
  const shim = loadExtensionShim();
  shim.chrome.socket.getNetworkList(() => {});
  shim.port().hello({ protocol: 1, host: 'resocket-host', version: '0.1.0', rules: [], readAhead: { window } });
  let id;
  shim.chrome.socket.create('tcp', (info) => { id = info.socketId; });
  shim.port().reply({ id: shim.port().requests().at(-1).id, args: [{ socketId: 5 }] });
  shim.port().sent.length = 0;
  return { shim, id, port: shim.port() };
}

const text = (buffer) => Buffer.from(new Uint8Array(buffer)).toString();
const b64 = (s) => Buffer.from(s).toString('base64');
const push = (port, stream, s) => port.reply({ event: 'socket.data', args: [{ socketId: 5, stream, data: b64(s) }] });
const end = (port, stream, resultCode) => port.reply({ event: 'socket.end', args: [{ socketId: 5, stream, resultCode }] });

/** The first read: sent with `stream: true`, answered by the host, which names the stream. */
function startStream({ shim, id, port }, first = 'first') {
  const got = [];
  shim.chrome.socket.read(id, 4096, (r) => got.push(text(r.data)));
  const req = port.requests().at(-1);
  assert.deepEqual([req.op, req.args], ['read', { socketId: 5, bufferSize: 4096, stream: true }]);
  port.reply({ id: req.id, args: [{ resultCode: first.length, data: b64(first), stream: req.id }] });
  assert.deepEqual(got, [first]);
  port.sent.length = 0;
  return req.id;
}

test('a host without read-ahead gets plain reads', () => {
  const shim = loadExtensionShim();
  shim.chrome.socket.getNetworkList(() => {});
  shim.port().hello();
  shim.chrome.socket.read(1, 10, () => {});
  assert.deepEqual(shim.port().requests().at(-1).args, { socketId: 0, bufferSize: 10 });
});

test('later reads are answered from pushed bytes, at most bufferSize each, without a request', async () => {
  const s = streamingShim();
  const stream = startStream(s);
  const got = [];
  const info = [];
  push(s.port, stream, 'hello world');
  s.shim.chrome.socket.read(s.id, 5, (r) => { got.push(text(r.data)); info.push(plain({ resultCode: r.resultCode, keys: Object.keys(r) })); });
  s.shim.chrome.socket.read(s.id, (r) => got.push(text(r.data))); // a second read while the first is delivered
  assert.deepEqual(got, [], 'callbacks are asynchronous, as Chrome\'s');
  await settle();
  assert.deepEqual(got, ['hello', ' world']);
  assert.deepEqual(info, [{ resultCode: 5, keys: ['data', 'resultCode'] }], 'no stream field reaches the app; keys in Chrome\'s order');
  assert.equal(s.port.requests().length, 0);
});

test('a read finding nothing waits for the next push; a second read meanwhile gets -1; bufferSize <= 0 gets -4', async () => {
  const s = streamingShim();
  const stream = startStream(s);
  const got = [];
  s.shim.chrome.socket.read(s.id, 100, (r) => got.push(['waiting', r.resultCode, text(r.data)]));
  s.shim.chrome.socket.read(s.id, 100, (r) => got.push(['second', r.resultCode]));
  await settle();
  assert.deepEqual(got, [['second', -1]]);
  push(s.port, stream, 'late');
  assert.deepEqual(got, [['second', -1], ['waiting', 4, 'late']]);
  s.shim.chrome.socket.read(s.id, 0, (r) => got.push(['zero', r.resultCode]));
  await settle();
  assert.deepEqual(got.at(-1), ['zero', -4]);
});

test('reads join pushed pieces up to bufferSize and the bytes come out in order', async () => {
  const s = streamingShim();
  const stream = startStream(s);
  for (const piece of ['ab', 'cde', 'f', 'ghij']) push(s.port, stream, piece);
  const got = [];
  for (const size of [4, 4, 4]) s.shim.chrome.socket.read(s.id, size, (r) => got.push(text(r.data)));
  await settle();
  assert.deepEqual(got, ['abcd', 'efgh', 'ij']);
});

test('consumed bytes are acknowledged with a socket.ack notice every quarter window', async () => {
  const s = streamingShim({ window: 4000 });
  const stream = startStream(s);
  push(s.port, stream, 'x'.repeat(2500));
  for (let i = 0; i < 5; i++) s.shim.chrome.socket.read(s.id, 500, () => {});
  await settle();
  const acks = s.port.sent.filter((m) => m.op === 'socket.ack');
  assert.deepEqual(acks, [
    { op: 'socket.ack', args: { socketId: 5, stream, consumed: 1000 } },
    { op: 'socket.ack', args: { socketId: 5, stream, consumed: 2000 } },
  ]);
  assert.ok(acks.every((m) => !('id' in m)), 'a notice has no id and gets no reply');
});

test('a stream granted a wide window is acknowledged every quarter of it; no window field reaches the app', async () => {
  const s = streamingShim({ window: 4000 });
  const got = [];
  s.shim.chrome.socket.read(s.id, 4096, (r) => got.push(plain(Object.keys(r))));
  const req = s.port.requests().at(-1);
  s.port.reply({ id: req.id, args: [{ resultCode: 2, data: b64('hi'), stream: req.id, window: 32000 }] });
  await settle();
  assert.deepEqual(got, [['data', 'resultCode']]);
  push(s.port, req.id, 'x'.repeat(17000));
  for (let i = 0; i < 17; i++) s.shim.chrome.socket.read(s.id, 1000, () => {});
  await settle();
  assert.deepEqual(s.port.sent.filter((m) => m.op === 'socket.ack').map((m) => m.args.consumed), [8000, 16000],
    'a quarter of 32000, not of the hello\'s 4000');
});

test('the end goes to the host after the last byte, which answers 0; later reads go to the host too', async () => {
  const s = streamingShim();
  const stream = startStream(s);
  push(s.port, stream, 'bye');
  end(s.port, stream, 0);
  const got = [];
  s.shim.chrome.socket.read(s.id, 100, (r) => got.push([r.resultCode, text(r.data)]));
  await settle();
  assert.deepEqual(got, [[3, 'bye']]);
  assert.equal(s.port.requests().length, 0);
  s.shim.chrome.socket.read(s.id, 100, (r) => got.push([r.resultCode, text(r.data)]));
  const req = s.port.requests().at(-1);
  assert.deepEqual([req.op, req.args], ['read', { socketId: 5, bufferSize: 100 }], 'no new stream is asked for');
  s.port.reply({ id: req.id, args: [{ resultCode: 0, data: '' }] });
  assert.deepEqual(got.at(-1), [0, '']);
});

test('a read waiting when the end arrives is sent to the host at once', () => {
  const s = streamingShim();
  const stream = startStream(s);
  const got = [];
  s.shim.chrome.socket.read(s.id, 100, (r) => got.push(r.resultCode));
  end(s.port, stream, 0);
  const req = s.port.requests().at(-1);
  assert.equal(req.op, 'read');
  s.port.reply({ id: req.id, args: [{ resultCode: 0, data: '' }] });
  assert.deepEqual(got, [0]);
});

test('the host ending the stream with -100 settles the waiting read with it', () => {
  const s = streamingShim();
  const stream = startStream(s);
  const got = [];
  s.shim.chrome.socket.read(s.id, 100, (r) => got.push(r.resultCode));
  end(s.port, stream, -100);
  assert.deepEqual(got, [-100]);
  s.shim.chrome.socket.read(s.id, 100, () => {});
  assert.equal(s.port.requests().at(-1).op, 'read', 'the stream is gone: the host answers (-15)');
});

test('disconnect drops unread bytes; a waiting read gets -100 just before disconnect\'s reply', () => {
  const s = streamingShim();
  const stream = startStream(s);
  const got = [];
  s.shim.chrome.socket.read(s.id, 100, (r) => got.push(r.resultCode));
  s.shim.chrome.socket.disconnect(s.id);
  push(s.port, stream, 'too late'); // in flight when the host closed it: dropped
  assert.deepEqual(got, []);
  const disconnect = s.port.requests().at(-1);
  assert.equal(disconnect.op, 'disconnect');
  s.port.reply({ id: disconnect.id, args: [] });
  assert.deepEqual(got, [-100]);
  s.shim.chrome.socket.read(s.id, 100, () => {});
  assert.deepEqual(s.port.requests().at(-1).args, { socketId: 5, bufferSize: 100, stream: true },
    'the next read asks for a stream again (the host answers it: -15 until a new connect)');
});

test('secure with a read waiting tells the host (readPending): Chrome\'s -2, the read -100 first', () => {
  const s = streamingShim();
  const stream = startStream(s);
  push(s.port, stream, 'plaintext nobody read');
  const got = [];
  const results = [];
  s.shim.chrome.socket.secure(s.id, (code) => results.push(['secure', code]));
  assert.deepEqual(s.port.requests().at(-1).args, { socketId: 5 }, 'no read waiting: a plain secure');
  s.port.reply({ id: s.port.requests().at(-1).id, args: [0] });
  const second = startStream(s, 'tls');
  s.shim.chrome.socket.read(s.id, 100, (r) => { got.push(r.resultCode); results.push(['read', r.resultCode]); });
  s.shim.chrome.socket.secure(s.id, (code) => results.push(['secure', code]));
  const req = s.port.requests().at(-1);
  assert.deepEqual([req.op, req.args], ['secure', { socketId: 5, readPending: true }]);
  s.port.reply({ id: req.id, args: [-2], lastError: 'net::ERR_FAILED' });
  assert.deepEqual(results, [['secure', 0], ['read', -100], ['secure', -2]]);
  assert.ok(second > stream);
});

test('a host that dies fails a waiting read with the others, in issue order', () => {
  const s = streamingShim();
  startStream(s);
  const order = [];
  s.shim.chrome.socket.read(s.id, 100, (r) => order.push(['read', r.resultCode]));
  s.shim.chrome.socket.getInfo(s.id, () => order.push(['getInfo']));
  s.port.die('Native host has exited.');
  assert.deepEqual(order, [['read', -1], ['getInfo']]);
});

test('events of an old stream are ignored', async () => {
  const s = streamingShim();
  const stream = startStream(s);
  push(s.port, stream + 1, 'not mine');
  end(s.port, stream + 1, -100);
  const got = [];
  s.shim.chrome.socket.read(s.id, 100, (r) => got.push(text(r.data)));
  push(s.port, stream, 'mine');
  await settle();
  assert.deepEqual(got, ['mine']);
});

test('resocketOptions.readAhead = false keeps every read on the host', () => {
  const shim = loadExtensionShim();
  shim.context.resocketOptions = { readAhead: false };
  shim.chrome.socket.getNetworkList(() => {});
  shim.port().hello({ protocol: 1, host: 'resocket-host', version: '0.1.0', rules: [], readAhead: { window: WINDOW } });
  shim.chrome.socket.read(1, 10, () => {});
  assert.deepEqual(shim.port().requests().at(-1).args, { socketId: 0, bufferSize: 10 });
});
