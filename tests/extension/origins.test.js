'use strict';
// extension/origins.js: approving non-loopback origins and keeping their dynamic content scripts in step.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { plain } = require('./harness.js');

const SOURCE = fs.readFileSync(path.join(__dirname, '..', '..', 'extension', 'origins.js'), 'utf8');

function loadOrigins({ held = () => true } = {}) {
  const store = {};
  let registered = [];
  const chrome = {
    storage: { local: {
      get: async (defaults) => Object.assign({}, defaults, store),
      set: async (items) => { Object.assign(store, JSON.parse(JSON.stringify(items))); },
    } },
    permissions: { contains: async ({ origins }) => held(origins[0]) },
    scripting: {
      getRegisteredContentScripts: async ({ ids }) => registered.filter((s) => ids.includes(s.id)),
      unregisterContentScripts: async ({ ids }) => { registered = registered.filter((s) => !ids.includes(s.id)); },
      registerContentScripts: async (scripts) => {
        for (const s of scripts) if (registered.some((r) => r.id === s.id)) throw new Error(`Duplicate script ID '${s.id}'`);
        registered.push(...plain(scripts));
      },
    },
  };
  const context = vm.createContext({ chrome, URL });
  vm.runInContext(SOURCE, context);
  return { context, store, registered: () => registered };
}

test('origins are normalized, and anything but an http(s) origin is refused with the reason', () => {
  const { context } = loadOrigins();
  const n = (t) => context.resocketNormalizeOrigin(t);
  assert.equal(n(' https://Example.COM:443 '), 'https://example.com');
  assert.equal(n('http://example.com:8080/'), 'http://example.com:8080');
  assert.throws(() => n('ftp://example.com'), /only http and https/);
  assert.throws(() => n('https://example.com/app'), /without a path/);
  assert.throws(() => n('example.com'), /not an origin/);
});

test('match patterns drop the port (host permissions ignore it; the host checks the exact origin)', () => {
  const { context } = loadOrigins();
  assert.equal(context.resocketMatchPattern('http://example.com:8080'), 'http://example.com/*');
  assert.equal(context.resocketMatchPattern('https://[::1]:3000'), 'https://[::1]/*');
});

test('approved origins get the MAIN-world shim and the relay at document_start, re-registered on change', async () => {
  const { context, store, registered } = loadOrigins();
  await context.resocketSyncApprovedOrigins(['https://a.example', 'https://b.example:8443']);
  await context.resocketSyncApprovedOrigins(['https://a.example', 'https://b.example:8443', 'https://a.example']);
  assert.deepEqual(store.approvedOrigins, ['https://a.example', 'https://b.example:8443']);
  const scripts = registered();
  assert.deepEqual(scripts.map((s) => [s.id, s.world, s.runAt, s.js]), [
    ['resocket-approved-relay', 'ISOLATED', 'document_start', ['relay.js']],
    ['resocket-approved-main', 'MAIN', 'document_start', ['chrome-socket.js']],
  ]);
  assert.deepEqual(scripts[1].matches, ['https://a.example/*', 'https://b.example/*']);
  await context.resocketSyncApprovedOrigins([]);
  assert.deepEqual(registered(), [], 'no approved origin -> no dynamic scripts');
});

test('origins whose site access was withdrawn are dropped', async () => {
  const { context, store } = loadOrigins({ held: (pattern) => pattern !== 'https://gone.example/*' });
  const kept = await context.resocketSyncApprovedOrigins(['https://gone.example', 'https://kept.example']);
  assert.deepEqual(plain(kept), ['https://kept.example']);
  assert.deepEqual(store.approvedOrigins, ['https://kept.example']);
});
