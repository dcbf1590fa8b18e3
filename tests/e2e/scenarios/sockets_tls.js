// chrome.sockets.tcp.secure that succeeds (loopback TLS echo server whose test CA the browser trusts: NSS db
// for Chrome, SSL_CERT_FILE for resocket's host): paused first, then data both ways over TLS; a tlsVersion
// range; a self-signed server's certificate refused (and that socket removed). Each socket is paused before
// it connects, so no read is in progress (sockets_secure_reading.js: what happens otherwise).
async (env) => {
  const t = socketsTranscript(env);
  const {call} = t;
  await t.start();
  const P = env.ports;
  const s = (await call("tcp.create")).value.socketId;
  await call("tcp.setPaused", s, true);
  await call("tcp.connect", s, "localhost", P.tlsGoodPort);
  await call("tcp.secure", s);
  await call("tcp.getInfo", s);
  await call("tcp.setPaused", s, false);
  await call("tcp.send", s, t.bytes("hello tls"));
  await t.received(s, 9);
  await call("tcp.secure", s);
  await call("tcp.close", s);
  const v = (await call("tcp.create")).value.socketId;
  await call("tcp.setPaused", v, true);
  await call("tcp.connect", v, "localhost", P.tlsGoodPort);
  await call("tcp.secure", v, {tlsVersion: {min: "tls1.2", max: "tls1.3"}});
  await call("tcp.setPaused", v, false);
  await call("tcp.send", v, t.bytes("v"));
  await t.received(v, 1);
  await call("tcp.close", v);
  const bad = (await call("tcp.create")).value.socketId;
  await call("tcp.setPaused", bad, true);
  await call("tcp.connect", bad, "localhost", P.tlsSelfSignedPort);
  await call("tcp.secure", bad);
  await call("tcp.getInfo", bad);
  return t.done();
}
