// docs/chrome-behaviour.md 4.2 / 4.3 and 8.3, run where the only rule is "tcp-connect:localhost:*" (the
// Chrome App's manifest, and resocket's grant): the host is matched as given, before DNS; every other
// call that checks a rule is denied with -1 + "App does not have permission"; calls that check no rule work.
async (env) => {
  const t = transcript(env);
  const data = t.bytes("x");
  const s = (await t.call("create", "tcp")).value.socketId;
  await t.call("connect", s, "127.0.0.1", env.ports.tcpPort);    // not the string "localhost": denied
  await t.call("connect", s, "LocalHost", env.ports.tcpPort);    // case-insensitive: allowed
  await t.call("getInfo", s);
  await t.call("setNoDelay", s, true);
  await t.call("sendTo", s, data, "127.0.0.1", env.ports.udpPort); // TCP: no rule checked, -2
  t.fire("destroy", s);

  const l = (await t.call("create", "tcp")).value.socketId;
  await t.call("listen", l, "127.0.0.1", 0);
  await t.call("bind", l, "127.0.0.1", 0);                         // TCP bind message comes first
  t.fire("destroy", l);

  const u = (await t.call("create", "udp")).value.socketId;
  await t.call("listen", u, "127.0.0.1", 0);                       // tcp-listen checked before the type
  await t.call("bind", u, "127.0.0.1", 0);
  await t.call("connect", u, "localhost", env.ports.udpPort);      // udp-send-to
  await t.call("sendTo", u, data, "localhost", env.ports.udpPort); // bare -1
  await t.call("joinGroup", u, "237.132.100.133");
  await t.call("leaveGroup", u, "237.132.100.133");
  await t.call("getJoinedGroups", u);
  await t.call("setMulticastTimeToLive", u, 2);                    // no rule checked
  await t.call("setMulticastLoopbackMode", u, false);
  await t.call("getInfo", u);
  t.fire("destroy", u);
  return t.entries;
}
