// chrome.sockets.tcp.secure called again while the first secure() of a paused socket is still in flight
// (same tick), against a TLS server the browser trusts; then what the socket is.
async (env) => {
  const t = socketsTranscript(env);
  const {call} = t;
  await t.start();
  const within = (p, ms) => Promise.race([p, new Promise((r) => setTimeout(() => r(undefined), ms))]);
  const s = (await call("tcp.create")).value.socketId;
  await call("tcp.setPaused", s, true);
  await call("tcp.connect", s, "localhost", env.ports.tlsGoodPort);
  const first = call("tcp.secure", s);
  const second = call("tcp.secure", s);
  t.note("first secure called back result", (await within(first, 5000)) !== undefined);
  t.note("second secure called back result", (await within(second, 5000)) !== undefined);
  await call("tcp.getInfo", s);
  await call("tcp.close", s);
  return t.done();
}
