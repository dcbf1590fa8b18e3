// Port 0 where a peer is named (connect, sendTo), and the top port on bind and listen.
async (env) => {
  const t = transcript(env);
  const s = (await t.call("create", "tcp")).value.socketId;
  await t.call("connect", s, "127.0.0.1", 0);
  t.fire("destroy", s);
  const u = (await t.call("create", "udp")).value.socketId;
  await t.call("bind", u, "127.0.0.1", 0);
  await t.call("sendTo", u, t.bytes("x"), "127.0.0.1", 0);
  t.fire("destroy", u);
  const c = (await t.call("create", "udp")).value.socketId;
  await t.call("connect", c, "127.0.0.1", 0);
  t.fire("destroy", c);
  return t.entries;
}
