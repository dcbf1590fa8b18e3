// chrome.sockets edges the other scenarios leave out: UDP datagrams at and past the size limits, the
// multicast TTL bounds, and a DnsQueryType that an IP literal of the other family cannot meet.
async (env) => {
  const t = socketsTranscript(env);
  const {call} = t;
  await t.start();
  const u = (await call("udp.create")).value.socketId;
  await call("udp.setMulticastTimeToLive", u, 255);
  await call("udp.setMulticastTimeToLive", u, 256);
  await call("udp.setMulticastTimeToLive", u, 300);
  await call("udp.setMulticastTimeToLive", u, -1);
  await call("udp.bind", u, "127.0.0.1", 0);
  // To a closed port: what is compared is the result of each send, not what happens to the datagram.
  for (const size of [65507, 65508, 65535, 65536]) {
    await call("udp.send", u, new ArrayBuffer(size), "127.0.0.1", env.ports.closedPort);
  }
  await call("udp.send", u, new ArrayBuffer(0), "127.0.0.1", env.ports.closedPort);
  await call("udp.close", u);

  for (const [address, type] of [["127.0.0.1", "ipv6"], ["::1", "ipv4"], ["127.0.0.1", "ipv4"]]) {
    const c = (await call("tcp.create")).value.socketId;
    await call("tcp.connect", c, address, env.ports.closedPort, type);
    await call("tcp.close", c);
  }
  const s = (await call("udp.create")).value.socketId;
  await call("udp.bind", s, "0.0.0.0", 0);
  await call("udp.send", s, t.bytes("x"), "::1", env.ports.closedPort, "ipv4");
  await call("udp.send", s, t.bytes("x"), "127.0.0.1", env.ports.closedPort, "ipv6");
  await call("udp.close", s);
  return t.done();
}
