/*
 * resocket: Chrome's removed chrome.socket API, forwarded over native messaging to resocket-host.
 *
 * One classic script, no build step, no modules. It runs in three places:
 *   - extension pages and converted apps: chrome.runtime.connectNative exists -> it talks to the host itself;
 *   - a web page's MAIN world (injected by the resocket extension): it talks to relay.js (the ISOLATED-world
 *     content script) with window.postMessage; the relay forwards to the service worker, which owns the
 *     native port and names the page's origin in hello (taken from Chrome's sender info, never from the page).
 * Either way the messages are those of docs/protocol.md. It also provides chrome.sockets.tcp, .tcpServer and
 * .udp (where the browser has no chrome.sockets of its own) over the same connection: ops "tcp.create" etc.,
 * with receive data and accepted connections pushed as event frames that the shim acknowledges.
 *
 * Design rules:
 *  1. Every wrapper is generated from the API table below (name, typed parameters, callback, failure args);
 *     there are no hand-written per-method wrappers. Argument checking follows Chrome's renderer: any
 *     mismatch is a synchronous TypeError "Error in invocation of socket.<name>(<signature>): No matching
 *     signature." (the wording Chromium 156 gives for every extension API) and nothing is sent.
 *  2. Socket ids seen by the page are the shim's own, monotonic and never reused, mapped to the current host's
 *     ids. When a host dies its sockets are gone: their ids are sent as socketId 0, which no host ever
 *     allocates, so the host answers Chrome's "Socket not found" with Chrome's ordering of checks.
 *  3. Nothing hangs: when the port dies (host missing, crashed, refused, protocol mismatch), every pending
 *     call fails at once, in issue order, with a lastError naming the fix and the value-shaped arguments of
 *     the table's `failure` column. The next call opens a new connection.
 *  4. Callbacks run in the order replies arrive (except writes called back early, rule 7); the host applies one
 *     socket's requests in issue order.
 *  5. chrome.sockets: each namespace numbers its own page-visible ids (accepted sockets join tcp's); event
 *     frames are dispatched to the namespace's listeners with ids mapped and `data` as an ArrayBuffer, then
 *     acknowledged with `sockets.ack` (the host reads on only while fewer than 8 events are unacknowledged).
 *     Methods whose callback is optional return a Promise when it is left out, as Chromium 156 does.
 *  6. Read-ahead (docs/protocol.md, "Read-ahead"; hosts that announce it in hello): a chrome.socket TCP
 *     socket's first read asks the host to keep reading; the host then pushes the socket's bytes as they
 *     arrive (at most its window unacknowledged) and later reads are answered here from them, as Chrome
 *     answers reads from its data pipe. The end of the stream is collected by a read sent to the host, which
 *     answers it as it always did (0, then disconnected), so the host stays the judge of every state.
 *  7. Write-behind (docs/protocol.md, "Write-behind"; hosts that announce it in hello): once the host's reply
 *     to a chrome.socket TCP write says `behind`, that socket's writes are called back as the shim takes them,
 *     in issue order, while at most the host's window is called back and unanswered, as Chrome calls a write
 *     back once its data pipe took it. A failure met after such a callback is reported by the next write.
 *     Both windows may be wide (docs/protocol.md, "Wide windows"): 4 MiB for the first two streams and writing
 *     sockets, said in the replies that grant them, so acks and early-write replies are 8x rarer.
 *  8. Ungranted means refused (docs/grants.md): the host answers every call of an origin with no grant
 *     `not_granted`; the call fails with the table's `failure` values and the host's message as lastError, which
 *     names the `resocket grant` command for the page's exact origin. No data channel is asked for then.
 */
(function installResocket(global) {
  'use strict';

  if (global.chrome && global.chrome.socket && global.chrome.socket.__resocket) return; // injected twice

  /** Version sent in hello as "resocket-extension/<version>"; keep equal to manifest.json. */
  const SHIM_VERSION = '0.1.0';
  /** Native messaging host name (host/resocket/__init__.py HOST_NAME). */
  const HOST_NAME = 'org.resocket.host';
  /** Wire protocol version (docs/protocol.md). */
  const PROTOCOL_VERSION = 1;
  /** Writes of up to this many bytes are one native-messaging frame (~87 KB of JSON at 64 KiB: measured faster
   * than a 48 KiB chunk frame plus the rest, docs/performance.md); larger ones are cut into chunk frames. */
  const WHOLE_WRITE_BYTES = 64 * 1024;
  /** Raw bytes per `chunk` frame of a large write (docs/protocol.md: 63 KiB pieces; a multiple of 3, so the
   * pieces' base64 texts concatenate to the base64 of the whole). */
  const CHUNK_BYTES = 63 * 1024;
  /** Tag of the page <-> relay envelope; relay.js uses the same string. */
  const PAGE_CHANNEL = 'org.resocket.page/1';
  /** How long a web page waits for relay.js to acknowledge before every call fails (the relay is injected at
   * document_start with this script, so it normally answers within milliseconds). */
  const RELAY_TIMEOUT_MS = 10000;
  /** How long a connection waits for the host's hello reply before every queued call fails (a host that started
   * but never answers, e.g. a wrong program registered under the host name). Python starts in well under 1 s. */
  const HELLO_TIMEOUT_MS = 10000;
  /** Data channel (docs/protocol.md, "Data channel"): writes of at least this many bytes, and reads that may
   * return this many, move their bytes over the loopback WebSocket; smaller ones stay on native messaging,
   * where one message is one hop (docs/performance.md). A page may set `resocketOptions = {dataChannel:
   * false}` or `{dataChannelMinBytes: n}` on its global before its first call (benchmarks, tests). */
  const DATA_CHANNEL_MIN_BYTES = 8 * 1024;
  /** With a host that takes whole requests on the data channel (`requests: true`), writes and reads of at least
   * this many bytes travel there as request messages and are answered there: one WebSocket message each way,
   * which beats native messaging at every size (docs/performance.md), hence 0. Knob:
   * `resocketOptions.dataChannelRequestMinBytes`. */
  const DATA_CHANNEL_REQUEST_MIN_BYTES = 0;
  /** Read-ahead bytes are acknowledged (`socket.ack`) once this share of the host's window is consumed: a
   * quarter keeps the host reading across the ack's round trip (half stalled it: docs/performance.md) at one
   * small message per 128 KiB with the host's 512 KiB window (per 1 MiB for a stream granted a wide one). */
  const AHEAD_ACK_SHARE = 0.25;
  /** Read-ahead pieces of at least this size that are a buffer of their own are read alone (takeAhead). */
  const WHOLE_PIECE_BYTES = 16 * 1024;
  /** Chrome's read() bufferSize when it is left out (socket.idl). */
  const DEFAULT_READ_SIZE = 4096;
  /** Socket id sent for ids of a dead host or destroyed sockets: hosts allocate ids from 1. */
  const GONE_SOCKET_ID = 0;
  /**
   * chrome.socket calls on a socket whose secure() is in flight, as Chrome 156 answers them (oracle
   * secure_busy): the values, or 'host' for getInfo, which the host answers and the shim reports as "tcp".
   */
  const MID_UPGRADE = {
    read: () => [{ resultCode: -15, data: emptyBuffer() }],
    write: () => [{ bytesWritten: -15 }],
    setNoDelay: () => [false],
    setKeepAlive: () => [false],
    getInfo: 'host',
  };

  const emptyBuffer = () => new ArrayBuffer(0);
  /** For request messages on the data channel; only made where the page has them (every browser does). */
  let textCodec = null;
  const codec = () => (textCodec || (textCodec = { enc: new global.TextEncoder(), dec: new global.TextDecoder() }));

  /*
   * The API tables. Parameters are "name:type", with "?" after the name when optional; `callback` says whether
   * a callback ends the signature: true (required), false (none: destroy, disconnect) or 'optional' (a Promise
   * is returned when it is left out); `failure` gives the callback
   * arguments used when the host cannot be reached: the value Chrome gives for "Socket not found" (or, for
   * calls with no socket, a comparable failure), so legacy code that only looks at the value sees a failure.
   */
  const SOCKET_API = [
    // create, getInfo and getNetworkList return a Promise when the callback is left out, as in Chromium 156 (its
    // other chrome.socket methods require one: recorded through the Chrome App oracle, 2026-12-03).
    { name: 'create', params: 'type:socket.SocketType options?:socket.CreateOptions', callback: 'optional',
      failure: () => [{ socketId: -1 }] },
    { name: 'destroy', params: 'socketId:integer', callback: false },
    { name: 'connect', params: 'socketId:integer hostname:string port:integer', callback: true,
      failure: () => [-1] },
    { name: 'bind', params: 'socketId:integer address:string port:integer', callback: true, failure: () => [-1] },
    { name: 'disconnect', params: 'socketId:integer', callback: false },
    { name: 'read', params: 'socketId:integer bufferSize?:integer', callback: true,
      failure: () => [{ resultCode: -1, data: emptyBuffer() }] },
    { name: 'write', params: 'socketId:integer data:binary', callback: true,
      failure: () => [{ bytesWritten: -1 }] },
    { name: 'recvFrom', params: 'socketId:integer bufferSize?:integer', callback: true,
      failure: () => [{ resultCode: -1, data: emptyBuffer(), address: '', port: 0 }] },
    // Chrome's quirk: sendTo's early failures give a bare number.
    { name: 'sendTo', params: 'socketId:integer data:binary address:string port:integer', callback: true,
      failure: () => [-1] },
    { name: 'listen', params: 'socketId:integer address:string port:integer backlog?:integer', callback: true,
      failure: () => [-1] },
    { name: 'accept', params: 'socketId:integer', callback: true, failure: () => [{ resultCode: -2 }] },
    { name: 'setKeepAlive', params: 'socketId:integer enable:boolean delay?:integer', callback: true,
      failure: () => [false] },
    { name: 'setNoDelay', params: 'socketId:integer noDelay:boolean', callback: true, failure: () => [false] },
    // getInfo and getNetworkList fail with lastError only (the callback gets undefined), as in Chrome.
    { name: 'getInfo', params: 'socketId:integer', callback: 'optional', failure: () => [] },
    { name: 'getNetworkList', params: '', callback: 'optional', failure: () => [] },
    { name: 'joinGroup', params: 'socketId:integer address:string', callback: true, failure: () => [-1] },
    { name: 'leaveGroup', params: 'socketId:integer address:string', callback: true, failure: () => [-1] },
    { name: 'setMulticastTimeToLive', params: 'socketId:integer ttl:integer', callback: true,
      failure: () => [-1] },
    { name: 'setMulticastLoopbackMode', params: 'socketId:integer enabled:boolean', callback: true,
      failure: () => [-1] },
    // Chrome's quirk: getJoinedGroups' early failures give a bare number instead of an array.
    { name: 'getJoinedGroups', params: 'socketId:integer', callback: true, failure: () => [-1] },
    { name: 'secure', params: 'socketId:integer options?:socket.SecureOptions', callback: true,
      failure: () => [-4] },
  ];


  /* chrome.sockets.*: signatures as Chromium 156 prints them. Failures when the host cannot be reached: the
   * "Socket not found" shape where that has a value (-2/-4), else a negative code, so code that only looks at
   * the value sees a failure. */
  const failCode = () => [-2];
  const SOCKETS_COMMON = (ns) => [
    { name: 'create', params: `properties?:sockets.${ns}.SocketProperties`, callback: 'optional',
      failure: () => [{ socketId: -1 }] },
    { name: 'update', params: `socketId:integer properties:sockets.${ns}.SocketProperties`, callback: 'optional' },
    { name: 'setPaused', params: 'socketId:integer paused:boolean', callback: 'optional' },
    { name: 'disconnect', params: 'socketId:integer', callback: 'optional', udp: false },
    { name: 'close', params: 'socketId:integer', callback: 'optional' },
    { name: 'getInfo', params: 'socketId:integer', callback: 'optional' },
    { name: 'getSockets', params: '', callback: 'optional', failure: () => [[]] },
  ];
  const SOCKETS_API = {
    tcp: SOCKETS_COMMON('tcp').concat([
      { name: 'connect', params: 'socketId:integer peerAddress:string peerPort:integer dnsQueryType?:sockets.tcp.DnsQueryType',
        callback: true, failure: failCode },
      { name: 'secure', params: 'socketId:integer options?:sockets.tcp.SecureOptions', callback: true,
        failure: () => [-4] },
      { name: 'send', params: 'socketId:integer data:binary', callback: true,
        failure: () => [{ resultCode: -2 }] },
      { name: 'setKeepAlive', params: 'socketId:integer enable:boolean delay?:integer', callback: true,
        failure: failCode },
      { name: 'setNoDelay', params: 'socketId:integer noDelay:boolean', callback: true, failure: failCode },
    ]),
    tcpServer: SOCKETS_COMMON('tcpServer').concat([
      { name: 'listen', params: 'socketId:integer address:string port:integer backlog?:integer', callback: true,
        failure: failCode },
    ]),
    udp: SOCKETS_COMMON('udp').filter((row) => row.udp !== false).concat([
      { name: 'bind', params: 'socketId:integer address:string port:integer', callback: true, failure: failCode },
      { name: 'send', params: 'socketId:integer data:binary address:string port:integer dnsQueryType?:sockets.udp.DnsQueryType',
        callback: true, failure: () => [{ resultCode: -2 }] },
      { name: 'joinGroup', params: 'socketId:integer address:string', callback: true, failure: failCode },
      { name: 'leaveGroup', params: 'socketId:integer address:string', callback: true, failure: failCode },
      { name: 'setMulticastTimeToLive', params: 'socketId:integer ttl:integer', callback: true, failure: failCode },
      { name: 'setMulticastLoopbackMode', params: 'socketId:integer enabled:boolean', callback: true,
        failure: failCode },
      { name: 'getJoinedGroups', params: 'socketId:integer', callback: 'optional' },
      { name: 'setBroadcast', params: 'socketId:integer enabled:boolean', callback: true, failure: failCode },
    ]),
  };
  /** Events per namespace; the ones that carry data or a new connection are acknowledged after dispatch. */
  const SOCKETS_EVENTS = {
    tcp: ['onReceive', 'onReceiveError'],
    tcpServer: ['onAccept', 'onAcceptError'],
    udp: ['onReceive', 'onReceiveError'],
  };
  const ACKED_EVENTS = new Set(['onReceive', 'onAccept']);
  const DNS_QUERY_TYPES = ['any', 'ipv4', 'ipv6'];
  /** Enum types, with their members in the order the renderer lists them. */
  const ENUMS = {
    'socket.SocketType': ['tcp', 'udp'],
    'sockets.tcp.DnsQueryType': DNS_QUERY_TYPES,
    'sockets.udp.DnsQueryType': DNS_QUERY_TYPES,
  };

  const isPlainObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v) &&
    !isArrayBuffer(v);
  /** ArrayBuffer's own brand check, as Chrome's bindings make it: its byteLength getter throws for anything
   * else (a SharedArrayBuffer, an object dressed up with ArrayBuffer.prototype or Symbol.toStringTag), and it
   * answers buffers of other realms too (a page's frames, the tests' vm contexts). No string is built per call. */
  const arrayBufferByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength').get;
  const isArrayBuffer = (v) => {
    if (typeof v !== 'object' || v === null) return false;
    try {
      arrayBufferByteLength.call(v);
      return true;
    } catch (err) {
      return false;
    }
  };

  /** Renderer type checks, keyed by the type names Chrome prints in signatures. */
  const TYPE_CHECKS = {
    // Chrome's "integer" is a 32-bit signed integer.
    integer: (v) => typeof v === 'number' && Number.isInteger(v) && v >= -2147483648 && v <= 2147483647,
    string: (v) => typeof v === 'string',
    boolean: (v) => typeof v === 'boolean',
    // Chromium 156 takes any ArrayBuffer view too (a Uint8Array, a DataView...): its bytes, not its buffer's.
    binary: (v) => isArrayBuffer(v) || ArrayBuffer.isView(v),
    function: (v) => typeof v === 'function',
    // Enums match as strings; a string that is no member is the renderer's "Value must be one of" (ENUMS).
    'socket.SocketType': (v) => typeof v === 'string',
    'socket.CreateOptions': isPlainObject,
    'socket.SecureOptions': isPlainObject,
    'sockets.tcp.SocketProperties': isPlainObject,
    'sockets.tcpServer.SocketProperties': isPlainObject,
    'sockets.udp.SocketProperties': isPlainObject,
    'sockets.tcp.SecureOptions': isPlainObject,
    'sockets.tcp.DnsQueryType': (v) => typeof v === 'string',
    'sockets.udp.DnsQueryType': (v) => typeof v === 'string',
  };

  /** Chrome's name of a value's type in "Invalid type: expected X, found Y". */
  function typeName(v) {
    if (v === null) return 'null';
    if (Array.isArray(v)) return 'array';
    if (isArrayBuffer(v)) return 'binary';
    if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
    return typeof v;
  }

  const SOCKET_PROPERTIES = { persistent: 'boolean', name: 'string', bufferSize: 'integer' };
  /**
   * Dictionary types checked property by property, as the renderer does once the object is in the right
   * place: {property: type}, where a type is a TYPE_CHECKS name or a nested dictionary.
   */
  const DICTIONARIES = {
    'sockets.tcp.SocketProperties': SOCKET_PROPERTIES,
    'sockets.udp.SocketProperties': SOCKET_PROPERTIES,
    'sockets.tcpServer.SocketProperties': { persistent: 'boolean', name: 'string' },
    // chrome.socket's own CreateOptions (no properties at all) and SecureOptions too: Chromium 156's Chrome App
    // throws these words (tests/extension/shim.test.js).
    'socket.CreateOptions': {},
    'socket.SecureOptions': { tlsVersion: 'socket.TLSVersionConstraints' },
    'socket.TLSVersionConstraints': { min: 'string', max: 'string' },
    'sockets.tcp.SecureOptions': { tlsVersion: 'sockets.tcp.TLSVersionConstraints' },
    'sockets.tcp.TLSVersionConstraints': { min: 'string', max: 'string' },
  };

  /**
   * Why `value` is not a valid `type` in the renderer's words, or null when it is.
   * @param {string} type @param {*} value @returns {string|null}
   */
  function invalidValue(type, value) {
    const members = ENUMS[type];
    if (members) return members.includes(value) ? null : `Value must be one of ${members.join(', ')}.`;
    const fields = DICTIONARIES[type];
    if (!fields) return TYPE_CHECKS[type](value) ? null : `Invalid type: expected ${type}, found ${typeName(value)}.`;
    if (!isPlainObject(value)) return `Invalid type: expected ${type}, found ${typeName(value)}.`;
    for (const key of Object.keys(value)) {
      if (!(key in fields)) return `Unexpected property: '${key}'.`;
    }
    for (const [key, fieldType] of Object.entries(fields)) {
      const field = value[key];
      if (field === undefined || field === null) continue;
      const why = invalidValue(fieldType, field);
      if (why) return `Error at property '${key}': ${why}`;
    }
    return null;
  }

  /**
   * @typedef {{name: string, type: string, optional: boolean}} Param
   * @typedef {{name: string, params: Param[], callback: boolean, failure: function(): Array,
   *            signature: string}} MethodSpec
   */

  /**
   * @param {object} row an API table row
   * @param {string} ns '' for chrome.socket, else the chrome.sockets namespace ('tcp', 'tcpServer', 'udp')
   * @returns {MethodSpec}
   */
  function compileSpec(row, ns = '') {
    const params = row.params.split(' ').filter(Boolean).map((text) => {
      const [rawName, type] = text.split(':');
      const optional = rawName.endsWith('?');
      return { name: optional ? rawName.slice(0, -1) : rawName, type, optional };
    });
    const shown = params.map((p) => `${p.optional ? 'optional ' : ''}${p.type} ${p.name}`);
    if (row.callback) shown.push(`${row.callback === 'optional' ? 'optional ' : ''}function callback`);
    const qualified = ns ? `sockets.${ns}.${row.name}` : `socket.${row.name}`;
    // What parseArguments walks, built once per method: the parameters, then the callback, each with its check.
    const slots = params.concat(row.callback
      ? [{ name: 'callback', type: 'function', optional: row.callback === 'optional' }] : []).map((p) => Object.assign(
      { check: TYPE_CHECKS[p.type], validated: p.type in DICTIONARIES || p.type in ENUMS }, p));
    return { name: row.name, params, slots, callback: row.callback, failure: row.failure || (() => []),
      ns, space: ns || 'socket', op: ns ? `${ns}.${row.name}` : row.name, qualified,
      chunked: (!ns && row.name === 'write') || (ns === 'tcp' && row.name === 'send'),
      carriesData: params.some((p) => p.type === 'binary'),
      isRead: !ns && (row.name === 'read' || row.name === 'recvFrom'),
      signature: `${qualified}(${shown.join(', ')})` };
  }

  /**
   * Match positional arguments against a signature the way Chrome's renderer does: an optional parameter is
   * skipped when fewer arguments than parameters were given and the argument at hand is not of its type;
   * null or undefined for an optional parameter means "absent".
   * @param {MethodSpec} spec
   * @param {Array} given the caller's arguments
   * @returns {{named: object, callback: (function|undefined)}}
   * @throws {TypeError} with Chrome's wording when no signature matches
   */
  function parseArguments(spec, given) {
    const slots = spec.slots;
    const fail = () => new TypeError(`Error in invocation of ${spec.signature}: No matching signature.`);
    if (given.length > slots.length) throw fail();
    let skips = slots.length - given.length;
    let index = 0;
    const named = {};
    let callback;
    for (const slot of slots) {
      const value = given[index];
      const matches = slot.check(value);
      if (slot.optional && skips > 0 && !matches && value !== null && value !== undefined) {
        skips -= 1;
        continue;
      }
      index += 1;
      if (value === null || value === undefined) {
        if (!slot.optional) throw fail();
        continue;
      }
      if (!matches) throw fail();
      const why = slot.validated ? invalidValue(slot.type, value) : null;
      if (why) throw new TypeError(`Error in invocation of ${spec.signature}: Error at parameter '${slot.name}': ${why}`);
      if (slot.name === 'callback') callback = value;
      else named[slot.name] = value;
    }
    return { named, callback };
  }

  // ---- base64 (Chromium 156 has Uint8Array.prototype.toBase64 / Uint8Array.fromBase64, ~2x faster) ----

  /** @param {Uint8Array} bytes @returns {string} standard base64 with padding */
  const toBase64 = typeof Uint8Array.prototype.toBase64 === 'function'
    ? (bytes) => bytes.toBase64()
    : (bytes) => {
      let binary = '';
      // 32 KiB slices keep String.fromCharCode.apply under engines' argument-count limits.
      for (let i = 0; i < bytes.length; i += 0x8000) {
        binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
      }
      return global.btoa(binary);
    };

  /** @param {string} text base64 @returns {Uint8Array} */
  const fromBase64 = typeof Uint8Array.fromBase64 === 'function'
    ? (text) => Uint8Array.fromBase64(text)
    : (text) => {
      const binary = global.atob(text);
      const bytes = new Uint8Array(binary.length);
      for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
      return bytes;
    };

  /** Join decoded pieces into one ArrayBuffer. @param {Uint8Array[]} pieces @returns {ArrayBuffer} */
  function joinPieces(pieces) {
    if (pieces.length === 1 && pieces[0].byteOffset === 0 && pieces[0].byteLength === pieces[0].buffer.byteLength) {
      return pieces[0].buffer;
    }
    const total = pieces.reduce((sum, p) => sum + p.byteLength, 0);
    const joined = new Uint8Array(total);
    let at = 0;
    for (const p of pieces) { joined.set(p, at); at += p.byteLength; }
    return joined.buffer;
  }

  /** Records with a payload of at least this many bytes leave as a message of their own (queueRecord). */
  const BIG_RECORD_BYTES = 8 * 1024;

  /** Implicit writes take their ids from here on (docs/protocol.md): the shim's own counter never gets there. */
  const BARE_ID_BASE = 2 ** 52;

  /**
   * One request record at `at` in `out` (docs/protocol.md, "Requests on the channel"): 8 bytes 0xff, the JSON's
   * and the payload's lengths (4 bytes big-endian each), the JSON, the payload. Returns the end offset.
   */
  function writeRecord(out, at, text, payload) {
    const length = payload ? payload.byteLength : 0;
    const view = new DataView(out.buffer, out.byteOffset);
    view.setUint32(at, 0xffffffff);
    view.setUint32(at + 4, 0xffffffff);
    view.setUint32(at + 8, text.byteLength);
    view.setUint32(at + 12, length);
    out.set(text, at + 16);
    if (payload) out.set(payload, at + 16 + text.byteLength);
    return at + 16 + text.byteLength + length;
  }

  // ---- chrome.runtime.lastError while a callback runs ----

  function ensureRuntime() {
    if (!global.chrome) global.chrome = {};
    if (!global.chrome.runtime) global.chrome.runtime = {};
    return global.chrome.runtime;
  }

  /**
   * Run `fn` with chrome.runtime.lastError = {message} and restore the previous state afterwards. In extension
   * pages lastError is Chrome's and not assignable, but it is not an own property while unset (checked in
   * Chromium 156), so a configurable own getter is defined for the callback and deleted after it.
   * Like Chrome, an error the callback never read is logged as "Unchecked runtime.lastError".
   * @param {string|undefined} message
   * @param {function(): void} fn
   */
  function withLastError(message, fn) {
    if (message === undefined || message === null || message === '') { fn(); return; }
    const runtime = ensureRuntime();
    const previous = Object.getOwnPropertyDescriptor(runtime, 'lastError');
    const error = { message: String(message) };
    let checked = false;
    Object.defineProperty(runtime, 'lastError', {
      configurable: true, enumerable: true, get() { checked = true; return error; },
    });
    try {
      fn();
    } finally {
      if (previous) Object.defineProperty(runtime, 'lastError', previous);
      else delete runtime.lastError;
      if (!checked && global.console) global.console.error(`Unchecked runtime.lastError: ${error.message}`);
    }
  }

  /**
   * Report an exception thrown by a user callback (`what` = 'Error handling response') or event listener
   * ('Error in event handler') without stopping the delivery of the others, worded as Chromium 156 logs it:
   * "Error handling response: " + the error's stack, or "Uncaught " + the value for a non-Error. Chrome
   * fires no window "error" event for these, so neither does the shim.
   */
  function reportCallbackError(what, err) {
    if (!global.console) return;
    let text;
    try {
      const stack = err !== null && typeof err === 'object' ? err.stack : undefined;
      text = typeof stack === 'string' && stack ? stack : `Uncaught ${String(err)}`;
    } catch (e) {
      text = 'Uncaught exception';
    }
    global.console.error(`${what}: ${text}`);
  }

  // ---- transports: how protocol messages reach the host ----

  /**
   * @typedef {object} Link
   * @property {function(object): void} send post one protocol message
   * @property {function(): void} close close the link (no onClose follows)
   * @typedef {{onMessage: function(object): void, onClose: function(string): void}} LinkHandlers
   */

  /** Direct native port (extension pages, converted apps). @param {LinkHandlers} handlers @returns {Link} */
  function openNativeLink(handlers) {
    const runtime = global.chrome.runtime;
    let port;
    try {
      port = runtime.connectNative(HOST_NAME);
    } catch (err) {
      Promise.resolve().then(() => handlers.onClose(String((err && err.message) || err)));
      return { send() {}, close() {} };
    }
    let open = true;
    port.onMessage.addListener((msg) => { if (open) handlers.onMessage(msg); });
    port.onDisconnect.addListener(() => {
      // Reading lastError here also keeps Chrome from logging it as unchecked.
      const le = runtime.lastError;
      if (!open) return;
      open = false;
      handlers.onClose((le && le.message) || 'Native host has exited.');
    });
    return {
      send(msg) {
        if (!open) return;
        try {
          port.postMessage(msg);
        } catch (err) {
          open = false;
          Promise.resolve().then(() => handlers.onClose(String((err && err.message) || err)));
        }
      },
      close() { if (open) { open = false; port.disconnect(); } },
    };
  }

  /**
   * Web page (MAIN world): the envelope {channel: PAGE_CHANNEL, dir: 'up'|'down', link, type, msg?, error?}
   * travels by window.postMessage to relay.js; `link` tags one connection so late messages of a closed one
   * are ignored. Types up: open, msg, close; down: ready (relay loaded), opened, msg, closed.
   * @param {LinkHandlers} handlers @returns {Link}
   */
  function openPageLink(handlers) {
    const link = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    let open = true;
    let acknowledged = false;
    // Messages wait for "opened": one posted before the relay listens is lost, and "open" alone is re-sent.
    let waiting = [];
    const post = (type, extra) => global.postMessage(Object.assign({ channel: PAGE_CHANNEL, dir: 'up', link, type }, extra), '*');
    const finish = (error) => {
      if (!open) return;
      open = false;
      global.removeEventListener('message', listener);
      global.clearTimeout(timer);
      handlers.onClose(error);
    };
    const listener = (event) => {
      const data = event.data;
      if (event.source !== global || !data || data.channel !== PAGE_CHANNEL || data.dir !== 'down') return;
      if (data.type === 'ready' && !acknowledged) { post('open'); return; } // relay loaded after our open
      if (data.link !== link) return;
      if (data.type === 'opened' && !acknowledged) {
        acknowledged = true;
        global.clearTimeout(timer);
        const queued = waiting;
        waiting = [];
        for (const msg of queued) post('msg', { msg });
      }
      else if (data.type === 'msg') handlers.onMessage(data.msg);
      else if (data.type === 'closed') finish(data.error || 'Native host has exited.');
    };
    global.addEventListener('message', listener);
    const timer = global.setTimeout(() => finish('resocket relay content script did not answer'), RELAY_TIMEOUT_MS);
    post('open');
    return {
      send(msg) {
        if (!open) return;
        if (acknowledged) post('msg', { msg });
        else waiting.push(msg);
      },
      close() {
        if (!open) return;
        open = false;
        global.removeEventListener('message', listener);
        global.clearTimeout(timer);
        post('close');
      },
    };
  }

  /** Turn Chrome's port error into a lastError that names the fix. @param {string} reason @returns {string} */
  function hostFailureMessage(reason) {
    const fixes = [
      [/not found/i, 'run `resocket install`, then `resocket doctor`'],
      [/forbidden/i, 'the host manifest does not list this extension: run `resocket install`, then `resocket doctor`'],
      [/back\/forward cache/i, 'the sockets of that page were closed; its next call reconnects'],
      [/relay|context invalidated/i, 'reload the page; if it persists, check that the resocket extension is enabled'],
      [/permission|connectNative/i, 'the extension needs the "nativeMessaging" permission'],
    ];
    const fix = (fixes.find(([re]) => re.test(reason)) || [null, 'run `resocket doctor`; the sockets of that host are closed'])[1];
    return `resocket host not available (${reason}): ${fix}`;
  }

  // ---- one connection to one host process ----

  /**
   * A connection: hello first, calls queued until hello is answered, replies matched by id.
   *
   * The data channel (docs/protocol.md, "Data channel"; wherever the page has WebSocket, web pages too): after
   * hello the connection asks for it with `datachannel.open` (an error, e.g. `unknown_op` or `not_allowed`
   * from an older host, means "no channel") and connects to it. While it is open, big writes send their
   * bytes there first and the request names them with `dataRef`; big reads ask `dataChannel: true`. Every
   * request and reply still travels on native messaging, so the host applies them in issue order.
   * Failure rules (nothing lost, nothing reordered on a socket):
   *  - a socket with channel writes not yet answered sends its next writes on the channel too while it is
   *    open, and holds every other call except reads (in issue order, ids already allocated) until those
   *    writes are answered; so if the channel dies, nothing of that socket can overtake them;
   *  - the host answers a write whose bytes never arrived `bad_args`: it is sent again with `data`, at once;
   *    the writes behind it on that socket fail the same way, so their resends follow in the same order;
   *  - a read answered with `dataRef` waits for its bytes; if the channel closes first the bytes are gone
   *    and the read fails with net::ERR_FAILED (-2), as a broken connection would;
   *  - once the channel closes (or never opens) everything runs over native messaging.
   * @param {function(LinkHandlers): Link} openLink
   * @param {function(HostConnection): void} onDead called once when the connection fails
   * @param {function(HostConnection, object): void} onEvent called with each event frame (chrome.sockets)
   * @param {{dataChannel: boolean, minBytes: number}} channelOptions
   */
  /**
   * For a call still waiting when the app disconnects, destroys or closes its socket (HostConnection
   * .silencePending): how to tell the host's answer to it that Chrome 156 never calls back (oracle scenarios
   * pending_aborts, sockets_pending_aborts), or null when every answer reaches the app.
   * @param {string} name the waiting call @param {string} kind 'tcp' or 'udp' @param {string} ns '' for
   * chrome.socket, else the chrome.sockets namespace
   * @returns {?function(*, (string|undefined)): boolean}
   */
  function abortedAnswer(name, kind, ns) {
    const cutShort = (first, le) => first === -3 && !le; // ERR_ABORTED, chrome.socket's way
    const cutShortWithText = (first, le) => first === -3 && le === 'net::ERR_ABORTED';
    // Not a listen or bind followed in the same tick by disconnect or close: Chrome 156 usually drops those
    // callbacks too, but under load it sometimes runs them; the host's own answer is one of Chrome's.
    // A secure() is cut short whatever the host answers: from a web page the disconnect may reach the host
    // after a quick handshake, but in the app's order it came first, and Chrome never calls it back.
    const always = () => true;
    if (ns) return name === 'connect' ? cutShortWithText : name === 'secure' ? always : null;
    switch (name) {
      case 'connect': return cutShort;
      case 'accept': return (first, le) => Boolean(first) && first.resultCode === -3 && !le;
      case 'secure': return always;
      case 'read': return kind === 'udp' ? (first, le) => Boolean(first) && first.resultCode === -100 && !le : null;
      default: return null;
    }
  }

  class HostConnection {
    constructor(openLink, onDead, onEvent, channelOptions = { dataChannel: false, minBytes: DATA_CHANNEL_MIN_BYTES,
      requestMinBytes: DATA_CHANNEL_REQUEST_MIN_BYTES }) {
      this.nextId = 1;
      /** @type {Map<number, {spec: MethodSpec, args: object, deliver: function(Array, (string|undefined)): void, pieces: Uint8Array[], order: number}>} */
      this.pending = new Map();
      this.queue = []; // frames waiting for the hello reply
      this.ready = false;
      this.dead = false;
      this.onDead = onDead;
      this.onEvent = onEvent;
      this.helloResult = null;
      // data channel state
      this.channelOptions = channelOptions;
      /** @type {WebSocket|null} */
      this.ws = null;
      this.channelOpen = false;
      /** The host answers requests sent on the channel itself (datachannel.open said `requests: true`). */
      this.channelRequests = false;
      this.nextRef = 1;
      /** Per socket: requests sent on native messaging and not answered yet ({calls, reads}, reads apart). */
      this.nativeBusy = new Map();
      /** Request records waiting for the end of this task, and their size with headers. */
      this.outRecords = [];
      this.outBytes = 0;
      /** Per socket: requests sent on the channel and not answered yet. */
      this.channelBusy = new Map();
      /** Per socket ("space hostId"): channel writes not finally answered, and calls held behind them. */
      this.sockets = new Map();
      /** Read-ahead streams by socket ("socket hostId"): {stream, path, chunks, bytes, consumed, acked, end,
       * waiting, socketId}; `waiting` is the app's read that found no bytes ({entry, size}). */
      this.aheads = new Map();
      /** A `socket.data` record announced its bytes as the channel's next message: {msg, size, rest}. */
      this.rawAnnounced = null;
      /** Implicit data (docs/protocol.md): the host sends the bytes of the stream it announced last without an
       * announcement; `implicitInfo` is that announcement's args (null: none yet, or the host does not). */
      this.channelImplicit = false;
      this.implicitInfo = null;
      /** Implicit writes (docs/protocol.md): the host takes a message that is no record as a write to the socket
       * of the last write record marked `implicit` (`bare`: {socketId, behind}), ids counting on from it. */
      this.channelImplicitWrites = false;
      this.bare = null;
      this.nextBareId = BARE_ID_BASE;
      /** Bytes consumed per stream before an ack (a quarter of the host's window; 0: the host has no read-ahead).
       * A stream granted a wide window acks every quarter of it instead (its `ackStep`). */
      this.aheadAck = 0;
      /** Write-behind (docs/protocol.md, "Write-behind"): bytes of a socket's writes that may have been called
       * back before the host answered them (0: the host does not offer it), and per socket ("socket hostId")
       * {capable, early, queue, broken, epoch} (behindWrite). */
      this.behindWindow = 0;
      this.behind = new Map();
      /** Read bytes that came on the channel before their reply: request id -> ArrayBuffer. */
      this.channelData = new Map();
      /** Reads whose reply came before their bytes: request id -> {entry, args, lastError}. */
      this.awaitingData = new Map();
      this.internal = new Map(); // id -> handler, for the connection's own requests (datachannel.open)
      this.link = openLink({ onMessage: (msg) => this.receive(msg), onClose: (reason) => this.fail(hostFailureMessage(reason)) });
      this.helloId = this.allocateId();
      this.helloTimer = global.setTimeout(() => {
        if (this.ready || this.dead) return;
        this.fail(`resocket host did not answer hello within ${HELLO_TIMEOUT_MS / 1000} s: run \`resocket doctor\``);
        this.link.close();
      }, HELLO_TIMEOUT_MS);
      // batch: the host may join small replies and events into one {batch: [...]} frame (docs/protocol.md).
      this.link.send({ id: this.helloId, op: 'hello',
        args: { protocol: PROTOCOL_VERSION, client: `resocket-extension/${SHIM_VERSION}`, batch: true,
          writeBehind: channelOptions.writeBehind !== false, wideWindows: channelOptions.wideWindows !== false } });
    }

    allocateId() { const id = this.nextId; this.nextId += 1; return id; }

    sendFrame(frame) {
      if (this.ready) this.link.send(frame);
      else this.queue.push(frame);
    }

    /**
     * Send one API request (with chunk frames for a large write).
     * @param {MethodSpec} spec @param {object} args protocol args
     * @param {function(Array, (string|undefined)): void} deliver receives callback args and lastError
     */
    request(spec, args, deliver) {
      if (!spec.ns && this.behindWindow > 0 && typeof args.socketId === 'number') {
        deliver = this.behindCall(spec, args, deliver);
        if (deliver === null) return;
      }
      if (!spec.ns && this.aheadAck > 0) {
        if (spec.name === 'read' && this.readAhead(spec, args, deliver)) return;
        if (spec.name === 'disconnect' || spec.name === 'destroy' || spec.name === 'secure') {
          deliver = this.endAhead(spec, args, deliver);
        }
      }
      const id = this.allocateId();
      const entry = { spec, args, deliver, pieces: [], order: id };
      this.pending.set(id, entry);
      this.route(id, entry);
    }

    // -- write-behind --

    /**
     * A chrome.socket call on a socket while the host offers write-behind: a write may be called back now
     * (behindWrite); a read that ends the connection, disconnect, destroy and secure stop it until the next
     * write the host answers says `behind` again. Returns the `deliver` to use, or null when answered here.
     */
    behindCall(spec, args, deliver) {
      const key = `socket ${args.socketId}`;
      const name = spec.name;
      if (name === 'write') return this.behindWrite(key, args, deliver);
      if (name === 'read') {
        return (values, lastError) => {
          const first = values[0];
          if (first && typeof first === 'object' && first.resultCode <= 0) this.behindOff(key);
          deliver(values, lastError);
        };
      }
      if (name === 'disconnect' || name === 'secure') this.behindOff(key);
      else if (name === 'destroy') { this.behindOff(key); this.behind.delete(key); }
      return deliver;
    }

    behindOff(key) {
      const state = this.behind.get(key);
      if (!state) return;
      state.capable = false;
      state.broken = null;
      state.window = 0;
      state.epoch += 1; // failures of earlier writes no longer speak for this socket's next write
    }

    /**
     * Chrome calls a TCP write back once its bytes are in the socket's data pipe, before they reach the OS;
     * a failure the network service meets later closes the pipe and the *next* write reports it (-2), then
     * the socket is disconnected (-15). Here: every write of a socket joins its callback queue, and the
     * callbacks leave in issue order, each once the host answered it, or earlier once the host said the
     * socket may (`behind` in a write reply) and the bytes called back early and not yet answered stay
     * within the host's window. Once the socket may, its writes say `behind: true`, so the host may hold their
     * replies for its next message (a few ms at most, or a quarter window). A write
     * called back early that then failed makes the next write answer -2 here (the host has disconnected the
     * socket). Returns the `deliver` for the host's reply, or null when the write was answered here.
     */
    behindWrite(key, args, deliver) {
      let state = this.behind.get(key);
      if (!state) {
        state = { capable: false, early: 0, queue: [], broken: null, epoch: 0, window: 0 };
        this.behind.set(key, state);
      }
      const size = args.data.byteLength;
      if (state.queue.length === 0 && state.broken !== null) {
        const code = state.broken;
        state.broken = null;
        state.capable = false;
        this.disconnectAtHost(args.socketId);
        Promise.resolve().then(() => deliver([{ bytesWritten: code }], undefined));
        return null;
      }
      const entry = { size, deliver, reply: null, early: false, epoch: state.epoch };
      if (state.queue.length === 0 && this.mayCallBack(state, size)) this.callBackEarly(state, entry);
      else state.queue.push(entry);
      // The host may hold the reply for its next message (at most a few ms): the socket's callbacks flow on
      // its replies to the writes before (the window), or this one's once it is at the queue's head.
      if (state.capable) args.behind = true;
      return (values, lastError) => {
        const first = values[0];
        if (first && typeof first === 'object' && first.behind === true) {
          state.capable = true;
          // A wide window (docs/protocol.md, "Wide windows"): every `behind` reply of a socket that holds one
          // says so, until its connection ends.
          state.window = typeof first.window === 'number' && first.window > 0 ? first.window : 0;
          const copy = Object.assign({}, first);
          delete copy.behind;
          delete copy.window;
          values = [copy].concat(values.slice(1));
        } else if (!entry.early) {
          state.capable = false; // a failure, UDP, an empty write: callbacks wait for the host again
        }
        if (entry.early) {
          state.early -= size;
          const ok = first && typeof first === 'object' && first.bytesWritten === size;
          // Failed after its callback ran (the connection broke): the next write says so.
          if (!ok && state.epoch === entry.epoch) {
            state.capable = false;
            if (state.broken === null) state.broken = -2;
          }
        } else {
          entry.reply = { values, lastError };
          // A write that reports its own failure tells the app the connection broke: no -2 is owed any more.
          if (!(first && typeof first === 'object' && first.bytesWritten >= 0)) state.broken = null;
          if (first && typeof first === 'object' && first.bytesWritten === -2) this.disconnectAtHost(args.socketId);
        }
        this.releaseWrites(state);
      };
    }

    /**
     * The app is told a write failed (-2): from now on Chrome's socket is disconnected. A host that met the
     * failure on a write it knew might be called back early (`behind`) keeps the socket connected until the app
     * meets it (docs/protocol.md, "Write-behind"); this tells it so, with no callback and nothing else touched.
     */
    disconnectAtHost(socketId) {
      if (!this.disconnectSpec) this.disconnectSpec = compileSpec(SOCKET_API.find((row) => row.name === 'disconnect'));
      const id = this.allocateId();
      const entry = { spec: this.disconnectSpec, args: { socketId }, deliver: () => {}, pieces: [], order: id };
      this.pending.set(id, entry);
      this.route(id, entry);
    }

    /**
     * Destroy (chrome.socket) or close (chrome.sockets `ns`) a socket at the host, with no callback, as the app's
     * own call would (its write-behind and read-ahead state end too).
     */
    removeAtHost(socketId, ns) {
      this.request(compileSpec({ name: ns ? 'close' : 'destroy', params: '' }, ns), { socketId }, () => {});
    }

    mayCallBack(state, size) {
      return state.capable && size > 0 && state.early + size <= Math.max(state.window, this.behindWindow);
    }

    callBackEarly(state, entry) {
      entry.early = true;
      state.early += entry.size;
      Promise.resolve().then(() => entry.deliver([{ bytesWritten: entry.size }], undefined));
    }

    /** Call back the queue's head writes that are answered, or that the window now lets go early. */
    releaseWrites(state) {
      while (state.queue.length > 0) {
        const head = state.queue[0];
        if (head.reply !== null) {
          state.queue.shift();
          head.deliver(head.reply.values, head.reply.lastError);
        } else if (this.mayCallBack(state, head.size)) {
          state.queue.shift();
          this.callBackEarly(state, head);
        } else {
          return;
        }
      }
    }

    // -- read-ahead --

    /**
     * A chrome.socket read: answered here when its socket has a read-ahead stream (true), else sent (false),
     * asking the host to start one. Chrome's checks that still apply to a connected socket come first: a read
     * already waiting gives -1, a bufferSize <= 0 gives -4; then buffered bytes (at most bufferSize); then, once
     * the host pushed the end and every byte was read, the read goes to the host, which answers the end.
     */
    readAhead(spec, args, deliver) {
      const key = `socket ${args.socketId}`;
      const ahead = this.aheads.get(key);
      if (!ahead) {
        args.stream = true;
        return false;
      }
      const size = args.bufferSize === undefined ? DEFAULT_READ_SIZE : args.bufferSize;
      const later = (code, data) => Promise.resolve().then(() => deliver([{ data, resultCode: code }], undefined));
      if (ahead.waiting) { later(-1, emptyBuffer()); return true; }
      if (size <= 0) { later(-4, emptyBuffer()); return true; }
      if (ahead.bytes > 0) {
        const data = this.takeAhead(ahead, size);
        later(data.byteLength, data);
        return true;
      }
      if (ahead.end === 0) { this.aheads.delete(key); return false; }
      if (ahead.end !== null) { this.aheads.delete(key); later(ahead.end, emptyBuffer()); return true; }
      ahead.waiting = { entry: { spec, args, deliver, pieces: [], order: this.allocateId() }, size };
      return true;
    }

    /** disconnect / destroy / secure end the socket's stream here: its unread bytes are dropped (Chrome drops
     * its pipe), and a read waiting on it gets -100 just before the call's own reply, where the host used to
     * answer it; secure tells the host a read was pending (`readPending`: Chrome's -2, socket destroyed). */
    endAhead(spec, args, deliver) {
      const key = `socket ${args.socketId}`;
      const ahead = this.aheads.get(key);
      if (!ahead) return deliver;
      this.aheads.delete(key);
      const waiting = ahead.waiting;
      if (!waiting) return deliver;
      if (spec.name === 'secure') args.readPending = true;
      return (values, lastError) => {
        waiting.entry.deliver([{ resultCode: -100, data: emptyBuffer() }], undefined);
        deliver(values, lastError);
      };
    }

    /**
     * Up to `size` buffered bytes as one ArrayBuffer; acknowledges them once enough were consumed. A big piece
     * that is a whole buffer of its own (a data channel message) is handed over alone and uncopied when it
     * fits, even with more buffered behind it: a legal partial read (Chrome returns whatever is available up
     * to bufferSize), which saves the renderer a copy into fresh memory per read (docs/performance.md).
     */
    takeAhead(ahead, size) {
      const head = ahead.chunks[0];
      const whole = head.byteOffset === 0 && head.byteLength === head.buffer.byteLength;
      const n = whole && head.byteLength >= WHOLE_PIECE_BYTES && head.byteLength <= size
        ? head.byteLength : Math.min(size, ahead.bytes);
      let data;
      if (head.byteLength === n) {
        ahead.chunks.shift();
        data = head.byteOffset === 0 && head.byteLength === head.buffer.byteLength ? head.buffer : head.slice().buffer;
      } else if (head.byteLength > n) {
        data = head.slice(0, n).buffer;
        ahead.chunks[0] = head.subarray(n);
      } else {
        const out = new Uint8Array(n);
        let at = 0;
        while (at < n) {
          const chunk = ahead.chunks[0];
          const part = Math.min(chunk.byteLength, n - at);
          out.set(part === chunk.byteLength ? chunk : chunk.subarray(0, part), at);
          at += part;
          if (part === chunk.byteLength) ahead.chunks.shift();
          else ahead.chunks[0] = chunk.subarray(part);
        }
        data = out.buffer;
      }
      ahead.bytes -= n;
      ahead.consumed += n;
      if (ahead.consumed - ahead.acked >= ahead.ackStep) {
        ahead.acked = ahead.consumed;
        this.notice({ op: 'socket.ack', args: { socketId: ahead.socketId, stream: ahead.stream, consumed: ahead.consumed } },
          ahead.path);
      }
      return data;
    }

    /** A notice (no id, no reply) on the stream's path: the channel while it is up, else native messaging. */
    notice(msg, path) {
      if (path === 'channel' && this.channelUp()) this.queueRecord(codec().enc.encode(JSON.stringify(msg)), undefined);
      else this.sendFrame(msg);
    }

    /** The reply to a read that asked for read-ahead says the stream started (`stream`: its id). */
    startAhead(entry, stream, ackStep) {
      const socketId = entry.args.socketId;
      this.aheads.set(`socket ${socketId}`, { stream, path: entry.channelRequest ? 'channel' : 'native', chunks: [],
        bytes: 0, consumed: 0, acked: 0, end: null, waiting: null, socketId, ackStep: ackStep || this.aheadAck });
    }

    /** A `socket.data` or `socket.end` event: bytes for the socket's stream, or its end. */
    aheadEvent(msg, channelBytes) {
      const info = Array.isArray(msg.args) ? msg.args[0] : null;
      if (!info || typeof info !== 'object') return;
      const key = `socket ${info.socketId}`;
      const ahead = this.aheads.get(key);
      if (!ahead || ahead.stream !== info.stream) return; // a stream the page already ended
      if (msg.event === 'socket.data') {
        const bytes = channelBytes !== undefined ? channelBytes
          : (typeof info.data === 'string' ? fromBase64(info.data) : new Uint8Array(0));
        if (bytes.byteLength === 0) return;
        ahead.chunks.push(bytes);
        ahead.bytes += bytes.byteLength;
        if (ahead.waiting) {
          const { entry, size } = ahead.waiting;
          ahead.waiting = null;
          const data = this.takeAhead(ahead, size);
          entry.deliver([{ data, resultCode: data.byteLength }], undefined);
        }
        return;
      }
      if (msg.event !== 'socket.end' || typeof info.resultCode !== 'number') return;
      if (info.resultCode === 0) {
        // The end follows every byte: a read waiting now (so with nothing buffered) collects it from the host.
        ahead.end = 0;
        if (ahead.waiting && ahead.bytes === 0) {
          const { entry } = ahead.waiting;
          this.aheads.delete(key);
          const id = this.allocateId();
          this.pending.set(id, entry);
          this.route(id, entry);
        }
        return;
      }
      // The host closed the connection (a write failed): the waiting read gets what the host's own would have.
      this.aheads.delete(key);
      if (ahead.waiting) ahead.waiting.entry.deliver([{ resultCode: info.resultCode, data: emptyBuffer() }], undefined);
    }

    /** The channel closed: its streams may have lost bytes in flight, so the host breaks those connections.
     * What was received can still be read; then a read gets -2, as on a broken connection. */
    aheadChannelClosed() {
      for (const [key, ahead] of Array.from(this.aheads)) {
        if (ahead.path !== 'channel') continue;
        if (ahead.bytes > 0) { ahead.end = -2; continue; }
        this.aheads.delete(key);
        if (ahead.waiting) ahead.waiting.entry.deliver([{ resultCode: -2, data: emptyBuffer() }], undefined);
      }
    }

    /** True while bytes may go on the data channel. */
    channelUp() { return this.channelOpen && this.ws !== null && this.ws.readyState === 1; }

    /** Send (or hold) the request `id`: on the data channel, or as before. */
    route(id, entry) {
      const { spec, args } = entry;
      const key = typeof args.socketId === 'number' ? `${spec.space} ${args.socketId}` : null;
      const state = key === null ? undefined : this.sockets.get(key);
      const toChannel = spec.carriesData && this.channelUp();
      if (state && !spec.isRead && (state.held.length > 0 || (state.inflight > 0 && !toChannel))) {
        if (args.data && !entry.ownData) entry.args = Object.assign({}, args, { data: args.data.slice() });
        entry.ownData = true;
        state.held.push(id);
        return;
      }
      if (this.channelRequests && key !== null && !spec.ns && this.channelUp()) {
        // Requests on the channel (chrome.socket only). A socket's requests are pending on one path at a
        // time: while any is pending on the channel every call of that socket follows it there; a write or
        // read starts using the channel only when nothing of its socket is pending on native messaging.
        const busy = this.nativeBusy.get(key);
        const size = spec.name === 'write' ? args.data.byteLength
          : spec.name === 'read' ? (args.bufferSize === undefined ? DEFAULT_READ_SIZE : args.bufferSize) : -1;
        if (this.channelBusy.get(key) > 0 ||
            (busy === undefined && size >= 0 && size >= this.channelOptions.requestMinBytes)) {
          this.sendAsRequest(id, entry, key);
          return;
        }
      }
      if (toChannel && ((state && state.inflight > 0) || args.data.byteLength >= this.channelOptions.minBytes)) {
        this.sendOnChannel(id, entry, key);
        return;
      }
      if (spec.name === 'read' && !spec.ns && this.channelUp() &&
          (args.bufferSize === undefined ? DEFAULT_READ_SIZE : args.bufferSize) >= this.channelOptions.minBytes) {
        this.countNative(key, entry);
        this.sendFrame({ id, op: spec.op, args: Object.assign({}, args, { dataChannel: true }) });
        return;
      }
      this.countNative(key, entry);
      this.sendPlain(id, entry);
    }

    /** The request as one request message on the channel; a write's bytes ride in it (named by dataRef),
     * a read asks for its bytes in the reply message. */
    sendAsRequest(id, entry, key) {
      this.channelBusy.set(key, (this.channelBusy.get(key) || 0) + 1);
      entry.channelKey = key;
      let args = entry.args;
      let payload;
      if (entry.spec.carriesData) {
        payload = args.data;
        const mark = this.channelImplicitWrites && entry.spec.name === 'write' ? this.bareWrite(id, entry, args, payload)
          : undefined;
        if (mark === true) return;
        args = Object.assign({}, args, { dataRef: this.nextRef });
        this.nextRef += 1;
        delete args.data;
        if (mark !== undefined) args.implicit = mark;
      } else if (entry.spec.name === 'read') {
        args = Object.assign({}, args, { dataChannel: true });
      }
      this.sendRequestOnChannel(id, entry, args, payload);
    }

    /**
     * Implicit writes: the write's bytes as a message of their own, no record, when the host expects them
     * (the last write record marked `implicit` was this socket's, with the same `behind`). Else the record
     * sent next is marked, so this socket's next writes can go so. Returns true when sent, else the `implicit`
     * mark for the record (undefined: none).
     */
    bareWrite(id, entry, args, payload) {
      const behind = args.behind === true;
      const bare = this.bare;
      const refLike = payload.byteLength >= 8 && payload[0] === 0xff && payload[1] === 0xff && payload[2] === 0xff &&
        payload[3] === 0xff && payload[4] === 0xff && payload[5] === 0xff && payload[6] === 0xff && payload[7] === 0xff;
      // Small writes stay records, which the writes of one task share a message in; bytes that start like a
      // record could not go bare.
      if (payload.byteLength < BIG_RECORD_BYTES || refLike) return undefined;
      if (bare && bare.socketId === args.socketId && bare.behind === behind) {
        const bareId = this.nextBareId;
        this.nextBareId += 1;
        this.pending.delete(id);
        this.pending.set(bareId, entry);
        entry.channelRequest = true;
        if (this.outRecords.length > 0) this.flushChannel(); // records queued before it go first
        this.ws.send(payload);
        return true;
      }
      this.bare = { socketId: args.socketId, behind };
      return this.nextBareId;
    }

    /** Before a reference message: bare messages must mean references again (the notice goes at once). */
    endBareWrites() {
      if (!this.bare) return;
      this.bare = null;
      this.notice({ op: 'datachannel.explicit' }, 'channel');
      this.flushChannel();
    }

    /** One more request of socket `key` on native messaging, until its final reply (`settled`). */
    countNative(key, entry) {
      if (key === null) return;
      let busy = this.nativeBusy.get(key);
      if (!busy) { busy = { calls: 0, reads: 0 }; this.nativeBusy.set(key, busy); }
      if (entry.spec.isRead) busy.reads += 1;
      else busy.calls += 1;
      entry.nativeKey = key;
    }

    /** The final reply to `entry` arrived (or never will): forget what it counted. */
    settled(entry) {
      if (entry.nativeKey !== undefined) {
        const busy = this.nativeBusy.get(entry.nativeKey);
        if (busy) {
          if (entry.spec.isRead) busy.reads -= 1;
          else busy.calls -= 1;
          if (busy.reads <= 0 && busy.calls <= 0) this.nativeBusy.delete(entry.nativeKey);
        }
        entry.nativeKey = undefined;
      }
      if (entry.channelKey !== undefined) {
        const n = (this.channelBusy.get(entry.channelKey) || 1) - 1;
        if (n > 0) this.channelBusy.set(entry.channelKey, n);
        else this.channelBusy.delete(entry.channelKey);
        entry.channelKey = undefined;
      }
    }

    /**
     * A request message on the channel (docs/protocol.md, "Requests on the channel"): 8 bytes 0xff, the JSON's
     * length (4 bytes big-endian), the JSON request, then `payload`. The host answers on the channel.
     */
    sendRequestOnChannel(id, entry, args, payload) {
      entry.channelRequest = true;
      this.queueRecord(codec().enc.encode(JSON.stringify({ id, op: entry.spec.op, args })), payload);
    }

    /** One record (JSON bytes + payload) for the message that leaves at the end of this task. */
    queueRecord(text, payload) {
      const length = payload ? payload.byteLength : 0;
      if (length >= BIG_RECORD_BYTES) {
        // Sent now, straight from the caller's bytes, after the small records queued before it and in the
        // same message: holding it to the end of the task would mean one more copy, and a big message
        // amortizes its hop anyway.
        this.flushChannel({ text, payload, length });
        return;
      }
      if (this.outRecords.length === 0) Promise.resolve().then(() => this.flushChannel());
      this.outRecords.push({ text, payload: length ? payload.slice() : undefined, length });
      this.outBytes += 16 + text.byteLength + length;
    }

    /**
     * The queued small records (and `big`, a record to send now) as one message: each WebSocket message costs
     * the browser a hop. Built in a reused buffer: send() copies the bytes before it returns (WebSocket
     * standard), and a fresh 64 KiB ArrayBuffer per write cost the renderer more than the copy itself.
     */
    flushChannel(big) {
      const records = this.outRecords;
      if (records.length === 0 && !big) return;
      const size = this.outBytes + (big ? 16 + big.text.byteLength + big.length : 0);
      this.outRecords = [];
      this.outBytes = 0;
      if (!this.channelUp()) return; // channelClosed() fails their calls
      if (!this.scratch || this.scratch.byteLength < size) this.scratch = new Uint8Array(Math.max(size, 256 * 1024));
      let at = 0;
      for (const { text, payload } of records) at = writeRecord(this.scratch, at, text, payload);
      if (big) at = writeRecord(this.scratch, at, big.text, big.payload);
      this.ws.send(this.scratch.subarray(0, at));
    }

    /** The request as native messaging alone carries it: base64 data, chunk frames for a large write. */
    sendPlain(id, entry) {
      const { spec } = entry;
      let args = entry.args;
      if (spec.chunked && args.data.byteLength > WHOLE_WRITE_BYTES) {
        const bytes = args.data;
        let at = 0;
        for (; bytes.byteLength - at > CHUNK_BYTES; at += CHUNK_BYTES) {
          this.sendFrame({ id, chunk: toBase64(bytes.subarray(at, at + CHUNK_BYTES)) });
        }
        this.sendFrame({ id, op: spec.op, args: Object.assign({}, args, { data: toBase64(bytes.subarray(at)) }) });
        return;
      }
      if (args.data) args = Object.assign({}, args, { data: toBase64(args.data) });
      this.sendFrame({ id, op: spec.op, args });
    }

    /** The bytes as one channel message (8-byte big-endian reference, then the payload), then the request. */
    sendOnChannel(id, entry, key) {
      this.endBareWrites();
      const ref = this.nextRef;
      this.nextRef += 1;
      const bytes = entry.args.data;
      const message = new Uint8Array(8 + bytes.byteLength);
      const view = new DataView(message.buffer);
      view.setUint32(0, Math.floor(ref / 0x100000000));
      view.setUint32(4, ref >>> 0);
      message.set(bytes, 8);
      this.ws.send(message);
      entry.args = Object.assign({}, entry.args, { data: message.subarray(8) }); // for a resend: our own copy
      entry.ownData = true;
      let state = this.sockets.get(key);
      if (!state) { state = { inflight: 0, held: [] }; this.sockets.set(key, state); }
      state.inflight += 1;
      entry.socketKey = key;
      entry.viaChannel = true;
      this.countNative(key, entry);
      const args = Object.assign({}, entry.args, { dataRef: ref });
      delete args.data;
      this.sendFrame({ id, op: entry.spec.op, args });
    }

    /** A channel write of `key` was answered for good: release the calls held behind it once none is left. */
    release(key) {
      const state = this.sockets.get(key);
      if (!state) return;
      state.inflight -= 1;
      if (state.inflight > 0) return;
      const held = state.held;
      this.sockets.delete(key);
      for (const id of held) {
        const entry = this.pending.get(id);
        if (entry) this.route(id, entry); // a write may take the channel again; later calls then wait again
      }
    }

    // -- the data channel --

    openDataChannel() {
      const id = this.allocateId();
      this.internal.set(id, (msg) => {
        const result = msg.result;
        if (msg.error || !result || typeof result.url !== 'string' || typeof result.token !== 'string') return;
        this.channelImplicit = result.implicit === true;
        this.channelImplicitWrites = result.implicitWrites === true && this.channelOptions.implicitWrites !== false;
        this.channelRequests = result.requests === true && typeof global.TextEncoder === 'function' &&
          typeof global.TextDecoder === 'function';
        let ws;
        try {
          ws = new global.WebSocket(result.url + result.token);
        } catch (err) {
          return; // stays on native messaging
        }
        ws.binaryType = 'arraybuffer';
        this.ws = ws;
        ws.onopen = () => { if (this.ws === ws && !this.dead) this.channelOpen = true; };
        ws.onmessage = (event) => { if (this.ws === ws) this.channelMessage(event.data); };
        ws.onerror = () => {}; // a close follows
        ws.onclose = () => { if (this.ws === ws) this.channelClosed(); };
      });
      const args = { implicit: this.channelOptions.implicitData !== false,
        implicitWrites: this.channelOptions.implicitWrites !== false };
      // Firefox gives each extension page a moz-extension://<uuid> origin of its own per profile and tells the
      // host only the add-on ID: the page names its origin, the Origin its WebSocket will send.
      if (global.location && global.location.protocol === 'moz-extension:') args.origin = global.location.origin;
      this.link.send({ id, op: 'datachannel.open', args });
    }

    /** Host -> client: the bytes of the read whose request id is the reference. */
    channelMessage(data) {
      if (this.dead || !isArrayBuffer(data)) return;
      const raw = this.rawAnnounced;
      if (raw) {
        // The bytes a `socket.data` record announced (`size`): the whole message, nothing else, so a read
        // can take this very buffer. Then the rest of the announcing message, if any.
        this.rawAnnounced = null;
        if (this.channelImplicit) this.implicitInfo = raw.msg.args[0];
        if (data.byteLength !== raw.size) {
          // Not the bytes announced: the stream's order is lost, so the channel ends (its streams break).
          try { this.ws.close(); } catch (err) { /* already closing */ }
          this.channelClosed();
          return;
        }
        this.receive(raw.msg, new Uint8Array(data));
        if (raw.rest) this.channelRecords(raw.rest.data, raw.rest.at);
        return;
      }
      const view = data.byteLength >= 8 ? new DataView(data) : null;
      if (view && view.getUint32(0) === 0xffffffff && view.getUint32(4) === 0xffffffff) {
        this.channelRecords(data, 0);
        return;
      }
      if (this.implicitInfo) {
        // More bytes of the stream announced last (the host never sends reference messages then).
        const info = Object.assign({}, this.implicitInfo, { size: data.byteLength });
        this.receive({ event: 'socket.data', args: [info] }, new Uint8Array(data));
        return;
      }
      if (!view) return;
      const ref = view.getUint32(0) * 0x100000000 + view.getUint32(4);
      const bytes = data.slice(8);
      const waiting = this.awaitingData.get(ref);
      if (!waiting) { this.channelData.set(ref, bytes); return; }
      this.awaitingData.delete(ref);
      this.completeRead(waiting.entry, waiting.args, bytes, waiting.lastError);
    }

    /** Reply and event records from `at`: each a reply to a request sent on the channel (a read's bytes after
     * it) or an event; a `socket.data` record with `size` pauses them until its bytes' message arrived. */
    channelRecords(data, at) {
      const view = new DataView(data);
      while (at + 16 <= data.byteLength && !this.dead) {
        if (view.getUint32(at) !== 0xffffffff || view.getUint32(at + 4) !== 0xffffffff) return;
        const size = view.getUint32(at + 8);
        const length = view.getUint32(at + 12);
        const body = at + 16;
        at = body + size + length;
        if (at > data.byteLength) return;
        let msg;
        try {
          msg = JSON.parse(codec().dec.decode(new Uint8Array(data, body, size)));
        } catch (err) {
          continue;
        }
        const info = msg && msg.event === 'socket.data' && Array.isArray(msg.args) ? msg.args[0] : null;
        if (info && typeof info.size === 'number') {
          this.rawAnnounced = { msg, size: info.size, rest: at < data.byteLength ? { data, at } : null };
          return;
        }
        this.receive(msg, new Uint8Array(data, body + size, length)); // a view: copied only where kept
      }
    }

    channelClosed() {
      this.bare = null;
      this.rawAnnounced = null;
      this.implicitInfo = null;
      this.channelOpen = false;
      this.ws = null;
      this.channelData.clear();
      this.aheadChannelClosed();
      // Requests sent on the channel and not answered: whether the host got them is unknown; they fail as
      // on a broken connection (-2), in issue order, and a late reply on native messaging is ignored.
      const cut = Array.from(this.pending).filter(([, e]) => e.channelRequest).sort((a, b) => a[1].order - b[1].order);
      for (const [id, entry] of cut) {
        this.pending.delete(id);
        this.settled(entry);
        const name = entry.spec.name;
        if (name === 'write') entry.deliver([{ bytesWritten: -2 }], undefined);
        else if (name === 'read') entry.deliver([{ resultCode: -2, data: emptyBuffer() }], undefined);
        else entry.deliver(entry.spec.failure(), 'resocket: the data channel closed before this call was answered');
        if (entry.socketKey !== undefined && !this.dead) this.release(entry.socketKey);
      }
      const lost = Array.from(this.awaitingData.values());
      this.awaitingData.clear();
      for (const { entry, args } of lost) {
        this.completeRead(entry, args, emptyBuffer(), undefined, -2); // the bytes are gone: the stream is broken
      }
    }

    completeRead(entry, args, bytes, lastError, resultCode) {
      const first = Object.assign({}, args[0], { data: bytes });
      delete first.dataRef;
      if (resultCode !== undefined) first.resultCode = resultCode;
      args[0] = first;
      entry.deliver(args, lastError);
    }

    receive(msg, channelBytes) {
      if (this.dead || !msg || typeof msg !== 'object') return;
      if (Array.isArray(msg.batch) && channelBytes === undefined) {
        for (const one of msg.batch) this.receive(one);
        return;
      }
      try {
        this.receiveOne(msg, channelBytes);
      } catch (err) {
        // Only a host that breaks the protocol gets here (bad base64, an event of the wrong shape): that one
        // message is lost, loudly; the rest of its batch and every later message are still handled.
        if (global.console) global.console.error(`resocket: a message from the host could not be handled: ${err}`);
      }
    }

    /** One message of the host (not a batch): `receive` does the rest. */
    receiveOne(msg, channelBytes) {
      if (msg.id === this.helloId && !this.ready) {
        global.clearTimeout(this.helloTimer);
        if (msg.error) {
          const code = msg.error.code;
          this.fail(code === 'protocol_mismatch'
            ? `resocket host speaks another protocol: ${msg.error.message}`
            : `resocket host refused the connection (${code}: ${msg.error.message}): run \`resocket doctor\``);
          this.link.close();
          return;
        }
        this.helloResult = msg.result || {};
        const ahead = this.helloResult.readAhead;
        if (this.channelOptions.readAhead !== false && ahead && typeof ahead.window === 'number' && ahead.window > 0) {
          this.aheadAck = Math.max(1, Math.floor(ahead.window * AHEAD_ACK_SHARE));
        }
        const behind = this.helloResult.writeBehind;
        if (this.channelOptions.writeBehind !== false && behind && typeof behind.window === 'number' &&
            behind.window > 0) {
          this.behindWindow = behind.window;
        }
        this.ready = true;
        const queued = this.queue;
        this.queue = [];
        for (const frame of queued) this.link.send(frame);
        // An origin with no grant gets no channel (the host would refuse it): no request for nothing.
        if (this.channelOptions.dataChannel && this.helloResult.granted !== false) this.openDataChannel();
        return;
      }
      if (typeof msg.event === 'string' && !('id' in msg)) {
        if (!this.ready) return;
        if (msg.event === 'socket.data' || msg.event === 'socket.end') this.aheadEvent(msg, channelBytes);
        else this.onEvent(this, msg);
        return;
      }
      const internal = this.internal.get(msg.id);
      if (internal) { this.internal.delete(msg.id); internal(msg); return; }
      const entry = this.pending.get(msg.id);
      if (!entry) return;
      if (typeof msg.chunk === 'string') {
        try {
          entry.pieces.push(fromBase64(msg.chunk));
        } catch (err) {
          this.pending.delete(msg.id); // the call fails now; the rest of its reply finds nothing pending
          this.settled(entry);
          this.malformed(entry, err);
        }
        return;
      }
      this.pending.delete(msg.id);
      this.settled(entry);
      if (msg.error && entry.viaChannel && msg.error.code === 'bad_args') {
        // The channel closed before the host had this write's bytes: send them again, on native messaging.
        entry.viaChannel = false;
        const id = this.allocateId();
        this.pending.set(id, entry);
        this.countNative(entry.socketKey, entry);
        this.sendPlain(id, entry);
        return;
      }
      try {
        this.settle(entry, msg, channelBytes);
      } catch (err) {
        this.malformed(entry, err); // decoding failed before the callback ran
      }
      // The callback ran first: calls it made queue behind the held ones, which go now in issue order.
      if (entry.socketKey !== undefined && !this.dead) this.release(entry.socketKey);
    }

    /**
     * The app disconnects, destroys or closes socket `hostId` (a host id) of API `ns` ('' for chrome.socket):
     * Chrome 156 never calls back a connect, accept or secure() it cuts short, nor a UDP read (quirks 6 and 7;
     * oracle scenarios pending_aborts, sockets_pending_aborts). The host answers each request once
     * (ERR_ABORTED, -100); abortedAnswer tells those answers, which are dropped here. An answer the host gave
     * before the disconnect reached it (a connect refused at once) still reaches the app, as in Chrome.
     */
    silencePending(hostId, kind, ns) {
      if (hostId === GONE_SOCKET_ID) return;
      for (const entry of this.pending.values()) {
        const { spec, args } = entry;
        if ((spec.ns || '') !== ns || args.socketId !== hostId) continue;
        const aborted = abortedAnswer(spec.name, kind, ns);
        if (aborted === null) continue;
        const deliver = entry.deliver;
        entry.deliver = (values, lastError) => {
          if (aborted(values[0], lastError)) return;
          deliver(values, lastError);
        };
      }
    }

    /** Whether socket `hostId` (API `ns`, '' for chrome.socket) has a `name` request waiting for its answer. */
    hasPending(hostId, ns, name) {
      if (hostId === GONE_SOCKET_ID) return false;
      for (const entry of this.pending.values()) {
        if ((entry.spec.ns || '') === ns && entry.args.socketId === hostId && entry.spec.name === name) return true;
      }
      return false;
    }

    /**
     * Whatever the host answers to the pending `name` requests of socket `hostId` (API `ns`, '' for
     * chrome.socket) is never called back. Returns whether there was one.
     */
    dropPending(hostId, ns, name) {
      let found = false;
      if (hostId === GONE_SOCKET_ID) return found;
      for (const entry of this.pending.values()) {
        if ((entry.spec.ns || '') === ns && entry.args.socketId === hostId && entry.spec.name === name) {
          entry.deliver = () => {};
          found = true;
        }
      }
      return found;
    }

    /** Deliver the final reply `msg` to `entry`. */
    settle(entry, msg, channelBytes) {
      if (msg.error) {
        // An origin with no grant (not_granted): the host's message is the lastError, as it names the fix. Any
        // other protocol error on an API call is a host limit (too_many_sockets, chunks_too_large) or a shim bug.
        entry.deliver(entry.spec.failure(), msg.error.code === 'not_granted' ? String(msg.error.message)
          : `resocket: ${msg.error.code}: ${msg.error.message}`);
        return;
      }
      const args = Array.isArray(msg.args) ? msg.args : [];
      let first = args[0];
      if (entry.spec.name === 'read' && !entry.spec.ns && first && typeof first === 'object' &&
          typeof first.stream === 'number') {
        // A wide window (docs/protocol.md, "Wide windows"): acknowledged every quarter of it instead.
        const window = typeof first.window === 'number' && first.window > 0
          ? Math.max(1, Math.floor(first.window * AHEAD_ACK_SHARE)) : 0;
        this.startAhead(entry, first.stream, window);
        first = args[0] = Object.assign({}, first);
        delete first.stream;
        delete first.window;
      }
      if (entry.spec.isRead && first && typeof first === 'object') {
        if (typeof first.dataRef === 'number' && channelBytes !== undefined) {
          this.completeRead(entry, args, channelBytes.slice().buffer, msg.lastError);
          return;
        }
        if (typeof first.dataRef === 'number') {
          const bytes = this.channelData.get(first.dataRef);
          if (bytes !== undefined) {
            this.channelData.delete(first.dataRef);
            this.completeRead(entry, args, bytes, msg.lastError);
          } else if (this.channelOpen) {
            this.awaitingData.set(first.dataRef, { entry, args, lastError: msg.lastError });
          } else {
            this.completeRead(entry, args, emptyBuffer(), undefined, -2);
          }
          return;
        }
        const pieces = entry.pieces;
        if (typeof first.data === 'string' && first.data) pieces.push(fromBase64(first.data));
        args[0] = Object.assign({}, first, { data: pieces.length ? joinPieces(pieces) : emptyBuffer() });
      }
      entry.deliver(args, msg.lastError);
    }

    /** A reply the shim could not read (host bug): the call fails with its usual failure value. */
    malformed(entry, err) {
      if (global.console) global.console.error(`resocket: a reply from the host could not be read: ${err}`);
      entry.deliver(entry.spec.failure(), `resocket host sent a malformed reply: ${(err && err.message) || err}`);
    }

    /** Fail every pending and queued call, in issue order, with `message`. */
    fail(message) {
      if (this.dead) return;
      this.dead = true;
      this.failure = message;
      global.clearTimeout(this.helloTimer);
      this.queue = [];
      const ws = this.ws;
      this.ws = null;
      this.channelOpen = false;
      if (ws) { try { ws.close(); } catch (err) { /* already closing */ } }
      const entries = Array.from(this.pending.values())
        .concat(Array.from(this.awaitingData.values(), (w) => w.entry))
        .concat(Array.from(this.aheads.values()).filter((a) => a.waiting).map((a) => a.waiting.entry))
        .sort((a, b) => a.order - b.order);
      this.aheads.clear();
      this.behind.clear();
      this.pending.clear();
      this.awaitingData.clear();
      this.sockets.clear();
      this.nativeBusy.clear();
      this.channelBusy.clear();
      this.onDead(this);
      for (const entry of entries) entry.deliver(entry.spec.failure(), message);
    }
  }

  // ---- the shim: socket ids, connections, generated wrappers ----

  // Native messaging where the page has it; else, in an Isolated Web App, the Direct Sockets backend loaded
  // before this script (direct-sockets.js, docs/chromeos.md), which speaks the same protocol in the page; else
  // the relay of a web page.
  const directSockets = global.__resocketDirectSockets;
  const openLink = (global.chrome && global.chrome.runtime && typeof global.chrome.runtime.connectNative === 'function')
    ? openNativeLink
    : (directSockets && typeof directSockets.open === 'function') ? (handlers) => directSockets.open(handlers)
      : openPageLink;

  /**
   * Page-visible socket ids of one API: chrome.socket ('socket') or one chrome.sockets namespace. Ids count
   * from 1 and are never reused; `byHost` maps the current connection's host ids back (for event frames).
   */
  class IdSpace {
    constructor() {
      this.next = 1;
      /** @type {Map<number, {connection: HostConnection, hostId: number}>} */
      this.byPage = new Map();
      /** @type {Map<number, number>} host id (of the live connection) -> page id */
      this.byHost = new Map();
    }

    adopt(conn, hostId, kind) {
      const id = this.next;
      this.next += 1;
      this.byPage.set(id, { connection: conn, hostId, kind });
      this.byHost.set(hostId, id);
      return id;
    }

    hostId(pageId, conn) {
      const known = this.byPage.get(pageId);
      return known && known.connection === conn ? known.hostId : GONE_SOCKET_ID;
    }

    pageId(hostId) { return this.byHost.get(hostId); }

    /** 'tcp' or 'udp' for a chrome.socket id (its create's type; accepted sockets are tcp), else undefined. */
    kind(pageId) {
      const known = this.byPage.get(pageId);
      return known ? known.kind : undefined;
    }

    forget(pageId) {
      const known = this.byPage.get(pageId);
      if (!known) return;
      this.byPage.delete(pageId);
      if (this.byHost.get(known.hostId) === pageId) this.byHost.delete(known.hostId);
    }

    forgetConnection(conn) {
      for (const [id, s] of this.byPage) if (s.connection === conn) this.byPage.delete(id);
      this.byHost.clear(); // only one connection is ever live
    }
  }

  /** @type {HostConnection|null} */
  let connection = null;
  const spaces = { socket: new IdSpace(), tcp: new IdSpace(), tcpServer: new IdSpace(), udp: new IdSpace() };

  /** Whether a new connection opens a data channel: only with a native port of its own and WebSocket. */
  function channelOptions() {
    const knobs = (global.resocketOptions && typeof global.resocketOptions === 'object') ? global.resocketOptions : {};
    const min = knobs.dataChannelMinBytes;
    const requestMin = knobs.dataChannelRequestMinBytes;
    return {
      requestMinBytes: typeof requestMin === 'number' && requestMin >= 0 ? requestMin : DATA_CHANNEL_REQUEST_MIN_BYTES,
      // Web pages too (the host accepts their channel only with the page's own Origin, and only for an origin
      // that holds a grant): a page's CSP or the browser may still refuse it, and then nothing changes.
      dataChannel: typeof global.WebSocket === 'function' && knobs.dataChannel !== false,
      readAhead: knobs.readAhead !== false,
      implicitData: knobs.implicitData !== false,
      implicitWrites: knobs.implicitWrites !== false,
      writeBehind: knobs.writeBehind !== false,
      wideWindows: knobs.wideWindows !== false,
      minBytes: typeof min === 'number' && min >= 0 ? min : DATA_CHANNEL_MIN_BYTES,
    };
  }

  function currentConnection() {
    if (!connection || connection.dead) {
      connection = new HostConnection(openLink, (dead) => {
        if (connection === dead) connection = null;
        for (const space of Object.values(spaces)) space.forgetConnection(dead);
        pendingAcks.clear();
      }, dispatchEvent, channelOptions());
    }
    return connection;
  }

  /**
   * Build the protocol args for a call, translating the page's socket id to the host's.
   * @param {MethodSpec} spec @param {object} named @param {HostConnection} conn @returns {object}
   */
  function hostArgs(spec, named, conn) {
    const args = Object.assign({}, named);
    if ('socketId' in args) args.socketId = spaces[spec.space].hostId(args.socketId, conn);
    // A view, not a copy: every path uses the bytes before the call returns (base64, a channel record), and a
    // call held for later takes its own copy (HostConnection.route), so the caller may reuse its buffer.
    if (args.data) {
      const d = args.data;
      args.data = ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d);
    }
    return args;
  }

  /** A chrome.sockets SocketInfo with the host's socketId replaced by the page's. */
  function pageInfo(space, info) {
    if (!info || typeof info !== 'object' || typeof info.socketId !== 'number') return info;
    const id = space.pageId(info.socketId);
    return id === undefined ? info : Object.assign({}, info, { socketId: id });
  }

  /**
   * The callback arguments the page sees: new sockets adopted into the API's id space, host ids mapped.
   * @param {MethodSpec} spec @param {Array} values @param {HostConnection} conn @returns {Array}
   */
  /**
   * Chrome builds the objects it hands callbacks and listeners from base::Value dicts, whose keys are kept
   * sorted, so the app sees them in that order (Object.keys, JSON.stringify, for...in; oracle key_order).
   * The host and the shim write theirs in any order: sorted here, one level deep (arrays of objects too).
   */
  function chromeOrder(value) {
    if (!value || typeof value !== 'object' || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return value;
    if (Array.isArray(value)) return value.map(chromeOrder);
    const keys = Object.keys(value);
    let i = 1;
    while (i < keys.length && keys[i - 1] < keys[i]) i += 1;
    if (i >= keys.length) return value;
    const out = {};
    for (const key of keys.sort()) out[key] = value[key];
    return out;
  }

  function pageValues(spec, values, conn, named) {
    const first = values[0];
    const space = spaces[spec.space];
    if (first && typeof first === 'object' && typeof first.socketId === 'number' &&
        (spec.name === 'create' || (spec.op === 'accept' && first.resultCode === 0))) {
      const kind = spec.name === 'create' ? (named && named.type) : 'tcp';
      return [Object.assign({}, first, { socketId: space.adopt(conn, first.socketId, kind) })];
    }
    if (spec.ns && spec.name === 'getInfo') return [pageInfo(space, first)];
    if (spec.ns && spec.name === 'getSockets' && Array.isArray(first)) return [first.map((i) => pageInfo(space, i))];
    return values;
  }

  /** @param {MethodSpec} spec @returns {function(...*): (Promise|undefined)} */
  function makeWrapper(spec) {
    const wrapper = function (...given) {
      const { named, callback } = parseArguments(spec, given);
      const conn = currentConnection();
      const args = hostArgs(spec, named, conn);
      let promise;
      let deliver;
      if (callback || spec.callback !== 'optional') {
        deliver = (values, lastError) => {
          if (!callback) return; // destroy, disconnect
          values = (lastError ? values : pageValues(spec, values, conn, named)).map(chromeOrder);
          try {
            withLastError(lastError, () => callback.apply(undefined, values));
          } catch (err) {
            reportCallbackError('Error handling response', err);
          }
        };
      } else {
        // Chromium 156: an optional callback left out gives a Promise (rejected with the lastError text).
        promise = new Promise((resolve, reject) => {
          deliver = (values, lastError) => {
            if (lastError) reject(new Error(lastError));
            else resolve(chromeOrder(pageValues(spec, values, conn, named)[0]));
          };
        });
      }
      if (!spec.ns && (spec.name === 'disconnect' || spec.name === 'destroy')) {
        conn.silencePending(args.socketId, spaces.socket.kind(named.socketId), '');
      } else if (spec.ns && (spec.name === 'disconnect' || spec.name === 'close')) {
        conn.silencePending(args.socketId, spec.ns === 'udp' ? 'udp' : 'tcp', spec.ns);
      } else if (!spec.ns && MID_UPGRADE[spec.name] && conn.hasPending(args.socketId, '', 'secure')) {
        // Chrome 156 answers these while the socket's secure() is in flight as for a socket not connected,
        // and getInfo still says "tcp" (oracle secure_busy). Decided here, in the app's order: the host may
        // already have finished the handshake when they would reach it.
        const answer = MID_UPGRADE[spec.name];
        if (answer === 'host') {
          const asked = deliver;
          deliver = (values, lastError) => asked(values.map((v) => (v && typeof v === 'object' && v.socketType
            ? Object.assign({}, v, { socketType: 'tcp' }) : v)), lastError);
        } else {
          Promise.resolve().then(() => deliver(answer(), undefined));
          return promise;
        }
      } else if (spec.name === 'secure' && conn.dropPending(args.socketId, spec.ns || '', 'secure')) {
        // Chrome 156: a secure() while another is in flight fails with -2 and removes the socket, and the first
        // is never called back (oracle secure_twice, sockets_secure_twice). Decided here, where the calls are
        // in the app's order: the host may already have finished the first handshake.
        conn.removeAtHost(args.socketId, spec.ns);
        spaces[spec.space].forget(named.socketId);
        Promise.resolve().then(() => deliver([-2], 'net::ERR_FAILED'));
        return promise;
      }
      conn.request(spec, args, deliver);
      if (spec.name === 'destroy' || spec.name === 'close') spaces[spec.space].forget(named.socketId);
      return promise;
    };
    Object.defineProperty(wrapper, 'name', { value: spec.name });
    return wrapper;
  }

  // ---- chrome.sockets events ----

  /** An event object like Chrome's: addListener, removeListener, hasListener, hasListeners, dispatch. */
  function makeEvent(qualified) {
    const listeners = [];
    return {
      addListener(fn) { if (typeof fn === 'function' && !listeners.includes(fn)) listeners.push(fn); },
      removeListener(fn) { const at = listeners.indexOf(fn); if (at >= 0) listeners.splice(at, 1); },
      hasListener(fn) { return listeners.includes(fn); },
      hasListeners() { return listeners.length > 0; },
      dispatch(...args) {
        for (const fn of listeners.slice()) {
          try { fn.apply(undefined, args); } catch (err) { reportCallbackError('Error in event handler', err); }
        }
      },
    };
  }

  /** @type {Object<string, Object<string, object>>} namespace -> event name -> event object */
  const events = {};
  /** Acknowledgements not yet sent: "ns host-id" -> count; sent together once the current task's events ran. */
  const pendingAcks = new Map();
  const ACK_SPEC = { name: 'ack', op: 'sockets.ack', ns: 'sockets', space: 'socket', qualified: 'sockets.ack',
    failure: () => [], chunked: false };

  function flushAcks(conn) {
    if (conn.dead) return;
    for (const [key, count] of pendingAcks) {
      const [api, hostId] = key.split(' ');
      conn.request(ACK_SPEC, { api, socketId: Number(hostId), count }, () => {});
    }
    pendingAcks.clear();
  }

  /**
   * One event frame: map ids (an accepted connection joins chrome.sockets.tcp), turn `data` into an
   * ArrayBuffer, run the listeners, then acknowledge it.
   * @param {HostConnection} conn @param {{event: string, args: Array}} msg
   */
  function dispatchEvent(conn, msg) {
    const [ns, name] = msg.event.split('.');
    const event = events[ns] && events[ns][name];
    const raw = Array.isArray(msg.args) ? msg.args[0] : null;
    if (!event || !raw || typeof raw !== 'object') return; // an event this shim does not know
    const hostId = raw.socketId;
    const pageId = spaces[ns].pageId(hostId);
    if (ACKED_EVENTS.has(name)) {
      const key = `${ns} ${hostId}`;
      if (pendingAcks.size === 0) Promise.resolve().then(() => flushAcks(conn));
      pendingAcks.set(key, (pendingAcks.get(key) || 0) + 1);
    }
    const info = Object.assign({}, raw);
    if (name === 'onAccept') {
      if (pageId === undefined) { // the page closed this server already: the connection has no owner
        conn.request(compileSpec({ name: 'close', params: '' }, 'tcp'), { socketId: raw.clientSocketId }, () => {});
        return;
      }
      info.clientSocketId = spaces.tcp.adopt(conn, raw.clientSocketId);
    }
    if (pageId === undefined) return; // closed by the page while the event was on its way
    info.socketId = pageId;
    if (name === 'onReceive') info.data = typeof raw.data === 'string' ? joinPieces([fromBase64(raw.data)]) : emptyBuffer();
    event.dispatch(chromeOrder(info));
  }

  // ---- install ----

  const socketApi = {};
  for (const row of SOCKET_API) socketApi[row.name] = makeWrapper(compileSpec(row));
  Object.defineProperty(socketApi, '__resocket', { value: SHIM_VERSION }); // marks the shim (double injection)

  if (!global.chrome) global.chrome = {};
  global.chrome.socket = socketApi;
  if (!global.chrome.experimental) global.chrome.experimental = {};
  if (!global.chrome.experimental.socket) global.chrome.experimental.socket = socketApi;
  ensureRuntime();

  if (!global.chrome.sockets) {
    const socketsApi = {};
    for (const [ns, rows] of Object.entries(SOCKETS_API)) {
      const api = {};
      for (const row of rows) api[row.name] = makeWrapper(compileSpec(row, ns));
      events[ns] = {};
      for (const name of SOCKETS_EVENTS[ns]) api[name] = events[ns][name] = makeEvent(`sockets.${ns}.${name}`);
      if (ns !== 'tcpServer') api.DnsQueryType = { ANY: 'any', IPV4: 'ipv4', IPV6: 'ipv6' };
      socketsApi[ns] = api;
    }
    Object.defineProperty(socketsApi, '__resocket', { value: SHIM_VERSION });
    global.chrome.sockets = socketsApi;
  }
})(typeof globalThis !== 'undefined' ? globalThis : this);
