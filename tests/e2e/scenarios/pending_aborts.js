// Quirk 7 (docs/chrome-behaviour.md 6): disconnect or destroy while an accept or a connect waits. The
// reference says the callback never fires. A connect is made to wait by a listener whose backlog is full.
// Quirk 6: a UDP read or recvFrom waiting when the socket is disconnected or destroyed.
async (env) => {
  const t = transcript(env);
  const outcome = async (pending, ms) => {
    const got = await t.within(pending, ms);
    return got === undefined ? "no callback" : [got.value === undefined ? "<undefined>" : got.value,
                                                 got.lastError || null];
  };
  for (const how of ["disconnect", "destroy"]) {
    const s = (await t.call("create", "tcp")).value.socketId;
    await t.call("listen", s, "127.0.0.1", 0);
    const waiting = t.start("accept", s);
    t.fire(how, s);
    t.note(`accept when ${how} result`, await outcome(waiting, 1000));
    if (how === "disconnect") t.fire("destroy", s);
  }
  for (const how of ["disconnect", "destroy"]) {
    const s = (await t.call("create", "tcp")).value.socketId;
    await t.call("listen", s, "127.0.0.1", 0, 1);
    const port = (await t.call("getInfo", s)).value.localPort;
    const clients = [];
    let stuck = null;
    for (let i = 0; i < 8 && stuck === null; i++) {
      const c = (await t.call("create", "tcp")).value.socketId;
      clients.push(c);
      const p = new Promise((r) => t.api.connect(c, "127.0.0.1", port, (v) => {
        r({value: v, lastError: chrome.runtime.lastError ? chrome.runtime.lastError.message : undefined});
      }));
      if ((await t.within(p, 400)) === undefined) stuck = {c, p};
    }
    t.note(`a connect waits on a full backlog (${how})`, stuck !== null);
    if (stuck !== null) {
      t.fire(how, stuck.c);
      t.note(`connect when ${how} result`, await outcome(stuck.p, 1000));
      if (how === "disconnect") {
        await t.call("getInfo", stuck.c);
        await t.call("read", stuck.c);
      }
    }
    for (const c of clients) if (!stuck || c !== stuck.c || how === "disconnect") t.fire("destroy", c);
    t.fire("destroy", s);
  }
  // secure() whose handshake waits (the peer, an accepted socket of this page, never answers).
  for (const how of ["disconnect", "destroy"]) {
    const s = (await t.call("create", "tcp")).value.socketId;
    await t.call("listen", s, "127.0.0.1", 0);
    const port = (await t.call("getInfo", s)).value.localPort;
    const accepted = t.start("accept", s);
    const c = (await t.call("create", "tcp")).value.socketId;
    await new Promise((r) => t.api.connect(c, "127.0.0.1", port, r));
    const peer = (await accepted).value.socketId;
    const securing = t.start("secure", c);
    t.note(`secure waits (${how})`, (await t.within(securing, 300)) === undefined);
    t.fire(how, c);
    t.note(`secure when ${how} result`, await outcome(securing, 1000));
    if (how === "disconnect") await t.call("getInfo", c);
    if (how === "disconnect") t.fire("destroy", c);
    t.fire("destroy", peer);
    t.fire("destroy", s);
  }
  // Quirk 6: a UDP read waiting when the socket is disconnected or destroyed; a recvFrom likewise.
  for (const how of ["disconnect", "destroy"]) {
    const u = (await t.call("create", "udp")).value.socketId;
    await t.call("connect", u, "127.0.0.1", env.ports.closedPort);
    const waiting = t.start("read", u);
    t.fire(how, u);
    t.note(`udp read when ${how} result`, await outcome(waiting, 1000));
    const v = (await t.call("create", "udp")).value.socketId;
    await t.call("bind", v, "127.0.0.1", 0);
    const receiving = t.start("recvFrom", v);
    t.fire(how, v);
    t.note(`udp recvFrom when ${how} result`, await outcome(receiving, 1000));
    if (how === "disconnect") { t.fire("destroy", u); t.fire("destroy", v); }
  }
  return t.entries;
}
