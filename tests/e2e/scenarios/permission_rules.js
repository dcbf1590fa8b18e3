// How a request meets the rules (docs/chrome-behaviour.md 4.2), where the Chrome App's manifest and
// resocket's grant hold PERMISSION_RULES (test_permission_rules.py). Allowed connects to names fail in DNS
// (no resolver here), to IPs with -102 or -109; denied ones give -1 + "App does not have permission".
async (env) => {
  const t = transcript(env);
  const probes = [
    // "*.example.com:80": the domain and its subdomains, on port 80 only, case-insensitive
    ["example.com", 80], ["www.example.com", 80], ["EXAMPLE.Com", 80], ["example.com", 81], ["xexample.com", 80],
    [".example.com", 80], ["example.com.", 80], ["www..example.com", 80],
    // ".example.org:*": the same with the leading-dot form, any port
    ["example.org", 5], ["a.b.example.org", 65535], ["example.org", 0],
    // "Mixed.Case.test:*": an exact host, lowercased in the rule
    ["mixed.case.test", 1], ["MIXED.CASE.TEST", 2], ["case.test", 1], ["x.mixed.case.test", 1],
    // "10.1.2.3:*": an IP is matched as a string
    ["10.1.2.3", 1], ["10.1.2.4", 1], ["010.1.2.3", 1],
    // "*.2.3:*": a subdomain rule never matches an IP literal
    ["a.2.3", 1], ["4.1.2.3", 1], ["1.2.3", 1],
    // "127.0.0.1:65535", "localhost:7"
    ["127.0.0.1", 65535], ["127.0.0.1", 65534], ["localhost", 65535], ["localhost", 7], ["LOCALHOST", 7],
    ["", 7],
  ];
  for (const [host, port] of probes) {
    const s = (await t.call("create", "tcp")).value.socketId;
    await t.call("connect", s, host, port);
    t.fire("destroy", s);
  }
  // "udp-bind::*" (any host, any port), "udp-send-to:*:9", no multicast rule.
  const u = (await t.call("create", "udp")).value.socketId;
  await t.call("bind", u, "0.0.0.0", 0);
  await t.call("sendTo", u, t.bytes("x"), "127.0.0.1", 9);
  await t.call("sendTo", u, t.bytes("x"), "127.0.0.1", 10);
  await t.call("sendTo", u, t.bytes("x"), "localhost", 9);
  await t.call("joinGroup", u, "237.132.100.133");
  t.fire("destroy", u);
  const c = (await t.call("create", "udp")).value.socketId;
  await t.call("connect", c, "127.0.0.1", 9);
  t.fire("destroy", c);
  // "tcp-listen:127.0.0.1:" (an empty port: any)
  for (const address of ["127.0.0.1", "0.0.0.0", "127.1"]) {
    const l = (await t.call("create", "tcp")).value.socketId;
    await t.call("listen", l, address, 0);
    t.fire("destroy", l);
  }
  return t.entries;
}
