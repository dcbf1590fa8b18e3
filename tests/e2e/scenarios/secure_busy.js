// Calls made while secure() is in flight (same tick, after it): a read, a write, getInfo; then what the
// socket is once the handshake is done. Not asked: setNoDelay / setKeepAlive, which Chrome 156 answers false
// or never (it raced in the same browser), and disconnect, which pending_aborts covers with a silent peer.
async (env) => {
  const t = transcript(env);
  const P = env.ports;
  for (const op of ["read", "write", "getInfo"]) {
    const s = (await t.call("create", "tcp")).value.socketId;
    await t.call("connect", s, "localhost", P.tlsGoodPort);
    const secure = t.start("secure", s);
    let other;
    if (op === "read") other = t.start("read", s);
    else if (op === "write") other = t.start("write", s, t.bytes("during"));
    else other = t.start("getInfo", s);
    t.note(`secure with ${op} called back result`, (await t.within(secure, 5000)) !== undefined);
    t.note(`${op} called back result`, (await t.within(other, 5000)) !== undefined);
    await t.call("getInfo", s);
    t.fire("destroy", s);
  }
  return t.entries;
}
