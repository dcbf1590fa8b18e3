// docs/chrome-behaviour.md 8.4: getInfo fields that do not apply are absent; IPv6 without brackets;
// the accepted socket has no local fields.
async (env) => {
  const t = transcript(env);
  for (const host of ["127.0.0.1", "::1"]) {
    const s = (await t.call("create", "tcp")).value.socketId;
    await t.call("listen", s, host, env.ports.listenPort);
    await t.call("getInfo", s);
    const pending = t.start("accept", s);
    const c = (await t.call("create", "tcp")).value.socketId;
    await t.call("connect", c, host, env.ports.listenPort);
    await t.call("getInfo", c);
    const k = (await t.within(pending, 5000)).value.socketId;
    await t.call("getInfo", k);
    t.fire("disconnect", c);
    await t.call("getInfo", c);
    t.fire("destroy", k);
    t.fire("destroy", c);
    t.fire("destroy", s);
  }
  const u = (await t.call("create", "udp")).value.socketId;
  await t.call("bind", u, "::1", 0);
  await t.call("getInfo", u);
  t.fire("destroy", u);
  return t.entries;
}
