// chrome.sockets where the permissions are narrow (test_sockets_differential.py, NARROW_SOCKETS_KEY): tcp
// connect only to "localhost", udp bind only to 127.0.0.1 and send only to "localhost", no tcpServer and
// no multicast. Hosts are matched as given, before DNS; the calls that check no permission still work.
async (env) => {
  const t = socketsTranscript(env);
  const {call} = t;
  await t.start();
  const c = (await call("tcp.create")).value.socketId;
  await call("tcp.connect", c, "127.0.0.1", env.ports.tcpPort);   // not the string "localhost": denied
  await call("tcp.connect", c, "LocalHost", env.ports.tcpPort);
  await call("tcp.getInfo", c);
  await call("tcp.setNoDelay", c, true);
  await call("tcp.close", c);

  const s = (await call("tcpServer.create")).value.socketId;
  await call("tcpServer.listen", s, "127.0.0.1", 0);
  await call("tcpServer.getInfo", s);
  await call("tcpServer.close", s);

  const u = (await call("udp.create")).value.socketId;
  await call("udp.bind", u, "0.0.0.0", 0);                        // denied
  await call("udp.bind", u, "127.0.0.1", 0);
  await call("udp.send", u, t.bytes("x"), "127.0.0.1", env.ports.udpPort);  // denied
  await call("udp.send", u, t.bytes("echo"), "localhost", env.ports.udpPort);  // ::1 first: -109 from IPv4
  await call("udp.send", u, t.bytes("echo"), "localhost", env.ports.udpPort, "ipv4");
  await call("udp.joinGroup", u, "237.132.100.133");
  await call("udp.leaveGroup", u, "237.132.100.133");
  await call("udp.getJoinedGroups", u);
  await call("udp.setMulticastTimeToLive", u, 2);
  await call("udp.setMulticastLoopbackMode", u, false);
  await call("udp.setBroadcast", u, true);
  await t.eventsOf("udp", u, 1);
  await call("udp.close", u);
  return t.done();
}
