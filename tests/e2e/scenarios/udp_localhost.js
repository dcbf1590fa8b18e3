// docs/chrome-behaviour.md 9: sendTo "localhost" from a socket bound to 127.0.0.1 uses only the first
// resolved address (Chromium resolves localhost to ::1 first); TCP connect tries every address.
async (env) => {
  const t = transcript(env);
  const u = (await t.call("create", "udp")).value.socketId;
  await t.call("bind", u, "127.0.0.1", 0);
  await t.call("sendTo", u, t.bytes(env.udpRequest), "localhost", env.ports.udpPort);
  t.fire("destroy", u);
  const s = (await t.call("create", "tcp")).value.socketId;
  await t.call("connect", s, "localhost", env.ports.tcpPort);
  await t.call("getInfo", s);
  t.fire("destroy", s);
  return t.entries;
}
