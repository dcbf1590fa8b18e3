// Broadcast addresses without SO_BROADCAST (chrome.socket has no setBroadcast): sendTo and a UDP connect to
// loopback's broadcast address and to the limited broadcast address, from sockets bound to 0.0.0.0 and
// to 127.0.0.1.
async (env) => {
  const t = transcript(env);
  for (const local of ["0.0.0.0", "127.0.0.1"]) {
    const u = (await t.call("create", "udp")).value.socketId;
    await t.call("bind", u, local, 0);
    await t.call("sendTo", u, t.bytes("x"), "127.255.255.255", env.ports.udpPort);
    await t.call("sendTo", u, t.bytes("x"), "255.255.255.255", env.ports.udpPort);
    await t.call("sendTo", u, t.bytes("x"), "127.0.0.1", env.ports.udpPort);
    t.fire("destroy", u);
  }
  for (const peer of ["127.255.255.255", "255.255.255.255"]) {
    const c = (await t.call("create", "udp")).value.socketId;
    await t.call("connect", c, peer, env.ports.udpPort);
    await t.call("write", c, t.bytes("x"));
    t.fire("destroy", c);
  }
  return t.entries;
}
