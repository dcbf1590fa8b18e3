// docs/chrome-behaviour.md section 2 / 8.2, TCP and id rows: one fresh socket per row.
async (env) => {
  const t = transcript(env);
  const bad = 99999;
  const fresh = async () => (await t.call("create", "tcp")).value.socketId;
  const data = t.bytes("x");

  // Unknown ids on every method.
  await t.call("connect", bad, "127.0.0.1", env.ports.tcpPort);
  await t.call("bind", bad, "0.0.0.0", 0);
  await t.call("listen", bad, "127.0.0.1", 0);
  await t.call("accept", bad);
  await t.call("read", bad);
  await t.call("write", bad, data);
  await t.call("recvFrom", bad);
  await t.call("sendTo", bad, data, "127.0.0.1", env.ports.udpPort);
  await t.call("setKeepAlive", bad, true);
  await t.call("setNoDelay", bad, true);
  await t.call("getInfo", bad);
  await t.call("joinGroup", bad, "237.132.100.133");
  await t.call("leaveGroup", bad, "237.132.100.133");
  await t.call("setMulticastTimeToLive", bad, 1);
  await t.call("setMulticastLoopbackMode", bad, true);
  await t.call("getJoinedGroups", bad);
  await t.call("secure", bad);
  t.fire("destroy", bad);
  t.fire("disconnect", bad);

  // Bad ports are checked before the id.
  await t.call("connect", bad, "foo", -1);
  let s = await fresh();
  await t.call("connect", s, "127.0.0.1", -1);
  await t.call("connect", s, "127.0.0.1", 65536);

  // Refused, then a good connect on the same id, then connect twice.
  await t.call("connect", s, "127.0.0.1", env.ports.closedPort);
  await t.call("getInfo", s);
  await t.call("connect", s, "127.0.0.1", env.ports.tcpPort);
  await t.call("connect", s, "127.0.0.1", env.ports.tcpPort);
  await t.call("listen", s, "127.0.0.1", 0);        // after connect: -11
  await t.call("bind", s, "0.0.0.0", 0);            // TCP: -1 + message
  await t.call("write", s, new ArrayBuffer(0));     // zero-length write
  await t.call("secure", (await t.call("create", "udp")).value.socketId);  // UDP: -4
  t.fire("destroy", s);

  s = await fresh();
  await t.call("read", s);                           // before connect: -2
  await t.call("write", s, data);                    // before connect: -15
  await t.call("accept", s);                         // without listen: -2
  await t.call("setNoDelay", s, true);
  await t.call("setKeepAlive", s, true);
  await t.call("secure", s);                         // not connected: -4
  await t.call("listen", s, "localhost", 0);         // not an IP literal
  t.fire("destroy", s);

  s = await fresh();
  await t.call("listen", s, "127.0.0.1", 0);
  await t.call("connect", s, "127.0.0.1", env.ports.tcpPort);  // on a listener: -104
  await t.call("read", s);
  await t.call("write", s, data);
  await t.call("recvFrom", s);
  await t.call("joinGroup", s, "237.132.100.133");  // not UDP
  await t.call("setMulticastTimeToLive", s, 1);
  await t.call("getJoinedGroups", s);
  t.fire("destroy", s);
  return t.entries;
}
