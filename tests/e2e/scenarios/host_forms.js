// How connect and sendTo read the forms a host can be written in: IPv4 shorthands and numbers, trailing
// dots, brackets, spaces, a port inside the host, the empty string. Each on a fresh socket, to the echo
// servers; getInfo tells where a connection went.
async (env) => {
  const t = transcript(env);
  const forms = ["127.1", "127.0.0.1.", "localhost.", "[127.0.0.1]", "[::1]", "::1", " 127.0.0.1", "127.0.0.1 ",
                 "127.0.0.01", "0x7f000001", "2130706433", "", "127.0.0.1:1", "127.000.000.001", "0177.0.0.1",
                 "LOCALHOST", "::ffff:127.0.0.1", "127.0.0.1%lo"];
  for (const host of forms) {
    const s = (await t.call("create", "tcp")).value.socketId;
    const r = await t.call("connect", s, host, env.ports.tcpPort);
    if (r.value === 0) await t.call("getInfo", s); // its peerAddress: where the connection went
    t.fire("destroy", s);
  }
  const u = (await t.call("create", "udp")).value.socketId;
  await t.call("bind", u, "0.0.0.0", 0);
  for (const host of forms) {
    const sent = await t.call("sendTo", u, t.bytes("x"), host, env.ports.udpPort);
    if (sent.value && sent.value.bytesWritten > 0) {
      if (!(await t.within(t.call("recvFrom", u), 1000))) break; // its address: who answered
    }
  }
  t.fire("destroy", u);
  // A socket bound to "::" reaches an IPv4 address (as a v4-mapped one: the answer comes from ::ffff:...).
  const v6 = (await t.call("create", "udp")).value.socketId;
  await t.call("bind", v6, "::", 0);
  await t.call("sendTo", v6, t.bytes("y"), "127.0.0.1", env.ports.udpPort);
  await t.within(t.call("recvFrom", v6), 1000);
  t.fire("destroy", v6);
  return t.entries;
}
