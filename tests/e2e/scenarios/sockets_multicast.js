// chrome.sockets.udp multicast on loopback: join, a group datagram arrives as onReceive with its sender,
// getJoinedGroups, join twice, leaveGroup (twice: not joined), udp.send with a DnsQueryType, and the
// DnsQueryType of tcp.connect ("localhost" as ipv4 / ipv6 / any).
async (env) => {
  const t = socketsTranscript(env);
  const {call} = t;
  await t.start();
  const group = "237.132.100.133";
  const r = (await call("udp.create", {name: "receiver"})).value.socketId;
  await call("udp.bind", r, "0.0.0.0", env.ports.mcastPort);
  await call("udp.joinGroup", r, group);
  await call("udp.getJoinedGroups", r);
  await call("udp.joinGroup", r, group);
  const s = (await call("udp.create")).value.socketId;
  await call("udp.bind", s, "127.0.0.1", 0);
  t.namePort((await call("udp.getInfo", s)).value.localPort, "senderPort");
  await call("udp.setMulticastTimeToLive", s, 0);
  await call("udp.send", s, t.bytes("to the group"), group, env.ports.mcastPort);
  await t.eventsOf("udp", r, 1);
  await call("udp.leaveGroup", r, group);
  await call("udp.getJoinedGroups", r);
  await call("udp.leaveGroup", r, group);
  await call("udp.leaveGroup", 0, group);
  await call("udp.send", s, t.bytes("v4"), "localhost", env.ports.udpPort, "ipv4");
  await call("udp.send", s, t.bytes("any"), "127.0.0.1", env.ports.udpPort, "any");
  await t.eventsOf("udp", s, 2);
  await call("udp.close", r);
  await call("udp.close", s);
  for (const type of ["ipv4", "any", "ipv6"]) {
    const c = (await call("tcp.create")).value.socketId;
    await call("tcp.connect", c, "localhost", env.ports.tcpPort, type);
    await call("tcp.close", c);
  }
  return t.done();
}
