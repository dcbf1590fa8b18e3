// chrome.sockets: a tcp.connect waiting on a full backlog when the app disconnects or closes the socket,
// a case where Chrome 156 never calls the connect back. (A listen or bind followed in the same tick by
// disconnect or close is left out: Chrome races there, and under load it sometimes calls back.)
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
  return t.done();
}
