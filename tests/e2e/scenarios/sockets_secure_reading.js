// chrome.sockets.tcp.secure on a socket paused only after it connected: Chrome 156 started reading at
// connect and that read is still in progress, so secure fails with -2, the socket is removed and the read
// ends with onReceiveError -100.
async (env) => {
  const t = socketsTranscript(env);
  const {call} = t;
  await t.start();
  const s = (await call("tcp.create")).value.socketId;
  await call("tcp.connect", s, "localhost", env.ports.tlsGoodPort);
  await call("tcp.setPaused", s, true);
  await call("tcp.secure", s);
  await call("tcp.getInfo", s);
  await t.eventsOf("tcp", s, 1);
  await call("tcp.close", s);
  return t.done();
}
