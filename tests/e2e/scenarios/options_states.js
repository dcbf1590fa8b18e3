// docs/chrome-behaviour.md section 3, setKeepAlive / setNoDelay row: every state Chrome can be put in
// deterministically (new, connected, accepted, after EOF, after disconnect, listening, after a refused
// connect; UDP new, bound, connected), with the delay variants.
async (env) => {
  const t = transcript(env);
  const both = async (id, label) => {
    t.note("state result", label);
    await t.call("setKeepAlive", id, true);
    await t.call("setKeepAlive", id, true, 123);
    await t.call("setKeepAlive", id, false);
    await t.call("setKeepAlive", id, false, 5);
    await t.call("setNoDelay", id, true);
    await t.call("setNoDelay", id, false);
  };

  const s = (await t.call("create", "tcp")).value.socketId;
  await both(s, "tcp new");
  await t.call("listen", s, "127.0.0.1", env.ports.listenPort);
  await both(s, "tcp listening");
  const port = env.ports.listenPort;
  const pending = t.start("accept", s);
  const c = (await t.call("create", "tcp")).value.socketId;
  await t.call("connect", c, "127.0.0.1", port);
  await both(c, "tcp connected");
  const k = (await t.within(pending, 5000)).value.socketId;
  await both(k, "tcp accepted");
  t.fire("disconnect", c);
  await both(c, "tcp after disconnect");
  await t.call("read", k);                            // EOF: 0
  await both(k, "tcp accepted after EOF");
  const r = (await t.call("create", "tcp")).value.socketId;
  await t.call("connect", r, "127.0.0.1", env.ports.closedPort);
  await both(r, "tcp after refused connect");
  for (const id of [s, c, k, r]) t.fire("destroy", id);

  const u = (await t.call("create", "udp")).value.socketId;
  await both(u, "udp new");
  await t.call("bind", u, "127.0.0.1", 0);
  await both(u, "udp bound");
  const v = (await t.call("create", "udp")).value.socketId;
  await t.call("connect", v, "127.0.0.1", env.ports.udpPort);
  await both(v, "udp connected");
  t.fire("destroy", u);
  t.fire("destroy", v);
  return t.entries;
}
