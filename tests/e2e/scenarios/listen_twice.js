// listen on a socket that is already listening (chrome.socket; a DCHECK in Chrome's source). Chrome 156
// answers 0 and getInfo shows the new port, but the accept already waiting, and every later one, take
// connections from the first listener only; the first port stays taken.
async (env) => {
  const t = transcript(env);
  const connectTo = async (port) => {
    const c = (await t.call("create", "tcp")).value.socketId;
    const code = await new Promise((r) => t.api.connect(c, "127.0.0.1", port, (v) => {
      r([v, chrome.runtime.lastError ? chrome.runtime.lastError.message : null]);
    }));
    return [c, code];
  };
  const s = (await t.call("create", "tcp")).value.socketId;
  await t.call("listen", s, "127.0.0.1", 0);
  const first = (await t.call("getInfo", s)).value.localPort;
  const waiting = t.start("accept", s);
  await t.call("listen", s, "127.0.0.1", 0);
  const second = (await t.call("getInfo", s)).value.localPort;
  t.note("a new port result", second !== first);
  t.note("the waiting accept ended result", (await t.within(waiting, 500)) !== undefined);
  const [a, toOld] = await connectTo(first);
  t.note("connect to the old port result", toOld);
  t.note("the waiting accept ended after it result", (await t.within(waiting, 1000)) !== undefined);
  const [b, toNew] = await connectTo(second);
  t.note("connect to the new port result", toNew);
  t.note("the waiting accept ended after both result", (await t.within(waiting, 1000)) !== undefined);
  const later = t.start("accept", s);
  const next = await t.within(later, 1000);
  t.note("a new accept result", next === undefined ? "none" : [next.value, next.lastError || null]);
  const [c, again] = await connectTo(first);
  t.note("connect to the old port again result", again);
  const after = await t.within(later, 1000);
  t.note("the new accept after that result", after === undefined ? "none" : [after.value, after.lastError || null]);
  // Its port is ephemeral, so this listen is noted rather than recorded with its arguments.
  t.note("listen again on the first port result", await new Promise((r) => t.api.listen(s, "127.0.0.1", first, (v) => {
    r([v, chrome.runtime.lastError ? chrome.runtime.lastError.message : null]);
  })));
  t.fire("destroy", a);
  t.fire("destroy", b);
  t.fire("destroy", c);
  t.fire("destroy", s);
  return t.entries;
}
