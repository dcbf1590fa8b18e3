'use strict';
// Unit tests of the data channel in extension/chrome-socket.js (docs/protocol.md, "Data channel") against a
// fake native port and a fake WebSocket: when it opens, which calls use it, reads through it, and the
// fallbacks (no channel, a channel that never opens, a channel that dies with writes in flight).
const test = require('node:test');
const assert = require('node:assert/strict');
const { loadExtensionShim, plain } = require('./harness.js');

const URL_ = 'ws://127.0.0.1:41235/';
const TOKEN = 'T'.repeat(43);

/** A WebSocket the test drives: open(), serverSend(), serverClose(); records what the shim sends. */
function fakeWebSocketClass(shim) {
  return class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = []; // {ref, bytes, requestsBefore}
      this.requests = []; // request records: {request, bytes, requestsBefore}
      this.messages = 0; // WebSocket messages that carried request records
      this.raw = []; // every message that is no record, whole: {bytes, requestsBefore}
      this.kinds = []; // 'records' | 'raw', in send order
      this.closedByClient = false;
      shim.sockets.push(this);
    }

    send(message) {
      if (this.readyState !== 1) return; // a closing WebSocket drops data, as browsers do
      const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
      if (view.getUint32(0) === 0xffffffff && view.getUint32(4) === 0xffffffff) { // request records
        this.messages += 1;
        this.kinds.push('records');
        for (let at = 0; at < message.byteLength;) {
          assert.equal(view.getUint32(at), 0xffffffff);
          assert.equal(view.getUint32(at + 4), 0xffffffff);
          const size = view.getUint32(at + 8);
          const length = view.getUint32(at + 12);
          const request = JSON.parse(Buffer.from(message.subarray(at + 16, at + 16 + size)).toString());
          const bytes = Buffer.from(message.subarray(at + 16 + size, at + 16 + size + length));
          this.requests.push({ request, bytes, requestsBefore: shim.port().sent.length });
          at += 16 + size + length;
        }
        return;
      }
      this.kinds.push('raw');
      this.raw.push({ bytes: Buffer.from(message), requestsBefore: shim.port().sent.length });
      const ref = view.getUint32(0) * 0x100000000 + view.getUint32(4);
      this.sent.push({ ref, bytes: Buffer.from(message.subarray(8)), requestsBefore: shim.port().sent.length });
    }

    close() { this.closedByClient = true; this.readyState = 3; }

    open() { this.readyState = 1; this.onopen({}); }

    serverSend(ref, bytes) {
      const message = new Uint8Array(8 + bytes.length);
      new DataView(message.buffer).setUint32(4, ref);
      message.set(bytes, 8);
      this.onmessage({ data: message.buffer });
    }

    /** One message of reply records: each 8 bytes 0xff, the JSON's length, the bytes' length, JSON, bytes. */
    serverReplies(...replies) {
      const parts = replies.map(([msg, bytes = Buffer.alloc(0)]) => {
        const text = Buffer.from(JSON.stringify(msg));
        const head = Buffer.alloc(16);
        head.writeUInt32BE(0xffffffff, 0);
        head.writeUInt32BE(0xffffffff, 4);
        head.writeUInt32BE(text.length, 8);
        head.writeUInt32BE(bytes.length, 12);
        return Buffer.concat([head, text, bytes]);
      });
      const message = new Uint8Array(Buffer.concat(parts));
      this.onmessage({ data: message.buffer });
    }

    serverReply(msg, bytes) { this.serverReplies([msg, bytes]); }

    serverClose() { this.readyState = 3; this.onclose({ code: 1006 }); }
  };
}

/** A shim whose page has WebSocket; `open` says how far the channel gets: 'open' | 'answered' | 'refused'. */
function channelShim({ open = 'open', knobs, requests = false, implicitWrites = false, hello } = {}) {
  const shim = loadExtensionShim();
  shim.sockets = [];
  shim.context.WebSocket = fakeWebSocketClass(shim);
  shim.context.TextEncoder = TextEncoder;
  shim.context.TextDecoder = TextDecoder;
  if (knobs) shim.context.resocketOptions = knobs;
  shim.chrome.socket.getNetworkList(() => {}); // opens the port
  const port = shim.port();
  port.hello(hello);
  const dc = port.sent.find((m) => m.op === 'datachannel.open');
  shim.openArgs = dc && dc.args;
  shim.ws = () => shim.sockets[shim.sockets.length - 1];
  if (open === 'refused') {
    port.reply({ id: dc.id, error: { code: 'unknown_op', message: 'unknown operation "datachannel.open"' } });
  } else {
    const result = requests ? { url: URL_, token: TOKEN, requests: true } : { url: URL_, token: TOKEN };
    if (implicitWrites) result.implicitWrites = true;
    port.reply({ id: dc.id, result });
    if (open === 'open') shim.ws().open();
  }
  port.sent.length = 0;
  return shim;
}

function createSocket(shim, hostId = 1) {
  let id;
  shim.chrome.socket.create('tcp', (info) => { id = info.socketId; });
  const req = shim.port().requests().at(-1);
  shim.port().reply({ id: req.id, args: [{ socketId: hostId }] });
  return id;
}

/** Lets the shim's end-of-task flush of channel request records run. */
const tick = () => new Promise((resolve) => setImmediate(resolve));
const bytes = (n, seed = 1) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 255; return b; };
const b64 = (u8) => Buffer.from(u8).toString('base64');
/** The bytes a request carries on native messaging (chunk frames + data), decoded. */
function nativeBytes(port, id) {
  const parts = port.sent.filter((m) => m.id === id).map((m) => (m.chunk !== undefined ? m.chunk : m.args.data));
  return Buffer.concat(parts.map((p) => Buffer.from(p, 'base64')));
}

test('after hello the shim asks for the data channel and connects to url + token with binary messages', () => {
  const shim = loadExtensionShim();
  shim.sockets = [];
  shim.context.WebSocket = fakeWebSocketClass(shim);
  shim.chrome.socket.create('tcp', () => {});
  const port = shim.port();
  assert.deepEqual(port.sent.map((m) => m.op), ['hello'], 'nothing but hello before the hello reply');
  port.hello();
  assert.deepEqual(port.sent.map((m) => m.op), ['hello', 'create', 'datachannel.open'], 'queued calls do not wait');
  const dc = port.sent[2];
  assert.equal(shim.sockets.length, 0);
  port.reply({ id: dc.id, result: { url: URL_, token: TOKEN } });
  assert.equal(shim.sockets.length, 1);
  assert.equal(shim.sockets[0].url, URL_ + TOKEN);
  assert.equal(shim.sockets[0].binaryType, 'arraybuffer');
});

test('without WebSocket, or with resocketOptions.dataChannel false, no data channel is asked for', () => {
  const plainShim = loadExtensionShim();
  plainShim.chrome.socket.create('tcp', () => {});
  plainShim.port().hello();
  assert.ok(!plainShim.port().sent.some((m) => m.op === 'datachannel.open'));

  const off = loadExtensionShim();
  off.sockets = [];
  off.context.WebSocket = fakeWebSocketClass(off);
  off.context.resocketOptions = { dataChannel: false };
  off.chrome.socket.create('tcp', () => {});
  off.port().hello();
  assert.ok(!off.port().sent.some((m) => m.op === 'datachannel.open'));
});

test('writes of 8 KiB and more send their bytes on the channel first, then the request with dataRef', () => {
  const shim = channelShim();
  const id = createSocket(shim);
  const port = shim.port();
  port.sent.length = 0;
  const small = bytes(8191);
  const big = bytes(8192, 2);
  const results = [];
  shim.chrome.socket.write(id, small.buffer, (r) => results.push(r.bytesWritten));
  shim.chrome.socket.write(id, big.buffer, (r) => results.push(r.bytesWritten));
  const [w1, w2] = port.requests();
  assert.equal(w1.args.data, b64(small), 'below the threshold: native messaging, base64');
  assert.equal(w2.args.data, undefined);
  assert.equal(typeof w2.args.dataRef, 'number');
  const ws = shim.ws();
  assert.equal(ws.sent.length, 1);
  assert.equal(ws.sent[0].ref, w2.args.dataRef);
  assert.deepEqual(ws.sent[0].bytes, Buffer.from(big));
  assert.ok(ws.sent[0].requestsBefore < port.sent.indexOf(port.sent.find((m) => m.id === w2.id)) + 1,
    'the bytes went out before the request that names them');
  port.reply({ id: w1.id, args: [{ bytesWritten: 8191 }] });
  port.reply({ id: w2.id, args: [{ bytesWritten: 8192 }] });
  assert.deepEqual(results, [8191, 8192]);
});

test('the threshold can be set by the page (resocketOptions.dataChannelMinBytes)', () => {
  const shim = channelShim({ knobs: { dataChannelMinBytes: 1 } });
  const id = createSocket(shim);
  shim.chrome.socket.write(id, bytes(64).buffer, () => {});
  assert.equal(shim.ws().sent.length, 1);
  assert.equal(typeof shim.port().requests().at(-1).args.dataRef, 'number');
});

test('an older host (unknown_op) means native messaging only, with chunk frames for big writes', () => {
  const shim = channelShim({ open: 'refused' });
  assert.equal(shim.sockets.length, 0);
  const id = createSocket(shim);
  const port = shim.port();
  port.sent.length = 0;
  const big = bytes(100000);
  shim.chrome.socket.write(id, big.buffer, () => {});
  const req = port.requests().at(-1);
  assert.equal(req.args.dataRef, undefined);
  assert.deepEqual(nativeBytes(port, req.id), Buffer.from(big));
  assert.ok(port.sent.some((m) => m.chunk !== undefined));
});

test('a channel that never opens (the host refused the connection) leaves every call on native messaging', () => {
  const shim = channelShim({ open: 'answered' });
  const id = createSocket(shim);
  const port = shim.port();
  shim.ws().serverClose(); // 403 -> error + close, never open
  port.sent.length = 0;
  const big = bytes(70000);
  let written;
  shim.chrome.socket.write(id, big.buffer, (r) => { written = r.bytesWritten; });
  shim.chrome.socket.read(id, 65536, () => {});
  const [write, read] = port.requests();
  assert.deepEqual(nativeBytes(port, write.id), Buffer.from(big));
  assert.equal(read.args.dataChannel, undefined);
  assert.equal(shim.ws().sent.length, 0);
  port.reply({ id: write.id, args: [{ bytesWritten: 70000 }] });
  assert.equal(written, 70000);
});

test('while a channel write is unanswered, later calls on that socket wait for it (reads do not)', () => {
  const shim = channelShim();
  const id = createSocket(shim, 1);
  const other = createSocket(shim, 2);
  const port = shim.port();
  port.sent.length = 0;
  const order = [];
  shim.chrome.socket.write(id, bytes(10000).buffer, () => order.push('write'));
  shim.chrome.socket.setNoDelay(id, true, () => order.push('setNoDelay'));
  shim.chrome.socket.read(id, 100, () => order.push('read'));
  shim.chrome.socket.setNoDelay(other, true, () => order.push('other'));
  assert.deepEqual(port.requests().map((m) => [m.op, m.args.socketId]),
    [['write', 1], ['read', 1], ['setNoDelay', 2]], 'setNoDelay on socket 1 waits behind the channel write');
  const [write] = port.requests();
  port.reply({ id: write.id, args: [{ bytesWritten: 10000 }] });
  const held = port.requests().at(-1);
  assert.deepEqual([held.op, held.args], ['setNoDelay', { socketId: 1, noDelay: true }]);
  port.reply({ id: held.id, args: [true] });
  assert.deepEqual(order, ['write', 'setNoDelay']);
});

test('the channel dies with writes in flight: they are resent on native messaging, in order, no call lost', () => {
  const shim = channelShim();
  const id = createSocket(shim);
  const port = shim.port();
  port.sent.length = 0;
  const payloads = [bytes(20000, 1), bytes(9000, 2), bytes(10, 3)];
  const results = [];
  payloads.forEach((p, i) => shim.chrome.socket.write(id, p.buffer, (r) => results.push([i, r.bytesWritten])));
  const ws = shim.ws();
  assert.equal(ws.sent.length, 3, 'the small write follows the big ones on the channel');
  ws.serverClose();
  const after = bytes(50, 4);
  shim.chrome.socket.write(id, after.buffer, (r) => results.push([3, r.bytesWritten]));
  assert.equal(port.requests().length, 3, 'a write issued after the channel closed waits for the ones in doubt');
  // The host had none of the bytes: it answers each `bad_args`, in order.
  const firsts = port.requests();
  for (const req of firsts) {
    port.reply({ id: req.id, error: { code: 'bad_args', message: `write: the data channel closed before the data of dataRef ${req.args.dataRef} arrived` } });
  }
  const resent = port.requests().slice(3);
  assert.equal(resent.length, 3);
  resent.forEach((req, i) => {
    assert.equal(req.args.dataRef, undefined);
    assert.deepEqual(nativeBytes(port, req.id), Buffer.from(payloads[i]), `resend ${i} carries its own bytes`);
  });
  assert.deepEqual(results, [], 'no callback saw the channel failure');
  resent.forEach((req, i) => port.reply({ id: req.id, args: [{ bytesWritten: payloads[i].length }] }));
  const last = port.requests().at(-1);
  assert.deepEqual(nativeBytes(port, last.id), Buffer.from(after), 'the held write went last');
  port.reply({ id: last.id, args: [{ bytesWritten: 50 }] });
  assert.deepEqual(results, [[0, 20000], [1, 9000], [2, 10], [3, 50]]);
});

test('a write whose bytes arrived before the channel died completes normally; the next one is resent', () => {
  const shim = channelShim();
  const id = createSocket(shim);
  const port = shim.port();
  port.sent.length = 0;
  const results = [];
  shim.chrome.socket.write(id, bytes(9000, 1).buffer, (r) => results.push(r.bytesWritten));
  shim.chrome.socket.write(id, bytes(9001, 2).buffer, (r) => results.push(r.bytesWritten));
  shim.ws().serverClose();
  const [w1, w2] = port.requests();
  port.reply({ id: w1.id, args: [{ bytesWritten: 9000 }] });
  port.reply({ id: w2.id, error: { code: 'bad_args', message: 'write: dataRef 2 names no data and the data channel is closed; send data instead' } });
  const resend = port.requests().at(-1);
  assert.deepEqual(nativeBytes(port, resend.id), Buffer.from(bytes(9001, 2)));
  port.reply({ id: resend.id, args: [{ bytesWritten: 9001 }] });
  assert.deepEqual(results, [9000, 9001]);
});

test('reads that may return 8 KiB or more ask for the channel; their bytes come from it, before or after the reply', () => {
  const shim = channelShim();
  const id = createSocket(shim);
  const port = shim.port();
  port.sent.length = 0;
  const got = [];
  const cb = (r) => got.push([r.resultCode, Buffer.from(r.data).toString('hex'), 'dataRef' in r]);
  shim.chrome.socket.read(id, 65536, cb);
  shim.chrome.socket.read(id, 65536, cb);
  shim.chrome.socket.read(id, cb); // Chrome's default 4096: native messaging
  const [r1, r2, r3] = port.requests();
  assert.equal(r1.args.dataChannel, true);
  assert.equal(r2.args.dataChannel, true);
  assert.equal(r3.args.dataChannel, undefined);
  shim.ws().serverSend(r1.id, Buffer.from('aabb', 'hex'));
  port.reply({ id: r1.id, args: [{ resultCode: 2, data: '', dataRef: r1.id }] });
  port.reply({ id: r2.id, args: [{ resultCode: 3, data: '', dataRef: r2.id }] });
  assert.equal(got.length, 1, 'a reply without its bytes waits for them');
  shim.ws().serverSend(r2.id, Buffer.from('ccddee', 'hex'));
  port.reply({ id: r3.id, args: [{ resultCode: 1, data: b64(Buffer.from('ff', 'hex')) }] });
  assert.deepEqual(got, [[2, 'aabb', false], [3, 'ccddee', false], [1, 'ff', false]]);
});

test('a read whose bytes are lost with the channel fails like a broken connection', () => {
  const shim = channelShim();
  const id = createSocket(shim);
  const port = shim.port();
  port.sent.length = 0;
  let result;
  shim.chrome.socket.read(id, 65536, (r) => { result = r; });
  const read = port.requests().at(-1);
  port.reply({ id: read.id, args: [{ resultCode: 5, data: '', dataRef: read.id }] });
  assert.equal(result, undefined);
  shim.ws().serverClose();
  assert.equal(result.resultCode, -2);
  assert.equal(result.data.byteLength, 0);
  shim.chrome.socket.read(id, 65536, () => {});
  assert.equal(port.requests().at(-1).args.dataChannel, undefined, 'later reads use native messaging');
});

test('when the host dies, calls held behind a channel write fail in issue order and the WebSocket is closed', () => {
  const shim = channelShim();
  const id = createSocket(shim);
  const order = [];
  shim.chrome.socket.write(id, bytes(10000).buffer, (r) => order.push(['write', r.bytesWritten]));
  shim.chrome.socket.setKeepAlive(id, true, (r) => order.push(['setKeepAlive', r]));
  shim.chrome.socket.read(id, 65536, (r) => order.push(['read', r.resultCode]));
  const ws = shim.ws();
  shim.port().die('Native host has exited.');
  assert.deepEqual(plain(order), [['write', -1], ['setKeepAlive', false], ['read', -1]]);
  assert.ok(ws.closedByClient);
});

test('chrome.sockets.tcp.send and udp.send use the channel too', () => {
  const shim = channelShim();
  const port = shim.port();
  let tcpId;
  shim.chrome.sockets.tcp.create({}, (i) => { tcpId = i.socketId; });
  port.reply({ id: port.requests().at(-1).id, args: [{ socketId: 7 }] });
  let udpId;
  shim.chrome.sockets.udp.create({}, (i) => { udpId = i.socketId; });
  port.reply({ id: port.requests().at(-1).id, args: [{ socketId: 8 }] });
  shim.chrome.sockets.tcp.send(tcpId, bytes(9000).buffer, () => {});
  const tcpSend = port.requests().at(-1);
  shim.chrome.sockets.udp.send(udpId, bytes(9000).buffer, '127.0.0.1', 9, () => {});
  const udpSend = port.requests().at(-1);
  assert.deepEqual([tcpSend.op, typeof tcpSend.args.dataRef, tcpSend.args.data], ['tcp.send', 'number', undefined]);
  assert.deepEqual([udpSend.op, typeof udpSend.args.dataRef, udpSend.args.address], ['udp.send', 'number', '127.0.0.1']);
  assert.equal(shim.ws().sent.length, 2);
});

// ---- requests on the channel (the host said `requests: true`; docs/protocol.md, "Requests on the channel") ----

test('with a host that takes requests on the channel, a big write is one channel message and is answered there', async () => {
  const shim = channelShim({ requests: true });
  const id = createSocket(shim);
  const port = shim.port();
  port.sent.length = 0;
  const results = [];
  const big = bytes(65536, 5);
  shim.chrome.socket.write(id, big.buffer, (r) => results.push(r.bytesWritten));
  await tick();
  assert.equal(port.sent.length, 0, 'nothing on native messaging');
  await tick();
  const [{ request, bytes: carried }] = shim.ws().requests;
  await tick();
  assert.equal(request.op, 'write');
  await tick();
  assert.equal(request.args.socketId, 1);
  await tick();
  assert.equal(typeof request.args.dataRef, 'number');
  await tick();
  assert.equal(request.args.data, undefined);
  await tick();
  assert.deepEqual(carried, Buffer.from(big), 'the bytes follow the JSON in the same message');
  await tick();
  shim.ws().serverReply({ id: request.id, args: [{ bytesWritten: 65536 }] });
  await tick();
  assert.deepEqual(results, [65536]);
});

test('a big write behind an unanswered native write of its socket names its bytes with dataRef instead', async () => {
  const shim = channelShim({ requests: true, knobs: { dataChannelRequestMinBytes: 8192 } });
  const id = createSocket(shim);
  const port = shim.port();
  port.sent.length = 0;
  const order = [];
  shim.chrome.socket.write(id, bytes(100).buffer, (r) => order.push(r.bytesWritten));
  shim.chrome.socket.write(id, bytes(9000).buffer, (r) => order.push(r.bytesWritten));
  await tick();
  const [small, big] = port.requests();
  await tick();
  assert.equal(small.args.data, b64(bytes(100)));
  await tick();
  assert.equal(typeof big.args.dataRef, 'number', 'ordered by native messaging behind the small write');
  await tick();
  assert.equal(shim.ws().requests.length, 0);
  await tick();
  port.reply({ id: small.id, args: [{ bytesWritten: 100 }] });
  await tick();
  port.reply({ id: big.id, args: [{ bytesWritten: 9000 }] });
  shim.chrome.socket.write(id, bytes(9000).buffer, (r) => order.push(r.bytesWritten));
  await tick();
  assert.equal(shim.ws().requests.length, 1, 'with nothing pending on native messaging it is a channel request again');
  await tick();
  shim.ws().serverReply({ id: shim.ws().requests[0].request.id, args: [{ bytesWritten: 9000 }] });
  await tick();
  assert.deepEqual(order, [100, 9000, 9000]);
});

test('while a socket has requests pending on the channel, its other calls follow them there (a disconnect cannot overtake a read)', async () => {
  const shim = channelShim({ requests: true });
  const id = createSocket(shim, 1);
  const other = createSocket(shim, 2);
  const port = shim.port();
  port.sent.length = 0;
  const order = [];
  shim.chrome.socket.read(id, 100, (r) => order.push(['read', r.resultCode]));
  shim.chrome.socket.disconnect(id);
  shim.chrome.socket.setNoDelay(other, true, () => order.push(['other']));
  await tick();
  assert.deepEqual(port.requests().map((m) => [m.op, m.args.socketId]), [['setNoDelay', 2]]);
  await tick();
  const [read, disconnect] = shim.ws().requests.map((m) => m.request);
  await tick();
  assert.deepEqual([read.op, disconnect.op, disconnect.args], ['read', 'disconnect', { socketId: 1 }]);
  await tick();
  shim.ws().serverReply({ id: disconnect.id, args: [] });
  await tick();
  shim.ws().serverReply({ id: read.id, args: [{ resultCode: -15, data: '' }] });
  await tick();
  assert.deepEqual(plain(order), [['read', -15]]);
  // Nothing of socket 1 pending any more: a small call goes back to native messaging.
  shim.chrome.socket.setNoDelay(id, true, () => order.push(['setNoDelay']));
  await tick();
  assert.deepEqual(port.requests().at(-1).args, { socketId: 1, noDelay: true });
});

test('big reads are channel requests answered with their bytes in one message; a socket keeps its reads on one path', async () => {
  const shim = channelShim({ requests: true, knobs: { dataChannelRequestMinBytes: 8192 } });
  const id = createSocket(shim);
  const port = shim.port();
  port.sent.length = 0;
  const got = [];
  const cb = (r) => got.push([r.resultCode, Buffer.from(r.data).toString('hex'), 'dataRef' in r]);
  shim.chrome.socket.read(id, 65536, cb);
  shim.chrome.socket.read(id, 100, cb); // small, but a read of this socket is on the channel: it follows it
  await tick();
  assert.equal(port.sent.length, 0);
  await tick();
  const [r1, r2] = shim.ws().requests.map((m) => m.request);
  await tick();
  assert.deepEqual([r1.op, r1.args.dataChannel, r2.op], ['read', true, 'read']);
  await tick();
  shim.ws().serverReply({ id: r1.id, args: [{ resultCode: 2, data: '', dataRef: r1.id }] }, Buffer.from('aabb', 'hex'));
  await tick();
  shim.ws().serverReply({ id: r2.id, args: [{ resultCode: -15, data: '' }] });
  await tick();
  assert.deepEqual(got, [[2, 'aabb', false], [-15, '', false]]);
  // A small read on native messaging first: the big one behind it stays there too (dataChannel: true).
  shim.chrome.socket.read(id, 100, cb);
  shim.chrome.socket.read(id, 65536, cb);
  await tick();
  assert.equal(shim.ws().requests.length, 2);
  await tick();
  const [n1, n2] = port.requests();
  await tick();
  assert.deepEqual([n1.args.dataChannel, n2.args.dataChannel], [undefined, true]);
});

test('channel requests cut off by the closing channel fail like a broken connection, in order; later calls use native messaging', async () => {
  const shim = channelShim({ requests: true });
  const id = createSocket(shim);
  const port = shim.port();
  port.sent.length = 0;
  const order = [];
  shim.chrome.socket.write(id, bytes(10000).buffer, (r) => order.push(['write', r.bytesWritten]));
  shim.chrome.socket.read(id, 65536, (r) => order.push(['read', r.resultCode, r.data.byteLength]));
  shim.chrome.socket.setNoDelay(id, true, (r) => order.push(['setNoDelay', r]));
  await tick();
  const [w] = shim.ws().requests.map((m) => m.request);
  await tick();
  assert.deepEqual(shim.ws().requests.map((m) => m.request.op), ['write', 'read', 'setNoDelay']);
  await tick();
  assert.equal(port.sent.length, 0);
  await tick();
  shim.ws().serverClose();
  await tick();
  assert.deepEqual(plain(order), [['write', -2], ['read', -2, 0], ['setNoDelay', false]]);
  await tick();
  port.reply({ id: w.id, args: [{ bytesWritten: 10000 }] }); // a late answer on native messaging: ignored
  shim.chrome.socket.write(id, bytes(10000).buffer, (r) => order.push(['write', r.bytesWritten]));
  await tick();
  const again = port.requests().at(-1);
  await tick();
  assert.equal(again.op, 'write');
  await tick();
  assert.deepEqual(nativeBytes(port, again.id), Buffer.from(bytes(10000)));
  await tick();
  port.reply({ id: again.id, args: [{ bytesWritten: 10000 }] });
  await tick();
  assert.deepEqual(plain(order), [['write', -2], ['read', -2, 0], ['setNoDelay', false], ['write', 10000]]);
});

test('by default every chrome.socket write and read goes on the channel as a request, 64 B ones too', async () => {
  const shim = channelShim({ requests: true });
  const id = createSocket(shim);
  const port = shim.port();
  port.sent.length = 0;
  const got = [];
  shim.chrome.socket.write(id, bytes(64).buffer, (r) => got.push(r.bytesWritten));
  shim.chrome.socket.read(id, (r) => got.push(Buffer.from(r.data).toString()));
  await tick();
  assert.equal(port.sent.length, 0);
  await tick();
  const [w, r] = shim.ws().requests;
  await tick();
  assert.deepEqual(w.bytes, Buffer.from(bytes(64)));
  await tick();
  assert.deepEqual([r.request.op, r.request.args], ['read', { socketId: 1, dataChannel: true }]);
  await tick();
  shim.ws().serverReply({ id: w.request.id, args: [{ bytesWritten: 64 }] });
  await tick();
  shim.ws().serverReply({ id: r.request.id, args: [{ resultCode: 2, data: '', dataRef: r.request.id }] }, Buffer.from('hi'));
  await tick();
  assert.deepEqual(got, [64, 'hi']);
});

test('calls of one task leave as one WebSocket message, a big write at once with what was queued before it, in issue order; replies may come several to a message', async () => {
  const shim = channelShim({ requests: true });
  const id = createSocket(shim);
  const port = shim.port();
  port.sent.length = 0;
  const got = [];
  const big = bytes(9000);
  shim.chrome.socket.read(id, 65536, (r) => got.push(Buffer.from(r.data).toString()));
  shim.chrome.socket.write(id, big.buffer, (r) => got.push(r.bytesWritten));
  big.fill(0); // the caller reuses its buffer at once: the bytes already left
  shim.chrome.socket.write(id, bytes(64).buffer, (r) => got.push(r.bytesWritten));
  const ws = shim.ws();
  assert.equal(ws.messages, 1, 'the big write left at once, with the read queued before it');
  await tick();
  assert.equal(ws.messages, 2, 'the 64-byte write left at the end of the task');
  const [r, w1, w2] = ws.requests;
  assert.deepEqual([r.request.op, w1.request.op, w2.request.op], ['read', 'write', 'write']);
  assert.deepEqual([w1.bytes, w2.bytes], [Buffer.from(bytes(9000)), Buffer.from(bytes(64))]);
  ws.serverReplies([{ id: w1.request.id, args: [{ bytesWritten: 9000 }] }],
    [{ id: r.request.id, args: [{ resultCode: 2, data: '', dataRef: r.request.id }] }, Buffer.from('ok')],
    [{ id: w2.request.id, args: [{ bytesWritten: 64 }] }]);
  assert.deepEqual(got, [9000, 'ok', 64]);
});

/** A shim whose host announces read-ahead, with the channel open and socket 4 streaming: its first read
 * (bufferSize 64 KiB) answered 'hi'. Returns what the app's reads got and the stream's id. */
async function streamingChannel({ implicit = false } = {}) {
  const shim = loadExtensionShim();
  shim.sockets = [];
  shim.context.WebSocket = fakeWebSocketClass(shim);
  shim.context.TextEncoder = TextEncoder;
  shim.context.TextDecoder = TextDecoder;
  shim.chrome.socket.getNetworkList(() => {});
  const port = shim.port();
  port.hello({ protocol: 1, host: 'resocket-host', version: '0.1.0', rules: [], readAhead: { window: 512 * 1024 } });
  const dc = port.sent.find((m) => m.op === 'datachannel.open');
  assert.deepEqual(dc.args, { implicit: true, implicitWrites: true }, 'the shim asks for implicit data and writes');
  port.reply({ id: dc.id, result: { url: URL_, token: TOKEN, requests: true, implicit } });
  shim.ws = () => shim.sockets[shim.sockets.length - 1];
  shim.ws().open();
  const id = createSocket(shim, 4);
  const got = [];
  shim.chrome.socket.read(id, 65536, (r) => got.push(r.data));
  await tick();
  const ws = shim.ws();
  const read = ws.requests.at(-1).request;
  assert.deepEqual([read.op, read.args], ['read', { socketId: 4, bufferSize: 65536, dataChannel: true, stream: true }]);
  ws.serverReply({ id: read.id, args: [{ resultCode: 2, data: '', dataRef: read.id, stream: read.id }] }, Buffer.from('hi'));
  return { shim, id, ws, got, stream: read.id };
}

test('read-ahead on the channel: bytes that are not the size announced end the channel; the waiting read gets -2', async () => {
  const { shim, id, ws, stream } = await streamingChannel();
  const codes = [];
  shim.chrome.socket.read(id, 65536, (r) => codes.push(r.resultCode));
  await tick();
  ws.serverReply({ event: 'socket.data', args: [{ socketId: 4, stream, size: 100 }] });
  ws.onmessage({ data: new ArrayBuffer(99) });
  assert.deepEqual(codes, [-2]);
  assert.equal(ws.closedByClient, true);
  shim.chrome.socket.read(id, 10, () => {});
  assert.equal(shim.port().requests().at(-1).op, 'read', 'later reads go to the host (which broke the connection)');
});

test('read-ahead on the channel: announced bytes arrive as a message of their own, which a read takes uncopied', async () => {
  const { shim, id, ws, got, stream } = await streamingChannel();
  const big = bytes(20000);
  const small = bytes(100, 3);
  // An announcement, then its bytes as the next message; a second one shares a message with a reply.
  ws.serverReply({ event: 'socket.data', args: [{ socketId: 4, stream, size: big.length }] });
  const raw = new Uint8Array(big).buffer;
  ws.onmessage({ data: raw });
  ws.serverReplies([{ id: 999, args: [] }], [{ event: 'socket.data', args: [{ socketId: 4, stream, size: 100 }] }]);
  ws.onmessage({ data: new Uint8Array(small).buffer });
  shim.chrome.socket.read(id, 65536, (r) => got.push(r.data));
  shim.chrome.socket.read(id, 65536, (r) => got.push(r.data));
  await tick();
  assert.equal(got.length, 3);
  assert.equal(Buffer.from(got[0]).toString(), 'hi');
  assert.equal(got[1], raw, 'the message\'s own buffer, not a copy (a big piece is read alone)');
  assert.deepEqual(Buffer.from(got[2]), Buffer.from(small));
});

test('implicit data: after an announcement, messages that are not records are more bytes of that stream', async () => {
  const { shim, id, ws, got, stream } = await streamingChannel({ implicit: true });
  const a = bytes(30000, 1);
  const b = bytes(5, 2); // shorter than a reference: still data
  const c = bytes(20000, 3);
  ws.serverReply({ event: 'socket.data', args: [{ socketId: 4, stream, size: a.length }] });
  const rawA = new Uint8Array(a).buffer;
  ws.onmessage({ data: rawA });
  const rawC = new Uint8Array(c).buffer;
  ws.onmessage({ data: rawC }); // no announcement
  ws.serverReplies([{ id: 999, args: [] }]); // records between them change nothing
  ws.onmessage({ data: new Uint8Array(b).buffer });
  for (let i = 0; i < 3; i++) shim.chrome.socket.read(id, 65536, (r) => got.push(r.data));
  await tick();
  assert.equal(got.length, 4);
  assert.equal(got[1], rawA);
  assert.equal(got[2], rawC, 'an unannounced message is taken uncopied too');
  assert.deepEqual(Buffer.from(got[3]), Buffer.from(b));
});

test('without implicit data from the host, a message that is not a record is a reference message', async () => {
  const { shim, id, ws, got, stream } = await streamingChannel({ implicit: false });
  ws.serverReply({ event: 'socket.data', args: [{ socketId: 4, stream, size: 3 }] });
  ws.onmessage({ data: new Uint8Array([1, 2, 3]).buffer });
  ws.serverSend(12345, Buffer.from('not stream bytes')); // a reference nobody waits for: kept aside
  shim.chrome.socket.read(id, 65536, (r) => got.push(r.data));
  shim.chrome.socket.read(id, 65536, (r) => got.push(r.resultCode));
  await tick();
  assert.deepEqual(Buffer.from(got[1]), Buffer.from([1, 2, 3]));
  assert.equal(got.length, 2, 'the second read waits for more stream bytes');
});

// ---- implicit writes (the host said `implicitWrites: true`; docs/protocol.md, "Implicit writes") ----

const BARE = 2 ** 52;

test('implicit writes: a socket\'s first big write is a marked record, the next ones are its bytes alone, answered by the ids that follow the mark', async () => {
  const shim = channelShim({ requests: true, implicitWrites: true });
  const id = createSocket(shim);
  const port = shim.port();
  port.sent.length = 0;
  const got = [];
  const blocks = [bytes(65536, 1), bytes(65536, 2), bytes(9000, 3)];
  for (const block of blocks) shim.chrome.socket.write(id, block.buffer, (r) => got.push(r.bytesWritten));
  const ws = shim.ws();
  assert.deepEqual(ws.kinds, ['records', 'raw', 'raw'], 'one record, then two bare messages, each sent at once');
  const [{ request, bytes: carried }] = ws.requests;
  assert.equal(request.args.implicit, BARE, 'the record names the id of the first bare write');
  assert.deepEqual(carried, Buffer.from(blocks[0]));
  assert.deepEqual(ws.raw.map((m) => m.bytes), [Buffer.from(blocks[1]), Buffer.from(blocks[2])], 'nothing added to the bytes');
  assert.equal(port.sent.length, 0, 'nothing on native messaging');
  ws.serverReplies([{ id: request.id, args: [{ bytesWritten: 65536 }] }], [{ id: BARE, args: [{ bytesWritten: 65536 }] }],
    [{ id: BARE + 1, args: [{ bytesWritten: 9000 }] }]);
  await tick();
  assert.deepEqual(got, [65536, 65536, 9000]);
  // The ids go on counting for the socket's next bare write.
  shim.chrome.socket.write(id, bytes(10000).buffer, (r) => got.push(r.bytesWritten));
  assert.deepEqual(ws.kinds.at(-1), 'raw');
  ws.serverReply({ id: BARE + 2, args: [{ bytesWritten: 10000 }] });
  await tick();
  assert.deepEqual(got, [65536, 65536, 9000, 10000]);
});

test('implicit writes: small writes stay records sharing a message, and leave before the bare write that follows them', async () => {
  const shim = channelShim({ requests: true, implicitWrites: true });
  const id = createSocket(shim);
  const ws = shim.ws();
  shim.chrome.socket.write(id, bytes(9000).buffer, () => {}); // marked record
  shim.chrome.socket.write(id, bytes(10).buffer, () => {});
  shim.chrome.socket.write(id, bytes(20).buffer, () => {});
  shim.chrome.socket.write(id, bytes(9000, 4).buffer, () => {});
  assert.deepEqual(ws.kinds, ['records', 'records', 'raw']);
  assert.deepEqual(ws.requests.map((m) => [m.request.args.implicit, m.bytes.length]), [[BARE, 9000], [undefined, 10], [undefined, 20]]);
  assert.deepEqual(ws.raw[0].bytes, Buffer.from(bytes(9000, 4)));
});

test('implicit writes: bytes that start like a record, and another socket\'s writes, go as records (the latter marked anew)', async () => {
  const shim = channelShim({ requests: true, implicitWrites: true });
  const a = createSocket(shim, 1);
  const b = createSocket(shim, 2);
  const ws = shim.ws();
  shim.chrome.socket.write(a, bytes(9000).buffer, () => {});
  const refLike = bytes(9000);
  refLike.fill(0xff, 0, 8);
  shim.chrome.socket.write(a, refLike.buffer, () => {});
  shim.chrome.socket.write(b, bytes(9000).buffer, () => {});
  shim.chrome.socket.write(b, bytes(9000).buffer, () => {});
  shim.chrome.socket.write(a, bytes(9000).buffer, () => {});
  assert.deepEqual(ws.kinds, ['records', 'records', 'records', 'raw', 'records']);
  assert.deepEqual(ws.requests.map((m) => [m.request.args.socketId, m.request.args.implicit]),
    [[1, BARE], [1, undefined], [2, BARE], [1, BARE + 1]]);
  assert.deepEqual(ws.requests[1].bytes, Buffer.from(refLike));
});

test('implicit writes: before a message that names its request by reference, the shim says datachannel.explicit', async () => {
  const shim = channelShim({ requests: true, implicitWrites: true });
  const id = createSocket(shim, 1);
  const port = shim.port();
  let tcpId;
  shim.chrome.sockets.tcp.create({}, (i) => { tcpId = i.socketId; });
  port.reply({ id: port.requests().at(-1).id, args: [{ socketId: 7 }] });
  const ws = shim.ws();
  shim.chrome.socket.write(id, bytes(9000).buffer, () => {});
  shim.chrome.sockets.tcp.send(tcpId, bytes(9000).buffer, () => {}); // bytes by reference (docs/protocol.md)
  assert.deepEqual(ws.kinds, ['records', 'records', 'raw']);
  assert.deepEqual(ws.requests[1].request, { op: 'datachannel.explicit' });
  assert.equal(port.requests().at(-1).op, 'tcp.send');
  shim.chrome.socket.write(id, bytes(9000).buffer, () => {});
  assert.equal(ws.requests.at(-1).request.args.implicit, BARE, 'marked again: the host forgot the socket');
});

test('implicit writes: once the host says `behind`, the next write is marked anew with `behind`, the ones after it go bare', async () => {
  const shim = channelShim({ requests: true, implicitWrites: true,
    hello: { protocol: 1, host: 'resocket-host', version: '0.1.0', rules: [], writeBehind: { window: 512 * 1024 } } });
  const id = createSocket(shim);
  const ws = shim.ws();
  const got = [];
  shim.chrome.socket.write(id, bytes(9000).buffer, (r) => got.push(r.bytesWritten));
  const first = ws.requests[0].request;
  assert.deepEqual([first.args.implicit, first.args.behind], [BARE, undefined]);
  ws.serverReply({ id: first.id, args: [{ bytesWritten: 9000, behind: true }] });
  await tick();
  shim.chrome.socket.write(id, bytes(9000).buffer, (r) => got.push(r.bytesWritten));
  shim.chrome.socket.write(id, bytes(9000).buffer, (r) => got.push(r.bytesWritten));
  assert.deepEqual(ws.kinds, ['records', 'records', 'raw'], 'the bare writes after the first mark had no `behind`');
  assert.deepEqual([ws.requests[1].request.args.implicit, ws.requests[1].request.args.behind], [BARE, true]);
  await tick();
  assert.deepEqual(got, [9000, 9000, 9000], 'called back early, as write-behind does');
});

test('implicit writes cut off by the closing channel fail like a broken connection, in issue order', async () => {
  const shim = channelShim({ requests: true, implicitWrites: true });
  const id = createSocket(shim);
  const order = [];
  for (let i = 0; i < 3; i++) shim.chrome.socket.write(id, bytes(9000).buffer, (r) => order.push([i, r.bytesWritten]));
  assert.deepEqual(shim.ws().kinds, ['records', 'raw', 'raw']);
  shim.ws().serverClose();
  await tick();
  assert.deepEqual(plain(order), [[0, -2], [1, -2], [2, -2]]);
});

test('resocketOptions.implicitWrites = false: not asked for, and every write is a record', async () => {
  // The host's answer says it would take them: the shim did not ask, so it does not use them.
  const shim = channelShim({ requests: true, implicitWrites: true, knobs: { implicitWrites: false } });
  assert.equal(shim.openArgs.implicitWrites, false);
  const id = createSocket(shim);
  for (let i = 0; i < 3; i++) shim.chrome.socket.write(id, bytes(9000).buffer, () => {});
  assert.deepEqual(shim.ws().kinds, ['records', 'records', 'records']);
  assert.equal(shim.ws().requests[0].request.args.implicit, undefined);
});
