// secure() called again while the first secure() of the socket is still in flight (same tick), against a
// TLS server the browser trusts and against a self-signed one (handshake fails); then what the socket is.
async (env) => {
  const t = transcript(env);
  const P = env.ports;
  const connected = async (host, port) => {
    const id = (await t.call("create", "tcp")).value.socketId;
    await t.call("connect", id, host, port);
    return id;
  };
  for (const port of [P.tlsGoodPort, P.tlsSelfSignedPort]) {
    const s = await connected("localhost", port);
    const first = t.start("secure", s);
    const second = t.start("secure", s);
    t.note("first secure called back result", (await t.within(first, 5000)) !== undefined);
    t.note("second secure called back result", (await t.within(second, 5000)) !== undefined);
    await t.call("getInfo", s);
    await t.call("write", s, t.bytes("after two secures"));
    const r = await t.within(t.start("read", s), 3000);
    t.note("echo after two secures result", r && r.value && r.value.data ? t.text(r.value.data) : null);
    t.fire("destroy", s);
  }
  return t.entries;
}
