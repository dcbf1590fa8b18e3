// How bind (UDP) and listen (TCP) read an address: IP literals only, no lookup; which forms count.
// Each on a fresh socket; getInfo tells what was bound.
async (env) => {
  const t = transcript(env);
  const forms = ["127.1", "0x7f.1", "2130706433", "127.0.0.1.", "::", "[::]", "", " 0.0.0.0", "localhost",
                 "0", "::ffff:127.0.0.1", "::1%lo", "0.0.0.0 "];
  for (const address of forms) {
    const u = (await t.call("create", "udp")).value.socketId;
    const r = await t.call("bind", u, address, 0);
    if (r.value === 0) await t.call("getInfo", u);
    t.fire("destroy", u);
  }
  for (const address of forms) {
    const s = (await t.call("create", "tcp")).value.socketId;
    const r = await t.call("listen", s, address, 0);
    if (r.value === 0) await t.call("getInfo", s);
    t.fire("destroy", s);
  }
  return t.entries;
}
