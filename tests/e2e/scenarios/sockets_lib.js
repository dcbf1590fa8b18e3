// Transcript helpers for the chrome.sockets.* scenarios (sockets_*.js). Like lib.js for chrome.socket: plain
// JS, run unchanged in a Chrome App background page (Chrome's own chrome.sockets) and in a resocket page (the
// shim's). test_sockets_differential.py evaluates
//   (async () => { <this file>; return await (<scenario>)(env); })()
//
// The transcript is a list: first one entry per call {op: "tcp.connect", args, value?, lastError?} in issue
// order, then one entry per socket {socket: "tcp#2", events: [...]} with that socket's events in order.
// Events are kept per socket because Chrome does not fix the interleaving of events and callbacks (an
// onAccept may come before or after the client's connect callback). Normalised:
// - ids: "<ns>#n", n counted from the first id of that namespace the scenario saw (accepted sockets are tcp);
// - ports the harness chose by their env name ("$tcpPort"), other non-zero ports "<ephemeral>";
// - ArrayBuffers {arrayBuffer: byteLength, text}; consecutive tcp onReceive events of one socket are joined
//   (TCP has no message boundaries);
// - getSockets lists are sorted by id (Chrome's order is its hash map's);
// - events that arrive for a socket after the scenario closed it are not recorded (Chrome 156 sometimes sends
//   an onReceiveError -100 for a tcp socket closed while reading, sometimes not; docs/compatibility.md), nor
//   events of sockets the scenario did not create or see accepted (a late one of an earlier scenario's).
//
// Every scenario starts with `await t.start()`: it closes, unrecorded, whatever sockets the page still has in
// the three namespaces, so that an earlier scenario's leftovers never show in this one's getSockets. A
// scenario closes every socket it creates or accepts, and waits for the events that race with a close.

/* exported socketsTranscript */
function socketsTranscript(env) {
  const entries = [];
  const bases = {};
  const portNames = new Map(Object.entries(env.ports || {}).map(([k, v]) => [v, "$" + k]));
  const events = new Map(); // socket name -> events
  const closed = new Set(); // socket names the scenario closed
  const known = {tcp: new Set(), udp: new Set(), tcpServer: new Set()}; // raw ids created or accepted here

  const idName = (ns, raw) => {
    if (typeof raw !== "number" || raw <= 0) return raw;
    if (bases[ns] === undefined) bases[ns] = raw;
    return `${ns}#${raw - bases[ns] + 1}`;
  };

  function norm(v, key, ns) {
    if (v instanceof ArrayBuffer) {
      const bytes = new Uint8Array(v);
      let text = "";
      for (let i = 0; i < Math.min(bytes.length, 200); i++) text += String.fromCharCode(bytes[i]);
      return {arrayBuffer: bytes.length, text};
    }
    if (Array.isArray(v)) return v.map((x) => norm(x, undefined, ns));
    if (v && typeof v === "object") {
      const out = {};
      for (const k of Object.keys(v).sort()) if (v[k] !== undefined) out[k] = norm(v[k], k, ns);
      return out;
    }
    if (typeof v === "number" && key === "socketId") return idName(ns, v);
    if (typeof v === "number" && key === "clientSocketId") return idName("tcp", v);
    if (typeof v === "number" && /port$/i.test(key || "")) {
      if (portNames.has(v)) return portNames.get(v);
      if (v > 0) return "<ephemeral>";
    }
    return v;
  }

  // The event listeners are added once per page; each scenario run records into its own sink.
  if (!globalThis.__socketsSink) {
    for (const [ns, names] of [["tcp", ["onReceive", "onReceiveError"]], ["udp", ["onReceive", "onReceiveError"]],
                               ["tcpServer", ["onAccept", "onAcceptError"]]]) {
      for (const name of names) {
        chrome.sockets[ns][name].addListener((info) => globalThis.__socketsSink(ns, name, info));
      }
    }
  }
  globalThis.__socketsSink = (ns, name, info) => {
    if (!known[ns].has(info.socketId)) return;
    if (name === "onAccept") known.tcp.add(info.clientSocketId);
    const socket = idName(ns, info.socketId);
    if (closed.has(socket)) return;
    if (!events.has(socket)) events.set(socket, []);
    const list = events.get(socket);
    const entry = Object.assign({event: name}, norm(Object.assign({}, info, {socketId: undefined}), undefined, ns));
    const last = list[list.length - 1];
    if (ns === "tcp" && name === "onReceive" && last && last.event === "onReceive") {
      const joined = new Uint8Array(last.raw.byteLength + info.data.byteLength);
      joined.set(new Uint8Array(last.raw), 0);
      joined.set(new Uint8Array(info.data), last.raw.byteLength);
      last.raw = joined.buffer;
      last.data = norm(last.raw);
      return;
    }
    if (name === "onReceive") Object.defineProperty(entry, "raw", {value: info.data, writable: true, enumerable: false});
    if (name === "onAccept") Object.defineProperty(entry, "client", {value: info.clientSocketId, enumerable: false});
    list.push(entry);
  };

  // call("tcp.connect", id, host, port): resolves to {value, lastError} when the callback runs.
  function call(op, ...args) {
    const [ns, method] = op.split(".");
    if (method === "close") closed.add(idName(ns, args[0]));
    const entry = {op, args: args.map((a, i) => (i === 0 && typeof a === "number" && method !== "create")
      ? idName(ns, a) : (typeof a === "number" && portNames.has(a) ? portNames.get(a) : norm(a, undefined, ns)))};
    entries.push(entry);
    return new Promise((resolve) => {
      try {
        chrome.sockets[ns][method](...args, (...cbArgs) => {
          const le = chrome.runtime.lastError;
          const value = cbArgs[0];
          if (method === "create" && value && typeof value.socketId === "number") known[ns].add(value.socketId);
          const shown = method === "getSockets" && Array.isArray(value)
            ? value.slice().sort((x, y) => x.socketId - y.socketId) : value;
          if (value !== undefined) entry.value = norm(shown, undefined, ns);
          if (le) entry.lastError = le.message;
          resolve({value, lastError: le ? le.message : undefined});
        });
      } catch (e) {
        entry.threw = String(e && e.message || e);
        resolve({threw: entry.threw});
      }
    });
  }

  // Name a port the scenario learned (a listener's), so that it shows as "$name" like the harness's ports.
  function namePort(port, name) { portNames.set(port, "$" + name); }

  // Close, unrecorded, every socket the page still has (an earlier scenario's leftovers).
  async function start() {
    const direct = (ns, method, ...args) => new Promise((resolve) => chrome.sockets[ns][method](...args, (v) => {
      void chrome.runtime.lastError;
      resolve(v);
    }));
    for (const ns of ["tcp", "tcpServer", "udp"]) {
      for (const info of (await direct(ns, "getSockets")) || []) await direct(ns, "close", info.socketId);
    }
  }

  function note(label, value) { entries.push({note: label, value: norm(value)}); }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // Wait (up to ms) until `count` events were recorded for `socket` (a raw id of namespace ns).
  async function eventsOf(ns, raw, count, ms = 5000) {
    const name = idName(ns, raw);
    for (let waited = 0; waited < ms; waited += 10) {
      if ((events.get(name) || []).length >= count) break;
      await sleep(10);
    }
    return events.get(name) || [];
  }

  // Wait until the joined tcp onReceive data of a socket has `length` bytes.
  async function received(raw, length, ms = 5000) {
    const name = idName("tcp", raw);
    for (let waited = 0; waited < ms; waited += 10) {
      const list = events.get(name) || [];
      const got = list.filter((e) => e.event === "onReceive").reduce((n, e) => n + e.raw.byteLength, 0);
      if (got >= length) return got;
      await sleep(10);
    }
    return -1;
  }

  function bytes(text) {
    const buf = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) buf[i] = text.charCodeAt(i) & 0xff;
    return buf.buffer;
  }

  function done() {
    const out = entries.slice();
    for (const name of [...events.keys()].sort()) out.push({socket: name, events: events.get(name)});
    return out;
  }

  return {start, call, note, namePort, sleep, eventsOf, received, bytes, done, env};
}
