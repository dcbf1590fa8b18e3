'use strict';
// Write-behind in the shim (docs/protocol.md, "Write-behind") against a fake native port: once the host marks a
// socket's write reply `behind`, its next writes are called back at once while the bytes not yet answered stay
// within the host's window; a write that failed after its callback makes the next write report -2, as Chrome's
// next write into a closed data pipe does; reads that end the connection, disconnect and a dying host stop it.
const test = require('node:test');
const assert = require('node:assert/strict');
const { loadExtensionShim, plain, settle } = require('./harness.js');

const WINDOW = 512 * 1024;

/** Shim whose host offers write-behind, with one connected TCP socket (host id 5). */
function behindShim({ window = WINDOW, offer = true } = {}) {
  const shim = loadExtensionShim();
  shim.chrome.socket.getNetworkList(() => {});
  const result = { protocol: 1, host: 'resocket-host', version: '0.1.0', rules: [] };
  if (offer) result.writeBehind = { window };
  shim.port().hello(result);
  let id;
  shim.chrome.socket.create('tcp', (info) => { id = info.socketId; });
  shim.port().reply({ id: shim.port().requests().at(-1).id, args: [{ socketId: 5 }] });
  shim.port().sent.length = 0;
  return { shim, id, port: shim.port() };
}

const bytes = (n) => new Uint8Array(n).buffer;

/** One write answered by the host, which marks the socket `behind`: write-behind starts. */
async function firstWrite({ shim, id, port }, behind = true) {
  const got = [];
  shim.chrome.socket.write(id, bytes(10), (w) => got.push(plain(w)));
  const req = port.requests().at(-1);
  const result = { bytesWritten: 10 };
  if (behind) result.behind = true;
  port.reply({ id: req.id, args: [result] });
  await settle();
  assert.deepEqual(got, [{ bytesWritten: 10 }], 'no behind field reaches the app');
  port.sent.length = 0;
  return req.id;
}

test('hello asks for write-behind; a host that does not offer it gets plain writes', async () => {
  const s = behindShim({ offer: false });
  await firstWrite(s, false);
  const got = [];
  s.shim.chrome.socket.write(s.id, bytes(4), (w) => got.push(w.bytesWritten));
  await settle();
  assert.deepEqual(got, [], 'called back only when the host answers');
  s.port.reply({ id: s.port.requests().at(-1).id, args: [{ bytesWritten: 4 }] });
  assert.deepEqual(got, [4]);
});

test('after a `behind` reply, writes are called back before the host answers, in issue order', async () => {
  const s = behindShim();
  await firstWrite(s);
  const got = [];
  for (let i = 1; i <= 3; i += 1) s.shim.chrome.socket.write(s.id, bytes(i * 100), (w) => got.push(w.bytesWritten));
  assert.deepEqual(got, [], 'callbacks are asynchronous, as Chrome\'s');
  await settle();
  assert.deepEqual(got, [100, 200, 300]);
  const sent = s.port.requests();
  assert.deepEqual(sent.map((m) => m.op), ['write', 'write', 'write'], 'every write still goes to the host');
  for (const m of sent) s.port.reply({ id: m.id, args: [{ bytesWritten: m.args.data.length ? 1 : 0, behind: true }] });
  assert.deepEqual(got, [100, 200, 300], 'the host\'s replies call nothing back twice');
});

test('a host reply without `behind` (UDP, an empty write) stops it; the next `behind` reply resumes it', async () => {
  const s = behindShim();
  await firstWrite(s, false);
  const got = [];
  s.shim.chrome.socket.write(s.id, bytes(5), (w) => got.push(w.bytesWritten));
  await settle();
  assert.deepEqual(got, []);
  s.port.reply({ id: s.port.requests().at(-1).id, args: [{ bytesWritten: 5, behind: true }] });
  s.shim.chrome.socket.write(s.id, bytes(6), (w) => got.push(w.bytesWritten));
  await settle();
  assert.deepEqual(got, [5, 6]);
});

test('the window: beyond it writes wait for the host, and later writes wait behind them', async () => {
  const s = behindShim({ window: 1000 });
  await firstWrite(s);
  const got = [];
  const write = (n) => s.shim.chrome.socket.write(s.id, bytes(n), (w) => got.push(w.bytesWritten));
  write(600);
  write(500); // 1100 > 1000: waits for the host
  write(10); // would fit, but a write before it waits: callbacks keep issue order
  await settle();
  assert.deepEqual(got, [600]);
  const [a, b, c] = s.port.requests();
  s.port.reply({ id: a.id, args: [{ bytesWritten: 600, behind: true }] });
  s.port.reply({ id: b.id, args: [{ bytesWritten: 500, behind: true }] });
  s.port.reply({ id: c.id, args: [{ bytesWritten: 10, behind: true }] });
  await settle();
  assert.deepEqual(got, [600, 500, 10]);
  s.port.sent.length = 0;
  write(999);
  await settle();
  assert.deepEqual(got, [600, 500, 10, 999], 'answered bytes leave the window');
});

test('a socket granted a wide window calls back up to it; an answer makes room as in any window', async () => {
  const s = behindShim({ window: 1000 });
  const got = [];
  const write = (n) => s.shim.chrome.socket.write(s.id, bytes(n), (w) => got.push(plain(w)));
  write(10);
  s.port.reply({ id: s.port.requests().at(-1).id, args: [{ bytesWritten: 10, behind: true, window: 8000 }] });
  await settle();
  assert.deepEqual(got, [{ bytesWritten: 10 }], 'no window field reaches the app');
  for (let i = 0; i < 9; i += 1) write(900); // 8100 > 8000: the ninth waits for the host
  await settle();
  assert.equal(got.length, 1 + 8, 'eight called back early: 7200 bytes of 8000, the hello\'s 1000 is not the limit');
  const sent = s.port.requests().filter((r) => r.op === 'write');
  s.port.reply({ id: sent[1].id, args: [{ bytesWritten: 900, behind: true, window: 8000 }] });
  await settle();
  assert.equal(got.length, 1 + 9, 'an answer makes room for the ninth');
});

test('a wide window is forgotten with disconnect: the next `behind` reply without one brings the hello\'s back', async () => {
  const s = behindShim({ window: 1000 });
  const got = [];
  const write = (n) => s.shim.chrome.socket.write(s.id, bytes(n), (w) => got.push(w.bytesWritten));
  write(10);
  s.port.reply({ id: s.port.requests().at(-1).id, args: [{ bytesWritten: 10, behind: true, window: 8000 }] });
  await settle();
  s.shim.chrome.socket.disconnect(s.id);
  write(20); // no early callback after disconnect: it waits for the host
  await settle();
  assert.deepEqual(got, [10]);
  s.port.reply({ id: s.port.requests().at(-1).id, args: [{ bytesWritten: 20, behind: true }] });
  await settle();
  write(900);
  write(900); // 1800 > 1000: the hello's window again
  await settle();
  assert.deepEqual(got, [10, 20, 900]);
});

test('a write that failed after its callback: the next write reports -2 without being sent, the host is told, then it answers', async () => {
  const s = behindShim();
  await firstWrite(s);
  const got = [];
  const write = () => s.shim.chrome.socket.write(s.id, bytes(8), (w) => got.push(w.bytesWritten));
  write();
  write();
  await settle();
  assert.deepEqual(got, [8, 8]);
  const [a, b] = s.port.requests();
  s.port.reply({ id: a.id, args: [{ bytesWritten: -2 }] }); // the peer reset the connection
  s.port.reply({ id: b.id, args: [{ bytesWritten: -2 }] }); // queued behind it on the host: failed as well
  s.port.sent.length = 0;
  write();
  await settle();
  assert.deepEqual(got, [8, 8, -2], 'Chrome: the next write after the pipe broke');
  // The host kept the socket connected until the app met the failure (Chrome's getInfo): now it is disconnected.
  assert.deepEqual(s.port.requests().map((r) => [r.op, r.args]), [['disconnect', { socketId: 5 }]]);
  s.port.sent.length = 0;
  write();
  await settle();
  assert.equal(got.length, 3, 'the one after goes to the host');
  s.port.reply({ id: s.port.requests()[0].id, args: [{ bytesWritten: -15 }] });
  assert.deepEqual(got, [8, 8, -2, -15]);
});

test('a read that ends the connection, and disconnect, stop write-behind; late failures then speak for nothing', async () => {
  const s = behindShim();
  await firstWrite(s);
  const got = [];
  s.shim.chrome.socket.write(s.id, bytes(3), (w) => got.push(['w', w.bytesWritten]));
  const early = s.port.requests().at(-1);
  s.shim.chrome.socket.disconnect(s.id);
  s.port.reply({ id: early.id, args: [{ bytesWritten: -2 }] }); // answered by the disconnect
  s.shim.chrome.socket.write(s.id, bytes(3), (w) => got.push(['w', w.bytesWritten]));
  await settle();
  assert.deepEqual(got, [['w', 3]], 'after disconnect the host answers (Chrome: -15, not -2)');
  s.port.reply({ id: s.port.requests().at(-1).id, args: [{ bytesWritten: -15 }] });
  assert.deepEqual(got, [['w', 3], ['w', -15]]);

  const t = behindShim();
  await firstWrite(t);
  t.shim.chrome.socket.read(t.id, 10, (r) => got.push(['r', r.resultCode]));
  t.port.reply({ id: t.port.requests().at(-1).id, args: [{ resultCode: 0, data: '' }] }); // the peer closed
  t.port.sent.length = 0;
  t.shim.chrome.socket.write(t.id, bytes(3), (w) => got.push(['w', w.bytesWritten]));
  await settle();
  assert.equal(t.port.requests().length, 1);
  t.port.reply({ id: t.port.requests()[0].id, args: [{ bytesWritten: -15 }] });
  assert.deepEqual(got.slice(2), [['r', 0], ['w', -15]]);
});

test('a host that dies: writes already called back are not called again; later calls fail as before', async () => {
  const s = behindShim();
  await firstWrite(s);
  const got = [];
  s.shim.chrome.socket.write(s.id, bytes(3), (w) => got.push(w.bytesWritten));
  await settle();
  s.port.die('Native host has exited.');
  await settle();
  assert.deepEqual(got, [3]);
  s.shim.chrome.socket.write(s.id, bytes(3), (w) => got.push(w && w.bytesWritten));
  s.shim.port().hello({ protocol: 1, host: 'resocket-host', version: '0.1.0', rules: [], writeBehind: { window: WINDOW } });
  await settle();
  const req = s.shim.port().requests().at(-1);
  assert.equal(req.args.socketId, 0, 'the dead host\'s socket is gone');
  s.shim.port().reply({ id: req.id, args: [{ bytesWritten: -1 }], lastError: 'Socket not found' });
  assert.deepEqual(got, [3, -1]);
});

test('pipelined writes issued before the first reply are called back once it says `behind`, then later ones at once', async () => {
  const s = behindShim({ window: 1000 });
  const got = [];
  const write = (n) => s.shim.chrome.socket.write(s.id, bytes(n), (w) => got.push(w.bytesWritten));
  write(100);
  write(200);
  write(300);
  await settle();
  assert.deepEqual(got, [], 'nothing is known about the socket yet');
  const [a, b, c] = s.port.requests();
  assert.equal(a.args.behind, undefined, 'not called back: the host answers at once');
  s.port.reply({ id: a.id, args: [{ bytesWritten: 100, behind: true }] });
  await settle();
  assert.deepEqual(got, [100, 200, 300], 'the rest go early, in issue order');
  write(400); // 200 + 300 + 400 <= 1000 called back and unanswered
  await settle();
  assert.deepEqual(got, [100, 200, 300, 400]);
  assert.equal(s.port.requests().at(-1).args.behind, true, 'its reply may wait');
  write(500); // over the window: waits for replies
  await settle();
  assert.equal(got.length, 4);
  s.port.reply({ id: b.id, args: [{ bytesWritten: 200, behind: true }] });
  s.port.reply({ id: c.id, args: [{ bytesWritten: 300, behind: true }] });
  await settle();
  assert.deepEqual(got, [100, 200, 300, 400, 500]);
});

test('a write waiting in the queue that reports a failure itself settles the -2 owed for an earlier one', async () => {
  const s = behindShim({ window: 100 });
  await firstWrite(s);
  const got = [];
  const write = (n) => s.shim.chrome.socket.write(s.id, bytes(n), (w) => got.push(w.bytesWritten));
  write(80); // early
  write(80); // over the window: waits in the queue
  await settle();
  assert.deepEqual(got, [80]);
  const [a, b] = s.port.requests();
  s.port.reply({ id: a.id, args: [{ bytesWritten: -2 }] }); // the early one failed after its callback
  s.port.reply({ id: b.id, args: [{ bytesWritten: -15 }] }); // the queued one reports the broken connection
  assert.deepEqual(got, [80, -15]);
  s.port.sent.length = 0;
  write(1);
  await settle();
  assert.equal(s.port.requests().length, 1, 'sent to the host, not answered -2 here');
  s.port.reply({ id: s.port.requests()[0].id, args: [{ bytesWritten: -15 }] });
  assert.deepEqual(got, [80, -15, -15]);
});

test('a write the app waited for that reports -2 tells the host to disconnect the socket, as Chrome does', async () => {
  const s = behindShim({ window: 100 });
  await firstWrite(s);
  const got = [];
  const write = (n) => s.shim.chrome.socket.write(s.id, bytes(n), (w) => got.push(w.bytesWritten));
  write(200); // over the window: waits for its reply, though sent with `behind`
  await settle();
  assert.deepEqual(got, []);
  const [a] = s.port.requests();
  assert.equal(a.args.behind, true);
  s.port.sent.length = 0;
  s.port.reply({ id: a.id, args: [{ bytesWritten: -2 }] }); // met a reset; the host may still say connected
  await settle();
  assert.deepEqual(got, [-2]);
  assert.deepEqual(s.port.requests().map((r) => [r.op, r.args]), [['disconnect', { socketId: 5 }]]);
  s.port.sent.length = 0;
  write(1);
  await settle();
  assert.equal(s.port.requests().length, 1, 'no -2 owed: the host answers');
  s.port.reply({ id: s.port.requests()[0].id, args: [{ bytesWritten: -15 }] });
  assert.deepEqual(got, [-2, -15]);
});
