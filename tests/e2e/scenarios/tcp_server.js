// docs/chrome-behaviour.md 7.2 testSocketListening and testSocketListenInUse on env.ports.listenPort.
async (env) => {
  const t = transcript(env);
  const port = env.ports.listenPort;
  const s = (await t.call("create", "tcp")).value.socketId;
  await t.call("listen", s, "127.0.0.1", port);
  await t.call("getInfo", s);
  const a1 = t.start("accept", s);
  await t.call("accept", s);  // a second accept while one is pending: -2 at once
  const c = (await t.call("create", "tcp")).value.socketId;
  await t.call("connect", c, "127.0.0.1", port);
  await t.call("write", c, t.bytes(env.tcpRequest));
  t.fire("disconnect", c);
  const accepted = await t.within(a1, 5000);
  const k = accepted.value.socketId;
  await t.call("getInfo", k);
  const r = await t.call("read", k);
  t.note("accepted socket read the request", t.text(r.value.data) === env.tcpRequest);
  await t.call("read", k);
  await t.call("getInfo", k);
  await t.call("read", k);
  t.fire("destroy", k);
  t.fire("destroy", c);
  t.fire("destroy", s);

  // testSocketListenInUse: the port is reusable at once; a second live listener gets -147.
  const s1 = (await t.call("create", "tcp")).value.socketId;
  await t.call("listen", s1, "127.0.0.1", port);
  const s2 = (await t.call("create", "tcp")).value.socketId;
  await t.call("listen", s2, "127.0.0.1", port);
  await t.call("accept", s2);
  t.fire("destroy", s1);
  t.fire("destroy", s2);
  return t.entries;
}
