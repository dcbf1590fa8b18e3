// docs/chrome-behaviour.md section 2 joinGroup/leaveGroup/getJoinedGroups/TTL/loopback rows and the UDP
// columns of the section 3 matrix; port range rows (lastError only, checked before the id).
async (env) => {
  const t = transcript(env);
  const group = "237.132.100.134";
  const data = t.bytes("x");

  // Port range checks come before the id lookup.
  await t.call("bind", 99999, "foo", -1);
  await t.call("sendTo", 99999, data, "127.0.0.1", 65536);
  const p = (await t.call("create", "udp")).value.socketId;
  await t.call("connect", p, "127.0.0.1", -1);
  await t.call("connect", p, "127.0.0.1", 65536);
  t.fire("destroy", p);

  // New socket.
  const u = (await t.call("create", "udp")).value.socketId;
  await t.call("getJoinedGroups", u);
  await t.call("joinGroup", u, group);               // not bound: -9
  await t.call("joinGroup", u, "not-an-ip");         // bad literal before the bound check
  await t.call("leaveGroup", u, group);              // not joined: -108
  await t.call("setMulticastTimeToLive", u, 255);
  await t.call("setMulticastTimeToLive", u, -1);
  await t.call("setMulticastLoopbackMode", u, false);

  // Bound.
  await t.call("bind", u, "0.0.0.0", 0);
  await t.call("connect", u, "127.0.0.1", env.ports.udpPort);  // bound: -104
  await t.call("read", u);                                      // bound only: -15
  await t.call("write", u, data);                               // bound only: -15
  await t.call("joinGroup", u, "237.132.100");                  // bad literal
  await t.call("joinGroup", u, "ff02::1");                      // IPv6 group on an IPv4 socket
  await t.call("joinGroup", u, "127.0.0.1");                    // not a multicast address
  await t.call("getJoinedGroups", u);
  await t.call("joinGroup", u, group);
  await t.call("joinGroup", u, group);                          // twice: -108
  await t.call("joinGroup", u, "237.132.100.135");
  await t.call("getJoinedGroups", u);
  await t.call("leaveGroup", u, "237.132.100.136");             // never joined: -108
  await t.call("leaveGroup", u, group);
  await t.call("getJoinedGroups", u);

  // After disconnect: groups cleared, setters still -23, bind works again.
  t.fire("disconnect", u);
  await t.call("getInfo", u);
  await t.call("getJoinedGroups", u);
  await t.call("leaveGroup", u, "237.132.100.135");
  await t.call("setMulticastTimeToLive", u, 1);
  await t.call("setMulticastLoopbackMode", u, true);
  await t.call("bind", u, "127.1", 0);                          // shorthand IPv4 literal (URL rules)
  await t.call("getInfo", u);
  t.fire("destroy", u);

  // Connected only.
  const v = (await t.call("create", "udp")).value.socketId;
  await t.call("connect", v, "127.0.0.1", env.ports.udpPort);
  await t.call("bind", v, "0.0.0.0", 0);                        // connected: -104
  await t.call("joinGroup", v, group);                          // not bound: -9
  await t.call("leaveGroup", v, group);                         // -108
  await t.call("setMulticastTimeToLive", v, 1);                 // after connect: -23
  await t.call("setMulticastLoopbackMode", v, true);
  await t.call("sendTo", v, data, "127.0.0.1", env.ports.udpPort);  // connect-only is not bound: -15
  await t.call("listen", v, "127.0.0.1", 0);
  await t.call("accept", v);
  t.fire("disconnect", v);
  await t.call("getInfo", v);
  await t.call("read", v);
  await t.call("connect", v, "127.0.0.1", env.ports.udpPort);   // connect again after disconnect
  await t.call("write", v, t.bytes(env.udpRequest));
  await t.call("read", v);
  t.fire("destroy", v);
  return t.entries;
}
