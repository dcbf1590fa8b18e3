// The order of the keys in the objects chrome.sockets hands callbacks and listeners (Object.keys and
// JSON.stringify see it; the transcript sorts keys, so each object's own order is noted).
async (env) => {
  const t = socketsTranscript(env);
  const {call} = t;
  await t.start();
  const seen = new Map();
  const listeners = [];
  for (const [ns, name] of [["tcp", "onReceive"], ["tcp", "onReceiveError"], ["tcpServer", "onAccept"],
                            ["udp", "onReceive"]]) {
    const fn = (info) => { if (!seen.has(`${ns}.${name}`)) seen.set(`${ns}.${name}`, Object.keys(info)); };
    chrome.sockets[ns][name].addListener(fn);
    listeners.push([ns, name, fn]);
  }
  const keys = async (label, pending) => {
    const r = await pending;
    t.note(label + " keys result", r.value && typeof r.value === "object"
      // getSockets: Chrome's order of the sockets is its hash map's, so the key lists are sorted.
      ? (Array.isArray(r.value) ? r.value.map((x) => Object.keys(x)).sort() : Object.keys(r.value)) : typeof r.value);
    return r.value;
  };

  const server = (await keys("tcpServer.create", call("tcpServer.create"))).socketId;
  await call("tcpServer.listen", server, "127.0.0.1", 0);
  const port = (await keys("tcpServer.getInfo", call("tcpServer.getInfo", server))).localPort;
  t.namePort(port, "serverPort");
  const client = (await keys("tcp.create", call("tcp.create"))).socketId;
  await keys("tcp.getInfo new", call("tcp.getInfo", client));
  await call("tcp.connect", client, "127.0.0.1", port);
  const accepted = (await t.eventsOf("tcpServer", server, 1))[0].client;
  await keys("tcp.getInfo connected", call("tcp.getInfo", client));
  await keys("tcp.send", call("tcp.send", client, t.bytes("abc")));
  await t.received(accepted, 3);
  await keys("tcp.getSockets", call("tcp.getSockets"));
  await call("tcp.close", accepted);
  await t.eventsOf("tcp", client, 1);
  await call("tcp.close", client);
  await call("tcpServer.close", server);

  const u = (await keys("udp.create", call("udp.create"))).socketId;
  await call("udp.bind", u, "127.0.0.1", 0);
  const info = await keys("udp.getInfo", call("udp.getInfo", u));
  t.namePort(info.localPort, "udpLocal");
  await keys("udp.send", call("udp.send", u, t.bytes("hi"), "127.0.0.1", info.localPort));
  await t.eventsOf("udp", u, 1);
  await call("udp.close", u);

  for (const [ns, name, fn] of listeners) chrome.sockets[ns][name].removeListener(fn);
  t.note("event keys result", [...seen.entries()].sort());
  return t.done();
}
