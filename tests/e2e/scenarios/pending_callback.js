// docs/chrome-behaviour.md 7.1 testPendingCallback: read, disconnect and connect issued in one tick are
// applied in that order, and the old pending read does not block the new one.
async (env) => {
  const t = transcript(env);
  const tcp = env.protocol === "tcp";
  const request = tcp ? env.tcpRequest : env.udpRequest;
  const id = (await t.call("create", env.protocol, null)).value.socketId;
  const open = () => tcp ? t.start("connect", id, "127.0.0.1", env.ports.tcpPort) : t.start("bind", id, "0.0.0.0", 0);
  await open();
  // CB1's result is "undefined behaviour" in Chromium's test; record only that it came.
  const cb1 = tcp ? t.start("read", id) : t.start("recvFrom", id);
  const cb1Entry = t.entries[t.entries.length - 1];
  t.fire("disconnect", id);
  const cb2 = open();
  const reopened = await cb2;
  const cb3 = tcp ? t.start("read", id) : t.start("recvFrom", id);
  if (tcp) await t.call("write", id, t.bytes(request));
  else await t.call("sendTo", id, t.bytes(request), "127.0.0.1", env.ports.udpPort);
  const third = await t.within(cb3, 5000);
  t.note("cb2 result", reopened.value);
  t.note("cb3 resultCode >= 0", third !== undefined && third.value.resultCode >= 0);
  const first = await t.within(cb1, 1000);
  t.note("cb1 called", first !== undefined);
  t.fire("destroy", id);
  // Keep the unchecked CB1 entry out of the comparison: its value is undefined behaviour.
  return t.entries.filter((e) => e !== cb1Entry);
}
