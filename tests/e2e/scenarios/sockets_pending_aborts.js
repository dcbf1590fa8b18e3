// chrome.sockets: a tcp.connect waiting on a full backlog when the app disconnects or closes the socket,
// and tcpServer.listen / udp.bind followed in the same tick by disconnect or close.
async (env) => {
  const t = socketsTranscript(env);
  const {call} = t;
  await t.start();
  const within = (p, ms) => Promise.race([p, new Promise((r) => setTimeout(() => r(undefined), ms))]);
  const outcome = async (p, ms) => {
    const got = await within(p, ms);
    return got === undefined ? "no callback" : [got.value === undefined ? "<undefined>" : got.value,
                                                 got.lastError || null];
  };
  const raw = (ns, method, ...args) => new Promise((r) => chrome.sockets[ns][method](...args, (v) => {
    r({value: v, lastError: chrome.runtime.lastError ? chrome.runtime.lastError.message : undefined});
  }));
  for (const how of ["disconnect", "close"]) {
    const s = (await call("tcpServer.create")).value.socketId;
    await call("tcpServer.listen", s, "127.0.0.1", 0, 1);
    const port = (await call("tcpServer.getInfo", s)).value.localPort;
    t.namePort(port, `backlog_${how}`);
    await call("tcpServer.setPaused", s, true);
    const clients = [];
    let stuck = null;
    for (let i = 0; i < 8 && stuck === null; i++) {
      const c = (await call("tcp.create")).value.socketId;
      clients.push(c);
      const p = raw("tcp", "connect", c, "127.0.0.1", port);
      if ((await within(p, 400)) === undefined) stuck = {c, p};
    }
    t.note(`a connect waits on a full backlog (${how})`, stuck !== null);
    if (stuck !== null) {
      await call(`tcp.${how}`, stuck.c);
      t.note(`connect when ${how} result`, await outcome(stuck.p, 1000));
    }
    for (const c of clients) if (!(stuck && c === stuck.c && how === "close")) await call("tcp.close", c);
    // The accept that was already waiting when the server paused delivered one connection.
    for (const e of await t.eventsOf("tcpServer", s, 1, 1000)) if (e.client !== undefined) await call("tcp.close", e.client);
    await call("tcpServer.close", s);
  }
  // tcpServer.listen and udp.bind followed in the same tick by disconnect or close.
  for (const how of ["disconnect", "close"]) {
    const s = (await call("tcpServer.create")).value.socketId;
    const listening = raw("tcpServer", "listen", s, "127.0.0.1", 0);
    await call(`tcpServer.${how}`, s);
    t.note(`listen when ${how} at once result`, await outcome(listening, 1000));
    if (how === "disconnect") { await call("tcpServer.getInfo", s); await call("tcpServer.close", s); }
  }
  const u = (await call("udp.create")).value.socketId;
  const binding = raw("udp", "bind", u, "127.0.0.1", 0);
  await call("udp.close", u);
  t.note("bind when close at once result", await outcome(binding, 1000));
  return t.done();
}
