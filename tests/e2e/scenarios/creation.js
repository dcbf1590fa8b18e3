// docs/chrome-behaviour.md 7.1 testSocketCreation, for env.protocol "tcp" or "udp".
async (env) => {
  const t = transcript(env);
  const created = await t.call("create", env.protocol, {});
  const id = created.value.socketId;
  t.note("socketId > 0", id > 0);
  await t.call("getInfo", id);
  t.fire("destroy", id);
  await t.call("getInfo", id);
  return t.entries;
}
