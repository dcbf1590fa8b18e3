'use strict';
// Prints the shim's method tables as JSON, for tests/test_method_tables.py to hold against the host's
// operation tables. Two views, so neither can drift alone:
// - "tables": SOCKET_API, SOCKETS_API and SOCKETS_EVENTS of extension/chrome-socket.js, evaluated from the
//   shim's own source text (the block from `const SOCKET_API = [` to `const ACKED_EVENTS`), each method's
//   "name:type" parameters split the way the shim's compileSpec splits them;
// - "surface": the members of chrome.socket and chrome.sockets.* once the whole shim has run (as a page sees
//   them), through the unit tests' harness.
const fs = require('node:fs');
const path = require('node:path');
const { loadExtensionShim } = require('../extension/harness.js');

const SHIM_PATH = path.join(__dirname, '..', '..', 'extension', 'chrome-socket.js');
const source = fs.readFileSync(SHIM_PATH, 'utf8');
const start = source.indexOf('const SOCKET_API = [');
const end = source.indexOf('const ACKED_EVENTS');
if (start < 0 || end < start) {
  throw new Error('chrome-socket.js: no block from "const SOCKET_API = [" to "const ACKED_EVENTS" (tables moved?)');
}
// The tables' failure values call emptyBuffer() only when a call fails; nothing here calls them.
// eslint-disable-next-line no-new-func
const tables = new Function('emptyBuffer', `${source.slice(start, end)}
  return { SOCKET_API, SOCKETS_API, SOCKETS_EVENTS };`)(() => new ArrayBuffer(0));

/** [{name, type, optional}] from "a:integer b?:string" (compileSpec's notation). */
const params = (text) => text.split(' ').filter(Boolean).map((p) => {
  const [name, type] = p.split(':');
  return { name: name.replace('?', ''), type, optional: name.endsWith('?') };
});
const rows = (list) => list.map((row) => ({ name: row.name, params: params(row.params), callback: row.callback }));

const { chrome } = loadExtensionShim();
const members = (obj) => Object.keys(obj).sort();

process.stdout.write(JSON.stringify({
  tables: {
    socket: rows(tables.SOCKET_API),
    sockets: Object.fromEntries(Object.entries(tables.SOCKETS_API).map(([ns, list]) => [ns, rows(list)])),
    events: tables.SOCKETS_EVENTS,
  },
  surface: {
    socket: members(chrome.socket),
    sockets: Object.fromEntries(Object.keys(chrome.sockets).map((ns) => [ns, members(chrome.sockets[ns])])),
  },
}));
