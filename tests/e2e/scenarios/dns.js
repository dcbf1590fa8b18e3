// docs/chrome-behaviour.md connect step 4 and sendTo step 4: DNS failure is a code + "DNS resolution
// failed" (connect: a number; sendTo: a bare number). In the tests' loopback-only namespace Chrome 156
// answers -106 (docs/chrome-behaviour.md 9); the socket stays usable.
async (env) => {
  const t = transcript(env);
  const s = (await t.call("create", "tcp")).value.socketId;
  await t.call("connect", s, "nonexistent.invalid", env.ports.tcpPort);
  await t.call("getInfo", s);
  await t.call("connect", s, "127.0.0.1", env.ports.tcpPort);
  t.fire("destroy", s);
  const u = (await t.call("create", "udp")).value.socketId;
  await t.call("connect", u, "nonexistent.invalid", env.ports.udpPort);
  await t.call("bind", u, "127.0.0.1", 0);
  await t.call("sendTo", u, t.bytes("x"), "nonexistent.invalid", env.ports.udpPort);
  t.fire("destroy", u);
  return t.entries;
}
