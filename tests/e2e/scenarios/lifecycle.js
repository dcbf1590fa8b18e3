// docs/chrome-behaviour.md 1.3 and section 2: destroy then every method, ids never reused across
// destroy, accept's socketId numbering, disconnect then connect on the same id, and many queued writes
// completing in FIFO order with full lengths.
async (env) => {
  const t = transcript(env);
  const data = t.bytes("x");

  // Ids: create, destroy, create: the next id, never the freed one.
  const a = (await t.call("create", "tcp")).value.socketId;
  t.fire("destroy", a);
  const b = (await t.call("create", "udp")).value.socketId;
  t.note("id after destroy is new", b > a);

  // Destroy a connected socket, then every method on its id.
  const d = (await t.call("create", "tcp")).value.socketId;
  await t.call("connect", d, "127.0.0.1", env.ports.tcpPort);
  const dRead = t.start("read", d);
  t.fire("destroy", d);
  await t.within(dRead, 5000);                       // pending read on destroy: -100
  await t.call("connect", d, "127.0.0.1", env.ports.tcpPort);
  await t.call("bind", d, "0.0.0.0", 0);
  await t.call("listen", d, "127.0.0.1", 0);
  await t.call("accept", d);
  await t.call("read", d);
  await t.call("write", d, data);
  await t.call("recvFrom", d);
  await t.call("sendTo", d, data, "127.0.0.1", env.ports.udpPort);
  await t.call("setKeepAlive", d, true);
  await t.call("setNoDelay", d, true);
  await t.call("getInfo", d);
  await t.call("joinGroup", d, "237.132.100.133");
  await t.call("leaveGroup", d, "237.132.100.133");
  await t.call("setMulticastTimeToLive", d, 1);
  await t.call("setMulticastLoopbackMode", d, true);
  await t.call("getJoinedGroups", d);
  await t.call("secure", d);
  t.fire("disconnect", d);
  t.fire("destroy", d);
  await t.call("getInfo", d);

  // A destroyed UDP socket with a pending recvFrom: -100.
  const u = (await t.call("create", "udp")).value.socketId;
  await t.call("bind", u, "127.0.0.1", 0);
  const uRecv = t.start("recvFrom", u);
  t.fire("destroy", u);
  await t.within(uRecv, 5000);
  await t.call("bind", u, "127.0.0.1", 0);

  // Accept numbering: listener, client, then the accepted socket takes the next id; create continues after.
  const s = (await t.call("create", "tcp")).value.socketId;
  await t.call("listen", s, "127.0.0.1", env.ports.listenPort);
  const port = env.ports.listenPort;
  const pending = t.start("accept", s);
  const c = (await t.call("create", "tcp")).value.socketId;
  await t.call("connect", c, "127.0.0.1", port);
  const k = (await t.within(pending, 5000)).value.socketId;
  const after = (await t.call("create", "tcp")).value.socketId;
  t.note("accepted id follows the client's", k === c + 1 && after === k + 1);

  // Many writes issued at once complete in issue order with full lengths.
  const order = [];
  const writes = [];
  let expected = "";
  for (let i = 0; i < 40; i++) {
    const chunk = String.fromCharCode(65 + (i % 26)).repeat(997 * (i + 1));
    expected += chunk;
    writes.push(t.start("write", c, t.bytes(chunk)).then((r) => { order.push(i); return r; }));
  }
  let got = "";
  while (got.length < expected.length) {
    const r = await new Promise((resolve) => t.api.read(k, 65536, resolve));
    if (r.resultCode <= 0) break;
    got += t.text(r.data);
  }
  await Promise.all(writes);
  t.note("write callbacks in issue order", order.every((v, i) => v === i));
  t.note("bytes arrive in issue order", got === expected);

  // Disconnect then connect on the same id.
  t.fire("disconnect", c);
  await t.call("getInfo", c);
  await t.call("read", c);
  await t.call("write", c, data);
  await t.call("connect", c, "127.0.0.1", env.ports.tcpPort);
  await t.call("getInfo", c);
  await t.call("write", c, t.bytes(env.tcpRequest));
  const echoed = await t.call("read", c);
  t.note("echo after reconnect", /\n0100000005320000005$/.test(t.text(echoed.value.data)));
  for (const id of [b, s, c, k, after]) t.fire("destroy", id);
  return t.entries;
}
