// Transcript helpers shared by every scenario. Plain JS with no imports, so the same scenario text runs
// unchanged in a Chrome App background page (Chrome's own chrome.socket) and in a resocket extension or
// web page (chrome.socket from extension/chrome-socket.js). The harness evaluates
//   (async () => { <this file>; return await (<scenario>)(env); })()
// over CDP and compares the returned transcripts value by value.
//
// A transcript is a list of entries {op, args, value?, lastError?}: `value` is the callback's first
// argument (absent when undefined), `lastError` is chrome.runtime.lastError.message read inside the
// callback (absent when unset). Values are normalised only where they differ by environment:
// - socket ids returned by create/accept are written "#n", n counted from the first id the scenario saw,
//   so two fresh counters give the same names and gaps stay visible;
// - ports the harness chose are written by their env name ("$tcpPort"); other ports under the keys
//   localPort/port are ephemeral and written "<ephemeral>";
// - ArrayBuffers are written {arrayBuffer: byteLength, text: latin-1 text}.

/* exported transcript */
function transcript(env) {
  const api = (globalThis.chrome && (chrome.socket || (chrome.experimental && chrome.experimental.socket))) || null;
  const entries = [];
  const ids = new Map();
  let base = null;
  const portNames = new Map(Object.entries(env.ports || {}).map(([k, v]) => [v, "$" + k]));

  function nameId(raw) {
    if (typeof raw !== "number" || raw <= 0) return raw;
    if (base === null) base = raw;
    if (!ids.has(raw)) ids.set(raw, "#" + (raw - base + 1));
    return ids.get(raw);
  }

  function norm(v, key) {
    if (v instanceof ArrayBuffer) {
      const bytes = new Uint8Array(v);
      let text = "";
      for (let i = 0; i < Math.min(bytes.length, 400); i++) text += String.fromCharCode(bytes[i]);
      return {arrayBuffer: bytes.length, text};
    }
    if (Array.isArray(v)) return v.map((x) => norm(x));
    if (v && typeof v === "object") {
      const out = {};
      for (const k of Object.keys(v).sort()) {
        if (v[k] === undefined) continue;
        out[k] = norm(v[k], k);
      }
      return out;
    }
    if (typeof v === "number" && key !== undefined) {
      if (key === "socketId") return ids.has(v) ? ids.get(v) : v;
      if (key === "localPort" || key === "port" || key === "peerPort") {
        if (portNames.has(v)) return portNames.get(v);
        if (v > 0) return "<ephemeral>";
      }
    }
    if (v === undefined) return "<undefined>";
    return v;
  }

  function normArgs(op, args) {
    return args.map((a, i) => {
      if (i === 0 && typeof a === "number" && !["create", "getNetworkList"].includes(op)) {
        return ids.has(a) ? ids.get(a) : a;
      }
      if (typeof a === "number" && portNames.has(a)) return portNames.get(a);
      return norm(a);
    });
  }

  // Start a call; the returned promise resolves to the recorded entry when the callback runs.
  function start(op, ...args) {
    const entry = {op, args: normArgs(op, args)};
    entries.push(entry);
    return new Promise((resolve) => {
      const cb = (...cbArgs) => {
        const le = chrome.runtime.lastError;
        const value = cbArgs[0];
        if (value && typeof value === "object" && typeof value.socketId === "number" &&
            (op === "create" || op === "accept")) nameId(value.socketId);
        if (value !== undefined) entry.value = norm(value);
        if (le) entry.lastError = le.message;
        resolve({entry, value, lastError: le ? le.message : undefined});
      };
      try {
        api[op](...args, cb);
      } catch (e) {
        entry.threw = String(e && e.message || e);
        resolve({entry, value: undefined, lastError: undefined, threw: entry.threw});
      }
    });
  }

  // Calls with no callback in Chrome (destroy, disconnect).
  function fire(op, ...args) {
    const entry = {op, args: normArgs(op, args)};
    entries.push(entry);
    try {
      api[op](...args);
    } catch (e) {
      entry.threw = String(e && e.message || e);
    }
  }

  // Record an observation the scenario computed itself.
  function note(label, value) {
    entries.push({note: label, value: norm(value)});
  }

  // Wait up to ms for a promise; resolves to undefined when it did not settle.
  function within(promise, ms) {
    return Promise.race([promise, new Promise((r) => setTimeout(() => r(undefined), ms))]);
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function bytes(text) {
    const buf = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) buf[i] = text.charCodeAt(i) & 0xff;
    return buf.buffer;
  }

  function text(buf) {
    return buf instanceof ArrayBuffer ? String.fromCharCode(...new Uint8Array(buf)) : String(buf);
  }

  return {api, entries, start, call: start, fire, note, within, sleep, bytes, text, env};
}
