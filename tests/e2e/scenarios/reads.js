// docs/chrome-behaviour.md section 2 read/recvFrom rows: read sizes and partial reads, bufferSize 0 and
// -1, UDP truncation (-142) on read and recvFrom, and that a truncated datagram does not spoil the next one.
async (env) => {
  const t = transcript(env);
  const request = t.bytes(env.tcpRequest);

  // Checks before the connection: the state decides before the size.
  let s = (await t.call("create", "tcp")).value.socketId;
  await t.call("read", s, 0);
  await t.call("read", s, -1);
  await t.call("connect", s, "127.0.0.1", env.ports.tcpPort);
  await t.call("read", s, 0);                       // bufferSize <= 0 on TCP: -4
  await t.call("read", s, -1);
  await t.call("write", s, request);
  // The echo reply comes as one write: a 10-byte read gets exactly the first 10 bytes.
  const first = await t.call("read", s, 10);
  t.note("first read is the start of the reply", t.text(first.value.data) === "HTTP/1.1 2");
  const rest = await t.call("read", s, 4096);
  t.note("second read ends with the body", /\n0100000005320000005$/.test(t.text(rest.value.data)));
  t.fire("disconnect", s);
  await t.call("read", s, 0);                       // disconnected: -15 (state before size)
  t.fire("destroy", s);

  // UDP: bufferSize < 0 is -4, 0 is a legal size.
  const u = (await t.call("create", "udp")).value.socketId;
  await t.call("recvFrom", u, -1);                  // unbound and negative: which check first
  await t.call("bind", u, "127.0.0.1", 0);
  await t.call("recvFrom", u, -1);
  const zero = t.start("recvFrom", u, 0);
  await t.call("sendTo", u, t.bytes("abc"), "127.0.0.1", env.ports.udpPort);
  await t.within(zero, 5000);                        // a 3-byte datagram into a 0-byte buffer
  await t.call("sendTo", u, t.bytes(env.udpRequest), "127.0.0.1", env.ports.udpPort);
  await t.call("recvFrom", u, 18);                   // one byte short: -142
  await t.call("sendTo", u, t.bytes(env.udpRequest), "127.0.0.1", env.ports.udpPort);
  await t.call("recvFrom", u, 19);                   // exactly the size: whole datagram
  t.fire("destroy", u);

  // Connected UDP read: -4, then truncation, then a whole datagram.
  const c = (await t.call("create", "udp")).value.socketId;
  await t.call("read", c, -1);
  await t.call("connect", c, "127.0.0.1", env.ports.udpPort);
  await t.call("read", c, -1);
  await t.call("write", c, t.bytes(env.udpRequest));
  await t.call("read", c, 4);
  await t.call("write", c, t.bytes(env.udpRequest));
  await t.call("read", c);
  t.fire("destroy", c);
  return t.entries;
}
