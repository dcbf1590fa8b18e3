// docs/chrome-behaviour.md section 3: the state-matrix cells no other scenario asks (docs/fidelity.md).
async (env) => {
  const t = transcript(env);
  const data = t.bytes("x");
  const s = (await t.call("create", "tcp")).value.socketId;
  await t.call("connect", s, "127.0.0.1", env.ports.tcpPort);
  t.note("state result", "tcp connected");
  await t.call("accept", s);
  await t.call("recvFrom", s);
  await t.call("joinGroup", s, "237.132.100.133");
  await t.call("setMulticastTimeToLive", s, 1);
  t.fire("disconnect", s);
  t.note("state result", "tcp after disconnect");
  await t.call("bind", s, "127.0.0.1", 0);
  await t.call("listen", s, "127.0.0.1", 0);
  await t.call("accept", s);
  await t.call("secure", s);
  await t.call("recvFrom", s);
  await t.call("sendTo", s, data, "127.0.0.1", env.ports.udpPort);
  t.fire("destroy", s);
  const l = (await t.call("create", "tcp")).value.socketId;
  await t.call("listen", l, "127.0.0.1", env.ports.listenPort);
  t.note("state result", "tcp listening");
  await t.call("bind", l, "127.0.0.1", 0);
  await t.call("sendTo", l, data, "127.0.0.1", env.ports.udpPort);
  await t.call("secure", l);
  await t.call("leaveGroup", l, "237.132.100.133");
  t.fire("destroy", l);
  const u = (await t.call("create", "udp")).value.socketId;
  await t.call("bind", u, "127.0.0.1", 0);
  t.note("state result", "udp bound");
  await t.call("listen", u, "127.0.0.1", 0);
  await t.call("accept", u);
  await t.call("secure", u);
  t.fire("destroy", u);
  return t.entries;
}
