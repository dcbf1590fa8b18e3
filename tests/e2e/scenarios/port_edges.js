// Port 0 where a peer is named (connect, sendTo), and ports past 65535: listen takes them modulo 65536
// (70000 listens on 4464), bind and connect refuse them.
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

  const l = (await t.call("create", "tcp")).value.socketId;
  await t.call("listen", l, "127.0.0.1", 70000);
  t.note("listen 70000 port result", (await t.call("getInfo", l)).value.localPort);
  t.fire("destroy", l);
  const b = (await t.call("create", "udp")).value.socketId;
  await t.call("bind", b, "127.0.0.1", 70001);
  t.note("bind 70001 port result", (await t.call("getInfo", b)).value.localPort);
  t.fire("destroy", b);
  // The port here is the harness's, so the call is noted rather than recorded with its arguments.
  const w = (await t.call("create", "tcp")).value.socketId;
  t.note("connect to the echo port + 65536 result", await new Promise((r) => t.api.connect(
    w, "127.0.0.1", env.ports.tcpPort + 65536,
    (code) => r([code, chrome.runtime.lastError ? chrome.runtime.lastError.message : null]))));
  await t.call("getInfo", w);
  t.fire("destroy", w);
  return t.entries;
}
