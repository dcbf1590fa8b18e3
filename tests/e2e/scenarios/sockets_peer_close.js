// chrome.sockets.tcp when the peer goes away: a paused socket (it reads nothing, so only its sends can meet
// the peer's close) sends to a peer that was closed; then getInfo, more sends, and what resuming reads.
async (env) => {
  const t = socketsTranscript(env);
  const {call} = t;
  await t.start();
  const server = (await call("tcpServer.create")).value.socketId;
  await call("tcpServer.listen", server, "127.0.0.1", 0);
  const port = (await call("tcpServer.getInfo", server)).value.localPort;
  t.namePort(port, "serverPort");
  const c = (await call("tcp.create")).value.socketId;
  await call("tcp.setPaused", c, true);
  await call("tcp.connect", c, "127.0.0.1", port);
  const accepted = (await t.eventsOf("tcpServer", server, 1))[0].client;
  await call("tcp.close", accepted);
  await t.sleep(200);
  await call("tcp.send", c, t.bytes("first"));
  await t.sleep(200);
  await call("tcp.send", c, t.bytes("second"));
  await t.sleep(200);
  await call("tcp.getInfo", c);
  await call("tcp.send", c, t.bytes("third"));
  await call("tcp.getInfo", c);
  await call("tcp.send", c, t.bytes("fourth"));
  await call("tcp.setPaused", c, false);
  await t.eventsOf("tcp", c, 1, 1000);
  await call("tcp.getInfo", c);
  await call("tcp.close", c);
  await call("tcpServer.close", server);
  return t.done();
}
