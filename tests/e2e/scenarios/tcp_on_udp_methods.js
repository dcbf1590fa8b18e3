// docs/chrome-behaviour.md 7.1 testUsingTCPSocketOnUDPMethods.
async (env) => {
  const t = transcript(env);
  const a = (await t.call("create", "tcp")).value.socketId;
  await t.call("recvFrom", a, 256);
  const b = (await t.call("create", "tcp")).value.socketId;
  await t.call("sendTo", b, t.bytes(env.udpRequest), "127.0.0.1", env.ports.udpPort);
  t.fire("destroy", a);
  t.fire("destroy", b);
  return t.entries;
}
