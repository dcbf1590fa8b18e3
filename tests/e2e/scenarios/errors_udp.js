// docs/chrome-behaviour.md section 2 / 8.2, UDP rows.
async (env) => {
  const t = transcript(env);
  const fresh = async () => (await t.call("create", "udp")).value.socketId;
  const data = t.bytes("x");

  let u = await fresh();
  await t.call("bind", u, "0.0.0.0", -1);
  await t.call("bind", u, "0.0.0.0", 65536);
  await t.call("sendTo", u, data, "127.0.0.1", -1);
  await t.call("sendTo", u, data, "127.0.0.1", 65536);
  await t.call("read", u);                           // not connected: -15
  await t.call("write", u, data);                    // not connected: -15
  await t.call("recvFrom", u);                       // not bound: -15
  await t.call("sendTo", u, data, "127.0.0.1", env.ports.udpPort);  // not bound: -15
  await t.call("listen", u, "127.0.0.1", 0);         // UDP: -2 + message
  await t.call("accept", u);
  await t.call("joinGroup", u, "237.132.100.133");   // not bound: -9
  await t.call("leaveGroup", u, "237.132.100.133");  // not joined: -108
  await t.call("setMulticastTimeToLive", u, 256);    // -4
  await t.call("bind", u, "localhost", 0);           // not an IP literal: -4
  await t.call("bind", u, "127.0.0.1", 0);
  await t.call("bind", u, "127.0.0.1", 0);           // already bound: -104
  await t.call("setMulticastTimeToLive", u, 1);      // after bind: -23
  await t.call("setMulticastLoopbackMode", u, true); // after bind: -23
  await t.call("joinGroup", u, "not-an-ip");         // -108
  await t.call("getInfo", u);
  await t.call("setNoDelay", u, true);
  await t.call("setKeepAlive", u, true);
  await t.call("secure", u);
  // A datagram bigger than the read buffer: -142.
  await t.call("sendTo", u, t.bytes(env.udpRequest), "127.0.0.1", env.ports.udpPort);
  await t.call("recvFrom", u, 4);
  t.fire("destroy", u);

  u = await fresh();
  await t.call("connect", u, "127.0.0.1", env.ports.udpPort);
  await t.call("getInfo", u);
  await t.call("write", u, t.bytes(env.udpRequest));
  const echoed = await t.call("read", u);
  t.note("connected UDP read echoes", t.text(echoed.value.data) === env.udpRequest);
  await t.call("recvFrom", u);                        // connect-only is not bound: -15
  await t.call("connect", u, "127.0.0.1", env.ports.udpPort);  // already connected: -104
  t.fire("disconnect", u);
  await t.call("getInfo", u);
  t.fire("destroy", u);
  return t.entries;
}
