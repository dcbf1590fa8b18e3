// docs/chrome-behaviour.md 7.4, shortened: the settings, then join -> a host-local multicast datagram
// arrives, leave, and leaveGroup's callback still fires when a disconnect follows at once. The "must not
// arrive within 2 s" steps are left out (they would be timed assertions).
async (env) => {
  const t = transcript(env);
  const group = "237.132.100.133";
  const port = env.ports.mcastPort;
  let message = "";
  for (let i = 0; i < 256; i++) message += String.fromCharCode(65 + (i % 26));

  const probe = (await t.call("create", "udp")).value.socketId;
  await t.call("setMulticastTimeToLive", probe, 0);
  await t.call("setMulticastTimeToLive", probe, -3);
  await t.call("setMulticastLoopbackMode", probe, false);
  await t.call("setMulticastLoopbackMode", probe, true);
  t.fire("destroy", probe);

  const server = (await t.call("create", "udp")).value.socketId;
  await t.call("bind", server, "0.0.0.0", port);
  await t.call("joinGroup", server, group);
  await t.call("getJoinedGroups", server);

  const received = t.start("recvFrom", server, 1024);
  const client = (await t.call("create", "udp")).value.socketId;
  await t.call("setMulticastTimeToLive", client, 0);
  await t.call("connect", client, group, port);
  await t.call("write", client, t.bytes(message));
  t.fire("destroy", client);
  const got = await t.within(received, 5000);
  t.note("multicast datagram arrived", got !== undefined && got.value.resultCode === 256 &&
         t.text(got.value.data) === message);

  await t.call("joinGroup", server, group);  // twice: -108
  await t.call("leaveGroup", server, group);
  await t.call("getJoinedGroups", server);
  await t.call("leaveGroup", server, group);  // not joined: -108

  await t.call("joinGroup", server, group);
  const left = t.start("leaveGroup", server, group);
  t.fire("disconnect", server);
  t.note("leaveGroup callback fired", (await t.within(left, 5000)) !== undefined);
  t.fire("destroy", server);
  return t.entries;
}
