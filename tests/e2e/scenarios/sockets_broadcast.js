// chrome.sockets.udp.setBroadcast: sends to loopback's broadcast address and the limited broadcast address
// before it, with it on, and off again; a socket bound to 0.0.0.0 on the same port hears the broadcast.
async (env) => {
  const t = socketsTranscript(env);
  const {call} = t;
  await t.start();
  const u = (await call("udp.create")).value.socketId;
  await call("udp.bind", u, "0.0.0.0", 0);
  const port = (await call("udp.getInfo", u)).value.localPort;
  t.namePort(port, "broadcaster");
  const sendAll = async () => {
    for (const to of ["127.255.255.255", "255.255.255.255"]) {
      await call("udp.send", u, t.bytes("b"), to, env.ports.closedPort);
    }
  };
  await sendAll();
  await call("udp.setBroadcast", u, true);
  await sendAll();
  await call("udp.setBroadcast", u, false);
  await sendAll();
  await call("udp.close", u);
  const unbound = (await call("udp.create")).value.socketId;
  await call("udp.setBroadcast", unbound, true);
  await call("udp.close", unbound);
  return t.done();
}
