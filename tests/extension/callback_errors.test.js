'use strict';
// What the console shows when a page's callback or event listener throws: Chromium 156's wording, seen in a
// Chrome App's console over CDP ("Error handling response: Error: boom\n    at ...", "Error handling
// response: Uncaught str", "Error in event handler: Error: ev\n    at ..."); no window "error" event.
const test = require('node:test');
const assert = require('node:assert/strict');
const { loadExtensionShim } = require('./harness.js');

function readyShim() {
  const shim = loadExtensionShim();
  shim.context.reportError = () => { throw new Error('Chrome reports these on the console, not as uncaught'); };
  shim.chrome.socket.getNetworkList(() => {});
  shim.port().hello();
  shim.port().sent.length = 0;
  return shim;
}

const lastRequest = (shim) => shim.port().requests().at(-1);

test('an Error thrown by a callback is logged as Chrome logs it: "Error handling response: " and its stack', () => {
  const shim = readyShim();
  shim.chrome.socket.create('tcp', () => { throw new Error('boom'); });
  shim.port().reply({ id: lastRequest(shim).id, args: [{ socketId: 3 }] });
  assert.equal(shim.logged.length, 1);
  assert.match(shim.logged[0], /^Error handling response: Error: boom\n {4}at /);
});

test('a non-Error thrown by a callback is logged as "Error handling response: Uncaught <value>"', () => {
  const shim = readyShim();
  shim.chrome.socket.getInfo(1, () => { void shim.chrome.runtime.lastError; throw 'str'; }); // eslint-disable-line no-throw-literal
  shim.port().reply({ id: lastRequest(shim).id, args: [], lastError: 'Socket not found' });
  assert.deepEqual(shim.logged, ['Error handling response: Uncaught str']);
});

test('an Error thrown by an event listener is logged as "Error in event handler: " and its stack', () => {
  const shim = readyShim();
  let id;
  shim.chrome.sockets.udp.create((info) => { id = info.socketId; });
  shim.port().reply({ id: lastRequest(shim).id, args: [{ socketId: 5 }] });
  assert.equal(id, 1);
  shim.chrome.sockets.udp.onReceiveError.addListener(() => { throw new TypeError('ev'); });
  shim.port().reply({ event: 'udp.onReceiveError', args: [{ socketId: 5, resultCode: -142 }] });
  assert.equal(shim.logged.length, 1);
  assert.match(shim.logged[0], /^Error in event handler: TypeError: ev\n {4}at /);
});
