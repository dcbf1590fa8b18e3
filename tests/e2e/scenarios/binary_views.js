// chrome.socket's `binary` parameters in Chromium 156 take an ArrayBuffer or any view of one (a Uint8Array,
// a DataView, a Uint16Array), and what goes out is the view's bytes, not its whole buffer. Apps that build
// packets in typed arrays depend on it. Through the UDP echo server: sendTo and, once connected, write.
async (env) => {
  const t = transcript(env);
  const buf = t.bytes("0123456789");
  const views = () => [new Uint8Array(buf, 2, 5), new DataView(buf, 1, 3), new Uint16Array(buf, 4, 2),
                       new Uint8Array(buf), new Uint8Array(buf, 10, 0)];
  const u = (await t.call("create", "udp")).value.socketId;
  await t.call("bind", u, "0.0.0.0", 0);
  for (const view of views()) {
    const sent = await t.call("sendTo", u, view, "127.0.0.1", env.ports.udpPort);
    if (sent.value && sent.value.bytesWritten > 0) await t.call("recvFrom", u);
  }
  t.fire("destroy", u);
  const c = (await t.call("create", "udp")).value.socketId;
  await t.call("connect", c, "127.0.0.1", env.ports.udpPort);
  for (const view of views()) {
    const sent = await t.call("write", c, view);
    if (sent.value && sent.value.bytesWritten > 0) await t.call("read", c);
  }
  t.fire("destroy", c);
  return t.entries;
}
