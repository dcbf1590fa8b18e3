// The order of the keys in the objects chrome.socket hands the app (Object.keys, JSON.stringify, for...in
// see it): transcripts sort keys, so each result's own order is noted here.
async (env) => {
  const t = transcript(env);
  const keys = async (label, pending) => {
    const r = await pending;
    t.note(label + " keys result", r.value && typeof r.value === "object" ? Object.keys(r.value) : typeof r.value);
    return r.value;
  };

  const server = (await keys("create tcp", t.call("create", "tcp"))).socketId;
  await t.call("listen", server, "127.0.0.1", 0);
  const port = (await keys("getInfo listening", t.call("getInfo", server))).localPort;
  const client = (await keys("create tcp", t.call("create", "tcp"))).socketId;
  await keys("getInfo fresh tcp", t.call("getInfo", client));
  const accepted = keys("accept", t.start("accept", server));
  await new Promise((r) => t.api.connect(client, "127.0.0.1", port, r));
  const peer = (await accepted).socketId;
  await keys("getInfo connected", t.call("getInfo", client));
  await keys("getInfo accepted", t.call("getInfo", peer));
  await keys("write", t.call("write", client, t.bytes("abc")));
  await keys("read", t.call("read", peer));
  await keys("read error", t.call("read", server));
  await keys("write error", t.call("write", server, t.bytes("x")));
  t.fire("destroy", peer);
  t.fire("destroy", client);
  t.fire("destroy", server);

  const udp = (await keys("create udp", t.call("create", "udp"))).socketId;
  await t.call("bind", udp, "127.0.0.1", 0);
  await keys("getInfo bound udp", t.call("getInfo", udp));
  // The harness's UDP echo server answers the datagram.
  await keys("sendTo", t.call("sendTo", udp, t.bytes(env.udpRequest), "127.0.0.1", env.ports.udpPort));
  await keys("recvFrom", t.call("recvFrom", udp));
  await keys("getJoinedGroups", t.call("getJoinedGroups", udp));
  t.fire("destroy", udp);
  await keys("getInfo unknown", t.call("getInfo", 987654));
  return t.entries;
}
