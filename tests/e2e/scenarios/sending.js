// docs/chrome-behaviour.md 7.1 testSending: one echo round trip, TCP through the HTTP-ish echo server
// (connect to the mixed-case "lOcAlHoSt"), UDP through the UDP echo server.
async (env) => {
  const t = transcript(env);
  const tcp = env.protocol === "tcp";
  const request = tcp ? env.tcpRequest : env.udpRequest;
  const id = (await t.call("create", env.protocol, {})).value.socketId;
  if (tcp) await t.call("connect", id, "lOcAlHoSt", env.ports.tcpPort);
  else await t.call("bind", id, "0.0.0.0", 0);
  await t.call("getInfo", id);
  await t.call("setNoDelay", id, true);
  await t.call("setKeepAlive", id, true, 1000);
  const sent = tcp
    ? await t.call("write", id, t.bytes(request))
    : await t.call("sendTo", id, t.bytes(request), "127.0.0.1", env.ports.udpPort);
  t.note("bytesWritten == request length", sent.value && sent.value.bytesWritten === request.length);
  const got = tcp ? await t.call("read", id) : await t.call("recvFrom", id);
  t.note("resultCode == data.byteLength", got.value.resultCode === got.value.data.byteLength);
  t.note("echo matches", tcp ? /\n0100000005320000005$/.test(t.text(got.value.data))
                             : t.text(got.value.data) === env.udpRequest);
  t.fire("destroy", id);
  return t.entries;
}
