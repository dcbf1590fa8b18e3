// chrome.sockets.tcp and .tcpServer end to end on loopback: properties, ids, accept (paused), data both ways,
// options, errors for unknown and unconnected sockets, peer close, disconnect and close.
async (env) => {
  const t = socketsTranscript(env);
  const {call} = t;
  await t.start();
  const server = (await call("tcpServer.create", {name: "server"})).value.socketId;
  await call("tcpServer.listen", server, "127.0.0.1", 0);
  const port = (await call("tcpServer.getInfo", server)).value.localPort;
  t.namePort(port, "serverPort");
  const client = (await call("tcp.create", {name: "client", bufferSize: 1024})).value.socketId;
  const plain = (await call("tcp.create")).value.socketId;
  await call("tcp.getInfo", client);
  await call("tcp.update", client, {persistent: true});
  await call("tcp.getSockets");
  await call("tcp.send", client, t.bytes("early"));
  await call("tcp.secure", client);
  await call("tcp.setNoDelay", client, true);
  await call("tcp.setKeepAlive", client, true, 5);
  await call("tcp.connect", plain, "127.0.0.1", env.ports.closedPort);
  await call("tcp.getInfo", plain);
  await call("tcp.connect", client, "127.0.0.1", port);
  const peer = (await t.eventsOf("tcpServer", server, 1))[0].client;
  await call("tcp.getInfo", client);
  await call("tcp.getInfo", peer);
  await call("tcp.getSockets"); // the accepted socket is listed too
  await call("tcp.connect", client, "127.0.0.1", port);
  await call("tcp.setNoDelay", client, false);
  await call("tcp.setKeepAlive", client, true, 5);
  await call("tcp.send", client, t.bytes("hello from the client"));
  await t.sleep(100);
  t.note("paused peer got nothing", await t.eventsOf("tcp", peer, 1, 0));
  await call("tcp.setPaused", peer, false);
  await t.received(peer, 21);
  await call("tcp.send", peer, t.bytes("and back"));
  await call("tcp.send", peer, new ArrayBuffer(0));
  await t.received(client, 8);
  await call("tcp.setPaused", client, true);
  await call("tcp.getInfo", client);
  await call("tcp.close", peer);
  await t.sleep(200);
  await call("tcp.setPaused", client, false);
  await t.eventsOf("tcp", client, 2);
  await call("tcp.getInfo", client);
  await call("tcp.send", client, t.bytes("late"));
  await call("tcp.disconnect", client);
  await call("tcp.getInfo", client);
  await call("tcp.close", client);
  await call("tcp.close", client);
  await call("tcp.getInfo", client);
  await call("tcp.close", plain);
  await call("tcpServer.close", server);
  await call("tcpServer.getSockets");
  return t.done();
}
