// joinGroup / leaveGroup across address families and odd groups: an IPv4 group on a socket bound to "::",
// an IPv6 group on one bound to 0.0.0.0, a v4-mapped group, unicast and broadcast "groups", a socket bound
// to one address, and the TTL bounds. Each on fresh sockets; no datagram is sent.
async (env) => {
  const t = transcript(env);
  const v4 = "237.132.100.134";
  const v6 = "ff12::1234";

  async function bound(address) {
    const u = (await t.call("create", "udp")).value.socketId;
    await t.call("bind", u, address, 0);
    return u;
  }

  const six = await bound("::");
  await t.call("joinGroup", six, v4);
  await t.call("joinGroup", six, v6);
  await t.call("getJoinedGroups", six);
  await t.call("joinGroup", six, "::ffff:237.132.100.134");
  await t.call("getJoinedGroups", six);
  await t.call("leaveGroup", six, v4);
  await t.call("leaveGroup", six, v6);
  await t.call("leaveGroup", six, "::ffff:237.132.100.134");
  await t.call("getJoinedGroups", six);
  t.fire("destroy", six);

  const four = await bound("0.0.0.0");
  for (const group of [v6, "::ffff:237.132.100.134", "127.0.0.1", "0.0.0.0", "255.255.255.255",
                       "224.0.0.1", "239.255.255.250", "237.132.100"]) {
    await t.call("joinGroup", four, group);
  }
  await t.call("getJoinedGroups", four);
  await t.call("leaveGroup", four, "239.255.255.250");
  await t.call("leaveGroup", four, "237.132.0.100");
  await t.call("getJoinedGroups", four);
  t.fire("destroy", four);

  const one = await bound("127.0.0.1");
  await t.call("joinGroup", one, v4);
  await t.call("getJoinedGroups", one);
  t.fire("destroy", one);

  const loop6 = await bound("::1");
  await t.call("joinGroup", loop6, v4);
  await t.call("joinGroup", loop6, "ff02::1:3");
  await t.call("getJoinedGroups", loop6);
  t.fire("destroy", loop6);

  const ttl = (await t.call("create", "udp")).value.socketId;
  await t.call("setMulticastTimeToLive", ttl, 255);
  await t.call("setMulticastTimeToLive", ttl, 256);
  await t.call("setMulticastTimeToLive", ttl, 2147483647);
  t.fire("destroy", ttl);
  return t.entries;
}
