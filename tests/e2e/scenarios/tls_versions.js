// secure()'s tlsVersion against a TLS 1.2/1.3 server: names Chrome does not know, a range below the
// server's, min above max, case. Each on a fresh connection; a failed secure() removes the socket.
async (env) => {
  const t = transcript(env);
  const P = env.ports;
  const options = [{min: "tls1.4"}, {min: "ssl3"}, {max: "tls1.1"}, {max: "tls1"}, {min: "tls1.3", max: "tls1.2"},
                   {min: ""}, {max: "TLS1.3"}, {}, {min: "tls1.2", max: "tls1.2"}, {max: "tls1.4"}];
  for (const tlsVersion of options) {
    const s = (await t.call("create", "tcp")).value.socketId;
    await t.call("connect", s, "localhost", P.tlsGoodPort);
    const r = await t.call("secure", s, {tlsVersion});
    if (r.value === 0) {
      await t.call("write", s, t.bytes("v"));
      await t.call("read", s);
    }
    t.fire("destroy", s);
  }
  return t.entries;
}
