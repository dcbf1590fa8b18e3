// getNetworkList where there are interfaces besides loopback (test_network_list.py makes them in a network
// namespace of the browser's own): which addresses count, their order, and how each entry reads.
async (env) => {
  const t = transcript(env);
  await t.call("getNetworkList");
  const list = await new Promise((r) => chrome.socket.getNetworkList((l) => r(l)));
  t.note("getNetworkList entries result", list.map((e) => Object.keys(e).join(",")));
  return t.entries;
}
