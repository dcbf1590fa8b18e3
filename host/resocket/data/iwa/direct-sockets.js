/*
 * resocket Direct Sockets backend: resocket-host's side of the wire protocol (docs/protocol.md), answered in
 * the page itself with Direct Sockets (TCPSocket, UDPSocket, TCPServerSocket), for Isolated Web Apps where no
 * native-messaging host can run (docs/chromeos.md).
 *
 * Loaded before chrome-socket.js. It only defines `__resocketDirectSockets.open(handlers)`, a Link as the
 * shim's own transports are ({send, close}, replies to handlers.onMessage): the shim uses it where
 * chrome.runtime.connectNative does not exist. In a frame (where Chromium has no Direct Sockets) the Link
 * is the top document's, so the frame's own shim still gives its callbacks its own realm's values. So the shim's API table, argument checks, ids and Chrome
 * quirks stay the same for both backends; this file does what tcp.py, udp.py and sockets_api.py do.
 *
 * Design rules:
 *  1. Chrome's results where Direct Sockets lets us know them, a deliberate stand-in where it does not, each
 *     written down in docs/compatibility.md ("Isolated Web App backend"):
 *     - a failed open gives only `NetworkError`: -102 (refused) for an IP literal or localhost, -105 with
 *       "DNS resolution failed" for other names; `InvalidAccessError` (blocked by the browser's Local Network
 *       Access or port rules) is Chrome's permission failure, -1 "App does not have permission";
 *     - options are fixed at construction: no-delay is on (as Chrome's network service sets it), keep-alive
 *       off; setNoDelay/setKeepAlive answer as Chrome does on a connected socket, and change nothing;
 *     - multicast TTL and loopback are stored and given to the UDPSocket at bind, which is also when Chrome
 *       applies them;
 *     - secure() has no TLS upgrade to use: it fails as a failed handshake fails in Chrome (-2, the socket
 *       destroyed), with a lastError saying why;
 *     - getNetworkList has no Direct Sockets counterpart: Chrome's own failure, lastError only.
 *  2. The hello answer offers nothing optional (no read-ahead, write-behind, batch, data channel): the shim
 *     then sends one request per call and this file answers each one, in order per socket.
 *  3. Replies leave in a later microtask, never inside send(): the shim expects a port's asynchrony.
 *  4. No socket rules are enforced here: an IWA's sockets are allowed by the browser (its permissions policy,
 *     the Local Network Access permission, the admin's policies), not by resocket's grants.
 */
(function installDirectSockets(global) {
  'use strict';

  const VERSION = '0.1.0';
  if (global.__resocketDirectSockets) return;
  if (typeof global.TCPSocket !== 'function') {
    // Chromium 156 gives Direct Sockets to the top-level document only, not to its frames (the app's windows
    // in iwa-runtime.js), even with the features delegated: a frame's shim uses the top document's backend.
    let top = null;
    try { top = global.top !== global ? global.top.__resocketDirectSockets : null; } catch (err) { top = null; }
    if (top) global.__resocketDirectSockets = { version: VERSION, open: (handlers) => top.open(handlers) };
    return;
  }

  const PROTOCOL_VERSION = 1;
  /** Chrome's read() default (socket.idl) and UDP's buffer cap (udp_socket.cc clamps to 64 KiB). */
  const DEFAULT_BUFFER_SIZE = 4096;
  const MAX_UDP_BUFFER = 64 * 1024;
  const MAX_DATAGRAM = 65535;
  /** chrome.sockets flow control (docs/protocol.md): at most this many unacknowledged events per socket. */
  const EVENT_WINDOW = 8;
  /** How long an open waits at most for the closes issued before it (release). */
  const CLOSE_GUARD_MS = 1000;

  const NET = {
    OK: 0, IO_PENDING: -1, FAILED: -2, ABORTED: -3, INVALID_ARGUMENT: -4, NOT_IMPLEMENTED: -11, SOCKET_NOT_CONNECTED: -15,
    SOCKET_IS_CONNECTED: -23, CONNECTION_CLOSED: -100, CONNECTION_REFUSED: -102, CONNECTION_FAILED: -104,
    NAME_NOT_RESOLVED: -105, ADDRESS_INVALID: -108, ADDRESS_UNREACHABLE: -109, MSG_TOO_BIG: -142,
    ADDRESS_IN_USE: -147, UNEXPECTED: -9, ACCESS_DENIED: -138,
  };
  const NET_NAMES = {
    [-2]: 'FAILED', [-3]: 'ABORTED', [-4]: 'INVALID_ARGUMENT', [-9]: 'UNEXPECTED', [-11]: 'NOT_IMPLEMENTED',
    [-15]: 'SOCKET_NOT_CONNECTED', [-23]: 'SOCKET_IS_CONNECTED', [-100]: 'CONNECTION_CLOSED',
    [-102]: 'CONNECTION_REFUSED', [-104]: 'CONNECTION_FAILED', [-105]: 'NAME_NOT_RESOLVED',
    [-108]: 'ADDRESS_INVALID', [-109]: 'ADDRESS_UNREACHABLE', [-142]: 'MSG_TOO_BIG', [-147]: 'ADDRESS_IN_USE', [-138]: 'ACCESS_DENIED',
  };
  const netError = (code) => `net::ERR_${NET_NAMES[code] || 'FAILED'}`;

  // Chrome's messages (extensions/browser/api/socket/socket_api.cc), as the host words them (engine.py).
  const MSG = {
    notFound: 'Socket not found',
    noPermission: 'App does not have permission',
    dnsFailed: 'DNS resolution failed',
    portRange: 'Port must be a value between 0 and 65535.',
    tcpBind: 'TCP socket does not support bind. For TCP server please use listen.',
    notSupported: 'Socket type does not support this API',
    multicastUdpOnly: 'Only UDP socket supports multicast.',
    tlsTcpOnly: 'Only TCP sockets are supported for TLS.',
    networkList: 'Network lookup failed or unsupported',
    listenFailed: 'Could not listen on the specified port.',
    connectAndListen: 'Cannot call both connect and listen on the same socket.',
    notConnected: 'Socket not connected',
    noTls: 'net::ERR_FAILED (secure() is not available in an Isolated Web App: Direct Sockets has no TLS ' +
      'upgrade, so the socket was closed; see resocket docs/compatibility.md)',
  };

  const toBase64 = typeof Uint8Array.prototype.toBase64 === 'function'
    ? (bytes) => bytes.toBase64()
    : (bytes) => {
      let binary = '';
      for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
      return global.btoa(binary);
    };
  const fromBase64 = typeof Uint8Array.fromBase64 === 'function'
    ? (text) => Uint8Array.fromBase64(text)
    : (text) => Uint8Array.from(global.atob(text), (c) => c.charCodeAt(0));

  /**
   * An IP literal as Chrome reads it for bind, listen and joinGroup (the URL standard's IPv4: "127.1",
   * hex and octal parts; IPv6 without a scope), canonical, or null. The page's own URL parser is Chrome's.
   */
  function parseIp(text) {
    try {
      if (/^[0-9a-fA-FxX.]+$/.test(text)) {
        const host = new URL(`http://${text}/`).hostname;
        return /^\d+\.\d+\.\d+\.\d+$/.test(host) ? host : null;
      }
      if (text.includes(':') && /^[0-9a-fA-F:.]+$/.test(text)) return new URL(`http://[${text}]/`).hostname.slice(1, -1);
    } catch (err) { /* not a literal */ }
    return null;
  }
  const isIpLiteral = (host) => parseIp(host) !== null;
  const isMulticast = (ip) => (ip.includes(':') ? /^ff/i.test(ip) : Number(ip.split('.')[0]) >> 4 === 14);
  /** Where a failed open to `host` most likely failed (rule 1): a name may not have resolved. */
  const openFailure = (host, err) => {
    if (err && err.name === 'InvalidAccessError') return { code: -1, lastError: MSG.noPermission };
    if (isIpLiteral(host) || host.toLowerCase() === 'localhost') return { code: NET.CONNECTION_REFUSED };
    return { code: NET.NAME_NOT_RESOLVED, lastError: MSG.dnsFailed };
  };
  /** Bound UDPSockets take IP addresses only; Chrome 156 resolves localhost (and "localhost.") to ::1 first
   * and sends only to the first address (oracle udp_localhost). */
  const udpAddress = (host, dnsQueryType) => (/^localhost\.?$/i.test(host)
    ? (dnsQueryType === 'ipv4' ? '127.0.0.1' : '::1') : host);
  const portOk = (port) => Number.isInteger(port) && port >= 0 && port <= 65535;

  /**
   * Closes still in progress: a socket's close() is a promise (its streams must be cancelled and unlocked
   * first, or the port stays taken), while Chrome frees a port at once, so a listen or bind right after a
   * destroy would find it busy. Opens wait for this, so they run after every close issued before them.
   */
  let closing = Promise.resolve();

  function release(socket, reader, writer) {
    if (!socket) return;
    const done = (async () => {
      try { if (reader) { await reader.cancel(); reader.releaseLock(); } } catch (err) { /* already closed */ }
      try { if (writer) { await writer.abort(); writer.releaseLock(); } } catch (err) { /* already closed */ }
      try { await socket.close(); } catch (err) { /* closed with its streams */ }
    })();
    // A close that never settles (a stream Chromium keeps locked) must not hold every later open: a hang
    // guard only, long past the few milliseconds a close takes.
    const bounded = Promise.race([done, new Promise((resolve) => global.setTimeout(resolve, CLOSE_GUARD_MS))]);
    closing = closing.then(() => bounded);
  }

  /** One backend connection: what a resocket-host process is to one native port. */
  class Backend {
    constructor(handlers) {
      this.handlers = handlers;
      this.open = true;
      this.ready = false;
      this.chunks = new Map();
      this.sockets = new Map(); // chrome.socket id -> StreamSock | DatagramSock
      this.nextId = 1;
      this.tables = { tcp: new Map(), tcpServer: new Map(), udp: new Map() };
      this.nextIds = { tcp: 1, tcpServer: 1, udp: 1 };
    }

    emit(msg) {
      Promise.resolve().then(() => { if (this.open) this.handlers.onMessage(msg); });
    }

    reply(id, args, lastError) {
      const msg = { id, args };
      if (lastError) msg.lastError = lastError;
      this.emit(msg);
    }

    event(name, info) { this.emit({ event: name, args: [info] }); }

    receive(msg) {
      if (!msg || typeof msg !== 'object' || !Number.isInteger(msg.id)) {
        this.emit({ id: null, error: { code: 'bad_request', message: 'a request needs an integer id' } });
        return;
      }
      if (typeof msg.chunk === 'string') {
        const pieces = this.chunks.get(msg.id) || [];
        pieces.push(msg.chunk);
        this.chunks.set(msg.id, pieces);
        return;
      }
      const args = msg.args && typeof msg.args === 'object' ? Object.assign({}, msg.args) : {};
      if (this.chunks.has(msg.id)) {
        args.data = this.chunks.get(msg.id).join('') + (args.data || '');
        this.chunks.delete(msg.id);
      }
      if (msg.op === 'hello') {
        this.ready = true;
        this.emit({ id: msg.id, result: { protocol: PROTOCOL_VERSION, host: 'resocket-direct-sockets',
          version: VERSION, origin: global.location.origin, rules: [] } });
        return;
      }
      const handler = OPS[msg.op];
      if (!handler) {
        this.emit({ id: msg.id, error: { code: 'unknown_op', message: `${msg.op}: not available over Direct Sockets` } });
        return;
      }
      try {
        if (typeof args.data === 'string') args.data = fromBase64(args.data);
        handler.call(this, msg.id, args);
      } catch (err) {
        this.emit({ id: msg.id, error: { code: 'internal', message: String((err && err.message) || err) } });
      }
    }

    close() {
      this.open = false;
      for (const sock of this.sockets.values()) sock.close(NET.CONNECTION_CLOSED, true);
      for (const table of Object.values(this.tables)) for (const entry of table.values()) entry.close(true);
      this.sockets.clear();
    }

    find(args) { return this.sockets.get(args.socketId); }
  }

  // ---- chrome.socket's sockets ----

  /** A TCP socket (tcp.py's TcpSocket): client after connect, server after listen. */
  class StreamSock {
    constructor() {
      this.kind = 'tcp';
      this.mode = null; // 'client' | 'server'
      this.connected = false;
      this.connecting = null; // {reply}
      this.socket = null; // TCPSocket or TCPServerSocket
      this.reader = null;
      this.writer = null;
      this.buffered = null; // Uint8Array left over from the last chunk
      this.reading = null; // {size, reply}
      this.eof = false;
      this.accepting = null;
      this.peer = null;
      this.local = null;
      this.epoch = 0;
      this.writes = Promise.resolve();
      this.onData = null; // chrome.sockets: push instead of pull
      this.onEnd = null;
    }

    static accepted(tcpSocket, opened) {
      const sock = new StreamSock();
      sock.mode = 'client';
      // Quirk copied (tcp.py): Chrome records no local address for an accepted socket.
      sock.attach(tcpSocket, opened, null);
      return sock;
    }

    attach(socket, opened, local) {
      this.socket = socket;
      this.reader = opened.readable.getReader();
      this.writer = opened.writable.getWriter();
      this.connected = true;
      this.eof = false;
      this.peer = [opened.remoteAddress, opened.remotePort];
      this.local = local;
    }

    /** End the connection or listener; answer what waits (read: `readCode`). */
    close(readCode, quiet) {
      this.epoch += 1;
      if (this.connecting) { const c = this.connecting; this.connecting = null; if (!quiet) c.reply([NET.ABORTED]); }
      if (this.accepting) { const a = this.accepting; this.accepting = null; if (!quiet) a.reply([{ resultCode: NET.ABORTED }]); }
      if (this.reading) { const r = this.reading; this.reading = null; if (!quiet) r.reply([{ resultCode: readCode, data: '' }]); }
      release(this.socket, this.reader, this.writer);
      this.socket = this.reader = this.writer = this.buffered = null;
      this.connected = false;
      this.peer = this.local = null;
    }

    connect(host, port, reply, dnsQueryType) {
      if (this.mode === 'server' || this.connecting) return reply([NET.CONNECTION_FAILED]);
      if (this.connected) return reply([NET.SOCKET_IS_CONNECTED]);
      this.mode = 'client';
      const epoch = this.epoch;
      this.connecting = { reply };
      let socket;
      try {
        const options = { noDelay: true };
        // chrome.sockets' DnsQueryType is Direct Sockets' own option.
        if (dnsQueryType === 'ipv4' || dnsQueryType === 'ipv6') options.dnsQueryType = dnsQueryType;
        socket = new global.TCPSocket(host, port, options);
      } catch (err) {
        this.connecting = null;
        const f = openFailure(host, err);
        return reply([f.code], f.lastError);
      }
      socket.opened.then((opened) => {
        if (epoch !== this.epoch) { socket.close().catch(() => {}); return; }
        this.connecting = null;
        this.attach(socket, opened, [opened.localAddress, opened.localPort]);
        reply([NET.OK]);
        if (this.onData) this.pump();
      }, (err) => {
        if (epoch !== this.epoch) return;
        this.connecting = null;
        const f = openFailure(host, err);
        reply([f.code], f.lastError);
      });
    }

    listen(address, port, backlog, reply) {
      if (this.mode === 'client') return reply([NET.NOT_IMPLEMENTED], MSG.connectAndListen);
      this.mode = 'server';
      address = parseIp(address);
      if (address === null) return reply([NET.INVALID_ARGUMENT], 'Unknown error.');
      const options = {};
      port &= 0xFFFF; // Chrome 156 wraps the port to 16 bits
      if (port) options.localPort = port; // Direct Sockets refuses 0: left out, the OS chooses
      if (backlog > 0) options.backlog = backlog;
      const epoch = this.epoch;
      this.opening = true;
      closing.then(() => this.openServer(address, options, epoch, reply));
    }

    openServer(address, options, epoch, reply) {
      this.opening = false;
      if (epoch !== this.epoch) return;
      let server;
      try {
        server = new global.TCPServerSocket(address, options);
      } catch (err) {
        // Chromium 156 lets a TCPServerSocket take only ports from 32768 up (InvalidAccessError below that):
        // Chrome's word for a port the system refuses, -138, with its listen failure message (rule 1).
        return reply([err && err.name === 'InvalidAccessError' ? NET.ACCESS_DENIED : NET.ADDRESS_IN_USE],
          MSG.listenFailed);
      }
      server.opened.then((opened) => {
        if (epoch !== this.epoch) { server.close().catch(() => {}); return; }
        this.socket = server;
        this.reader = opened.readable.getReader();
        this.local = [opened.localAddress, opened.localPort];
        reply([NET.OK]);
      }, (err) => {
        if (epoch !== this.epoch) return;
        // A port in use (Chrome's -147), or one below 32768, which Chromium 156 refuses here (-138, as above).
        reply([err && err.name === 'InvalidAccessError' ? NET.ACCESS_DENIED : NET.ADDRESS_IN_USE], MSG.listenFailed);
      });
    }

    accept(reply) {
      if (this.mode !== 'server' || !this.reader || this.accepting) return reply([{ resultCode: NET.FAILED }]);
      this.accepting = { reply };
      const epoch = this.epoch;
      this.acceptOne().then((sock) => {
        if (epoch !== this.epoch) { if (sock) sock.close(0, true); return; }
        this.accepting = null;
        reply([sock ? { resultCode: NET.OK, socket: sock } : { resultCode: NET.FAILED }]);
      });
    }

    /** The next accepted connection as a StreamSock, or null when the listener ended. */
    async acceptOne() {
      try {
        const { value, done } = await this.reader.read();
        if (done || !value) return null;
        return StreamSock.accepted(value, await value.opened);
      } catch (err) {
        return null;
      }
    }

    read(size, reply) {
      size = size === undefined || size === null ? DEFAULT_BUFFER_SIZE : size;
      if (this.mode !== 'client') return reply([{ resultCode: NET.FAILED, data: '' }]);
      if (this.reading || this.connecting) return reply([{ resultCode: NET.IO_PENDING, data: '' }]);
      if (!this.connected) return reply([{ resultCode: NET.SOCKET_NOT_CONNECTED, data: '' }]);
      if (size <= 0) return reply([{ resultCode: NET.INVALID_ARGUMENT, data: '' }]);
      this.reading = { size, reply };
      this.serveRead();
    }

    /** Answer the pending read from the bytes held, else read the stream once. */
    serveRead() {
      const pending = this.reading;
      if (!pending) return;
      if (this.buffered && this.buffered.byteLength) {
        const take = this.buffered.subarray(0, pending.size);
        this.buffered = this.buffered.byteLength > take.byteLength ? this.buffered.subarray(take.byteLength) : null;
        this.reading = null;
        pending.reply([{ resultCode: take.byteLength, data: toBase64(take) }]);
        return;
      }
      const epoch = this.epoch;
      this.reader.read().then(({ value, done }) => {
        if (epoch !== this.epoch) return;
        if (done) return this.ended();
        this.buffered = value;
        this.serveRead();
      }, () => { if (epoch === this.epoch) this.ended(); });
    }

    /** EOF and every read-side error read as 0, then the socket is disconnected (tcp.py _on_end). */
    ended() {
      const pending = this.reading;
      this.reading = null;
      if (pending) pending.reply([{ resultCode: 0, data: '' }]);
      if (this.onEnd) { const end = this.onEnd; this.close(NET.CONNECTION_CLOSED, true); end(); return; }
      this.close(NET.CONNECTION_CLOSED, false);
    }

    /** chrome.sockets: read continuously while `may()` says so, handing chunks to onData. */
    pump() {
      if (this.pumping || !this.connected || !this.reader || !this.onData) return;
      if (!this.may()) return;
      this.pumping = true;
      const epoch = this.epoch;
      this.reader.read().then(({ value, done }) => {
        this.pumping = false;
        if (epoch !== this.epoch) return;
        if (done) return this.ended();
        this.onData(value);
        this.pump();
      }, () => { this.pumping = false; if (epoch === this.epoch) this.ended(); });
    }

    write(data, reply) {
      if (!this.connected) return reply([{ bytesWritten: NET.SOCKET_NOT_CONNECTED }]);
      if (!data.byteLength) return reply([{ bytesWritten: 0 }]); // Chrome 156: a zero-length write reports 0
      const writer = this.writer;
      const epoch = this.epoch;
      // Callbacks in issue order: each write waits for the one before it.
      this.writes = this.writes.then(() => writer.write(data)).then(() => {
        reply([{ bytesWritten: data.byteLength }]);
      }, () => {
        reply([{ bytesWritten: NET.FAILED }]);
        if (epoch === this.epoch) this.close(NET.CONNECTION_CLOSED, false);
      });
    }

    // Rule 1: Direct Sockets fixes both options at construction (no-delay on, keep-alive off), so these
    // answer as Chrome does for a connected socket without changing the socket.
    setNoDelay() { return this.connected && this.mode === 'client'; }

    setKeepAlive() { return this.connected && this.mode === 'client'; }

    info() {
      const info = { socketType: 'tcp', connected: this.connected };
      if (this.connected && this.peer) [info.peerAddress, info.peerPort] = this.peer;
      if (this.local) [info.localAddress, info.localPort] = this.local;
      return info;
    }
  }

  /** A UDP socket (udp.py's UdpSocket): bound or connected, each by its own UDPSocket mode. */
  class DatagramSock {
    constructor() {
      this.kind = 'udp';
      this.bound = false;
      this.connected = false;
      this.socket = null;
      this.reader = null;
      this.writer = null;
      this.controller = null;
      this.local = this.peer = null;
      this.groups = [];
      this.ttl = 1; // Chrome's multicast defaults, given to the UDPSocket at bind (rule 1)
      this.loopback = true;
      this.optionsUsed = false;
      this.slots = { read: null, recv: null };
      this.receiving = false;
      this.epoch = 0;
      this.sends = Promise.resolve();
      this.onDatagram = null; // chrome.sockets: push
    }

    close(readCode, quiet) {
      this.epoch += 1;
      for (const key of ['read', 'recv']) {
        const slot = this.slots[key];
        this.slots[key] = null;
        if (slot && !quiet) slot.reply([key === 'recv' ? { resultCode: readCode, data: '', address: '', port: 0 } : { resultCode: readCode, data: '' }]);
      }
      release(this.socket, this.reader, this.writer);
      this.socket = this.reader = this.writer = this.controller = null;
      this.bound = this.connected = false;
      this.local = this.peer = null;
      this.groups = [];
      this.receiving = false;
    }

    start(options, onOpened, reply, host) {
      this.optionsUsed = true;
      this.opening = true;
      const epoch = this.epoch;
      closing.then(() => { if (epoch === this.epoch) this.open(options, onOpened, reply, host); else this.opening = false; });
    }

    open(options, onOpened, reply, host) {
      let socket;
      try {
        socket = new global.UDPSocket(options);
      } catch (err) {
        this.opening = false;
        if (err && err.name === 'TypeError') return reply([NET.INVALID_ARGUMENT]); // an address it cannot take
        const f = openFailure(host, err);
        return reply([f.code], f.lastError);
      }
      const epoch = this.epoch;
      socket.opened.then((opened) => {
        this.opening = false;
        if (epoch !== this.epoch) { socket.close().catch(() => {}); return; }
        this.socket = socket;
        this.reader = opened.readable.getReader();
        this.writer = opened.writable.getWriter();
        this.controller = opened.multicastController || null;
        this.local = [opened.localAddress, opened.localPort];
        onOpened(opened);
        reply([NET.OK]);
        this.receive();
      }, (err) => {
        this.opening = false;
        if (epoch !== this.epoch) return;
        const f = openFailure(host, err);
        reply([f.code], f.lastError);
      });
    }

    /** The stored multicast options, for an app whose policy allows multicast (the UDPSocket fails otherwise). */
    multicastOptions() {
      const policy = global.document && global.document.featurePolicy;
      if (policy && !policy.allowsFeature('direct-sockets-multicast')) return {};
      return { multicastTimeToLive: this.ttl, multicastLoopback: this.loopback };
    }

    connect(host, port, reply) {
      if (this.bound || this.connected || this.opening) return reply([NET.CONNECTION_FAILED]);
      this.start(Object.assign({ remoteAddress: host, remotePort: port }, this.multicastOptions()),
      (opened) => { this.connected = true; this.peer = [opened.remoteAddress || host, opened.remotePort || port]; },
      reply, host);
    }

    bind(address, port, reply) {
      if (this.bound || this.connected || this.opening) return reply([NET.CONNECTION_FAILED]);
      address = parseIp(address);
      if (address === null) return reply([NET.INVALID_ARGUMENT]);
      const options = Object.assign({ localAddress: address }, this.multicastOptions());
      if (port) options.localPort = port; // localPort 0 throws: left out, the OS chooses
      this.start(options, () => { this.bound = true; }, reply, address);
    }

    read(size, key, reply) {
      size = size === undefined || size === null ? DEFAULT_BUFFER_SIZE : size;
      const recv = key === 'recv';
      const shape = (code) => (recv ? { resultCode: code, data: '', address: '', port: 0 } : { resultCode: code, data: '' });
      if (this.slots[key]) return reply([shape(NET.IO_PENDING)]);
      if (size < 0) return reply([shape(NET.INVALID_ARGUMENT)]);
      if (!(recv ? this.bound : this.connected)) return reply([shape(NET.SOCKET_NOT_CONNECTED)]);
      this.slots[key] = { size: Math.min(size, MAX_UDP_BUFFER), reply };
      this.receive();
    }

    /** Read datagrams while a slot waits (a pending read goes before a pending recvFrom, as udp.py). */
    receive() {
      if (this.receiving || !this.reader) return;
      if (!(this.slots.read || this.slots.recv || (this.onDatagram && this.may()))) return;
      this.receiving = true;
      const epoch = this.epoch;
      this.reader.read().then(({ value, done }) => {
        this.receiving = false;
        if (epoch !== this.epoch || done) return;
        this.deliver(value);
        this.receive();
      }, () => { this.receiving = false; });
    }

    deliver(message) {
      const data = new Uint8Array(message.data.buffer || message.data, message.data.byteOffset || 0,
        message.data.byteLength);
      // Connected mode gives no sender (rule 1): the peer the socket was connected to.
      const from = [message.remoteAddress || (this.peer && this.peer[0]) || '', message.remotePort ||
        (this.peer && this.peer[1]) || 0];
      if (this.onDatagram) { this.onDatagram(data, from); return; }
      const key = this.slots.read ? 'read' : 'recv';
      const slot = this.slots[key];
      if (!slot) return;
      this.slots[key] = null;
      if (data.byteLength > slot.size) {
        // net::UDPSocketPosix reports a datagram larger than the buffer as ERR_MSG_TOO_BIG and drops it.
        slot.reply([key === 'recv' ? { resultCode: NET.MSG_TOO_BIG, data: '', address: '', port: 0 }
          : { resultCode: NET.MSG_TOO_BIG, data: '' }]);
        return;
      }
      const out = { resultCode: data.byteLength, data: toBase64(data) };
      if (key === 'recv') { out.address = from[0]; out.port = from[1]; }
      slot.reply([out]);
    }

    send(data, address, port, reply) {
      if (data.byteLength > MAX_DATAGRAM) return reply([{ bytesWritten: NET.MSG_TOO_BIG }]);
      // Direct Sockets refuses an empty message; Chrome sends an empty datagram and reports 0 (rule 1:
      // reported as Chrome does, nothing is sent).
      if (!data.byteLength) return reply([{ bytesWritten: 0 }]);
      const writer = this.writer;
      const message = address === undefined ? { data } : { data, remoteAddress: address, remotePort: port };
      this.sends = this.sends.then(() => writer.write(message)).then(() => reply([{ bytesWritten: data.byteLength }]),
        (err) => reply([{ bytesWritten: err && err.name === 'TypeError' ? NET.ADDRESS_INVALID : NET.FAILED }]));
    }

    write(data, reply) {
      if (!this.connected) return reply([{ bytesWritten: NET.SOCKET_NOT_CONNECTED }]);
      this.send(data, undefined, undefined, reply);
    }

    sendTo(data, address, port, reply, dnsQueryType) {
      if (!this.bound) return reply([{ bytesWritten: NET.SOCKET_NOT_CONNECTED }]);
      if (port === 0) return reply([{ bytesWritten: NET.INVALID_ARGUMENT }]); // Chrome 156 (oracle port_edges)
      address = udpAddress(address, dnsQueryType);
      if (address.includes(':') && this.local && !String(this.local[0]).includes(':')) {
        return reply([{ bytesWritten: NET.ADDRESS_UNREACHABLE }]); // an IPv6 address from an IPv4 socket
      }
      this.send(data, address, port, reply);
    }

    membership(address, join, reply) {
      const fail = (code) => reply([code], netError(code));
      address = parseIp(address);
      if (address === null) return fail(NET.ADDRESS_INVALID);
      if (this.groups.includes(address) === join) return fail(NET.ADDRESS_INVALID);
      if (!this.bound || !this.controller) return fail(NET.UNEXPECTED);
      // Chrome 156: a group of the socket's other family -108; one that is no multicast address -4 (the OS's).
      const ownV6 = String(this.local && this.local[0]).includes(':');
      if (address.includes(':') !== ownV6) return fail(NET.ADDRESS_INVALID);
      if (!isMulticast(address)) return fail(NET.INVALID_ARGUMENT);
      const epoch = this.epoch;
      const done = join ? this.controller.joinGroup(address) : this.controller.leaveGroup(address);
      Promise.resolve(done).then(() => {
        if (epoch !== this.epoch) return;
        if (join) this.groups.push(address);
        else this.groups.splice(this.groups.indexOf(address), 1);
        reply([NET.OK]);
      }, () => fail(NET.ADDRESS_INVALID));
    }

    setTtl(ttl, reply) {
      if (this.optionsUsed) return reply([NET.SOCKET_IS_CONNECTED], netError(NET.SOCKET_IS_CONNECTED));
      if (ttl < 0 || ttl > 255) return reply([NET.INVALID_ARGUMENT], netError(NET.INVALID_ARGUMENT));
      this.ttl = ttl;
      reply([NET.OK]);
    }

    setLoopback(enabled, reply) {
      if (this.optionsUsed) return reply([NET.SOCKET_IS_CONNECTED], netError(NET.SOCKET_IS_CONNECTED));
      this.loopback = Boolean(enabled);
      reply([NET.OK]);
    }

    info() {
      const info = { socketType: 'udp', connected: this.connected };
      if (this.connected && this.peer) [info.peerAddress, info.peerPort] = this.peer;
      if (this.local) [info.localAddress, info.localPort] = this.local;
      return info;
    }
  }

  // ---- the operations: chrome.socket ----

  function answer(backend, id) { return (args, lastError) => backend.reply(id, args, lastError); }

  function lookup(backend, id, args, notFound) {
    const sock = backend.find(args);
    if (!sock) backend.reply(id, notFound, MSG.notFound);
    return sock;
  }

  const OPS = {
    ping(id) { this.emit({ id, result: {} }); },
    'datachannel.open'(id) { this.emit({ id, error: { code: 'unknown_op', message: 'no data channel in an IWA' } }); },
    create(id, args) {
      const sid = this.nextId++;
      this.sockets.set(sid, args.type === 'udp' ? new DatagramSock() : new StreamSock());
      this.reply(id, [{ socketId: sid }]);
    },
    destroy(id, args) {
      const sock = this.find(args);
      this.sockets.delete(args.socketId);
      if (sock) sock.close(NET.CONNECTION_CLOSED, false);
      this.reply(id, []);
    },
    disconnect(id, args) {
      const sock = this.find(args);
      if (sock) sock.close(NET.CONNECTION_CLOSED, false);
      this.reply(id, []);
    },
    connect(id, args) {
      if (!portOk(args.port)) return this.reply(id, [], MSG.portRange);
      const sock = lookup(this, id, args, [-1]);
      if (sock) sock.connect(args.hostname, args.port, answer(this, id));
    },
    bind(id, args) {
      if (!portOk(args.port)) return this.reply(id, [], MSG.portRange);
      const sock = lookup(this, id, args, [-1]);
      if (!sock) return;
      if (sock.kind !== 'udp') return this.reply(id, [-1], MSG.tcpBind);
      sock.bind(args.address, args.port, answer(this, id));
    },
    read(id, args) {
      const sock = lookup(this, id, args, [{ resultCode: -1, data: '' }]);
      if (!sock) return;
      if (sock.kind === 'udp') sock.read(args.bufferSize, 'read', answer(this, id));
      else sock.read(args.bufferSize, answer(this, id));
    },
    write(id, args) {
      const sock = lookup(this, id, args, [{ bytesWritten: -1 }]);
      if (sock) sock.write(args.data, answer(this, id));
    },
    recvFrom(id, args) {
      const sock = this.find(args);
      if (!sock || sock.kind !== 'udp') {
        return this.reply(id, [{ resultCode: -1, data: '', address: '', port: 0 }], MSG.notFound);
      }
      sock.read(args.bufferSize, 'recv', answer(this, id));
    },
    sendTo(id, args) {
      if (!portOk(args.port)) return this.reply(id, [], MSG.portRange);
      const sock = lookup(this, id, args, [-1]);
      if (!sock) return;
      if (sock.kind !== 'udp') return this.reply(id, [{ bytesWritten: NET.FAILED }]);
      sock.sendTo(args.data, args.address, args.port, answer(this, id));
    },
    listen(id, args) {
      const sock = lookup(this, id, args, [-1]);
      if (!sock) return;
      if (sock.kind !== 'tcp') return this.reply(id, [-2], MSG.notSupported);
      sock.listen(args.address, args.port, args.backlog === undefined || args.backlog === null ? 5 : args.backlog,
        answer(this, id));
    },
    accept(id, args) {
      const sock = lookup(this, id, args, [{ resultCode: -2 }]);
      if (!sock) return;
      if (sock.kind !== 'tcp') return this.reply(id, [{ resultCode: -2 }]);
      sock.accept(([result]) => {
        if (result.socket) {
          const sid = this.nextId++;
          this.sockets.set(sid, result.socket);
          this.reply(id, [{ resultCode: 0, socketId: sid }]);
        } else {
          this.reply(id, [result]);
        }
      });
    },
    setKeepAlive(id, args) {
      const sock = lookup(this, id, args, [false]);
      if (sock) this.reply(id, [sock.kind === 'tcp' && sock.setKeepAlive(args.enable)]);
    },
    setNoDelay(id, args) {
      const sock = lookup(this, id, args, [false]);
      if (sock) this.reply(id, [sock.kind === 'tcp' && sock.setNoDelay(args.noDelay)]);
    },
    getInfo(id, args) {
      const sock = lookup(this, id, args, []);
      if (sock) this.reply(id, [sock.info()]);
    },
    getNetworkList(id) { this.reply(id, [], MSG.networkList); },
    joinGroup(id, args) { multicast(this, id, args, (s, r) => s.membership(args.address, true, r)); },
    leaveGroup(id, args) { multicast(this, id, args, (s, r) => s.membership(args.address, false, r)); },
    setMulticastTimeToLive(id, args) { multicast(this, id, args, (s, r) => s.setTtl(args.ttl, r)); },
    setMulticastLoopbackMode(id, args) { multicast(this, id, args, (s, r) => s.setLoopback(args.enabled, r)); },
    getJoinedGroups(id, args) { multicast(this, id, args, (s, r) => r([s.groups.slice()])); },
    secure(id, args) {
      const sock = lookup(this, id, args, [-4]);
      if (!sock) return;
      if (sock.kind !== 'tcp') return this.reply(id, [-4], MSG.tlsTcpOnly);
      if (!sock.connected) return this.reply(id, [NET.INVALID_ARGUMENT], MSG.notConnected);
      // Rule 1: Chrome destroys a socket whose handshake failed; here there is no handshake to try.
      this.sockets.delete(args.socketId);
      sock.close(NET.CONNECTION_CLOSED, true);
      this.reply(id, [NET.FAILED], MSG.noTls);
    },
  };

  function multicast(backend, id, args, fn) {
    const sock = lookup(backend, id, args, [-1]);
    if (!sock) return;
    if (sock.kind !== 'udp') { backend.reply(id, [-1], MSG.multicastUdpOnly); return; }
    fn(sock, answer(backend, id));
  }

  // ---- the operations: chrome.sockets.* (sockets_api.py) ----

  /** One chrome.sockets socket: its properties and flow state around a StreamSock / DatagramSock. */
  class Entry {
    constructor(backend, api, id, props) {
      this.backend = backend;
      this.api = api;
      this.id = id;
      this.persistent = false;
      this.name = undefined;
      this.bufferSize = undefined;
      this.paused = false;
      this.unacked = 0;
      this.sock = null;
      this.update(props);
    }

    update(props) {
      if (!props || typeof props !== 'object') return;
      if (typeof props.persistent === 'boolean') this.persistent = props.persistent;
      if (typeof props.name === 'string') this.name = props.name;
      if (Number.isInteger(props.bufferSize)) this.bufferSize = props.bufferSize;
    }

    may() { return !this.paused && this.unacked < EVENT_WINDOW; }

    baseInfo() {
      const info = { socketId: this.id, persistent: this.persistent };
      if (this.name !== undefined) info.name = this.name;
      if (this.bufferSize !== undefined && this.api !== 'tcpServer') info.bufferSize = this.bufferSize;
      info.paused = this.paused;
      return info;
    }

    info() {
      const info = this.baseInfo();
      if (this.api === 'tcp') {
        const own = this.sock.info();
        delete own.socketType;
        return Object.assign(info, own);
      }
      if (this.sock && this.sock.local) [info.localAddress, info.localPort] = this.sock.local;
      return info;
    }

    /** Let the socket read (or accept) again if flow control allows. */
    flow() {
      if (!this.sock) return;
      if (this.api === 'tcp') this.sock.pump();
      else if (this.api === 'udp') this.sock.receive();
      else this.acceptLoop();
    }

    acceptLoop() {
      const server = this.sock;
      if (!server || this.accepting || !server.reader || !this.may()) return;
      this.accepting = true;
      server.acceptOne().then((client) => {
        this.accepting = false;
        if (this.sock !== server) { if (client) client.close(0, true); return; }
        if (!client) {
          if (server.reader) { this.paused = true; this.backend.event('tcpServer.onAcceptError', { socketId: this.id, resultCode: NET.FAILED }); }
          return;
        }
        // An accepted connection joins chrome.sockets.tcp, paused (sockets_tcp_server.idl, onAccept).
        const entry = newEntry(this.backend, 'tcp', { });
        entry.paused = true;
        adoptStream(entry, client);
        this.unacked += 1;
        this.backend.event('tcpServer.onAccept', { socketId: this.id, clientSocketId: entry.id });
        this.acceptLoop();
      });
    }

    close(quiet) {
      if (this.sock) this.sock.close(NET.CONNECTION_CLOSED, quiet);
      this.backend.tables[this.api].delete(this.id);
    }
  }

  function newEntry(backend, api, props) {
    const id = backend.nextIds[api]++;
    const entry = new Entry(backend, api, id, props);
    backend.tables[api].set(id, entry);
    if (api === 'udp') adoptDatagram(entry, new DatagramSock());
    if (api === 'tcp') adoptStream(entry, new StreamSock());
    return entry;
  }

  function adoptStream(entry, sock) {
    entry.sock = sock;
    sock.may = () => entry.may();
    sock.onData = (bytes) => {
      entry.unacked += 1;
      entry.backend.event('tcp.onReceive', { socketId: entry.id, data: toBase64(bytes) });
    };
    // Every end of the read side is -100 and pauses the socket (sockets_api.py StreamSocket._on_end).
    sock.onEnd = () => {
      entry.paused = true;
      entry.backend.event('tcp.onReceiveError', { socketId: entry.id, resultCode: NET.CONNECTION_CLOSED });
    };
  }

  function adoptDatagram(entry, sock) {
    entry.sock = sock;
    sock.may = () => entry.may();
    sock.onDatagram = (bytes, from) => {
      const size = entry.bufferSize && entry.bufferSize > 0 ? entry.bufferSize : DEFAULT_BUFFER_SIZE;
      if (bytes.byteLength > Math.min(size, MAX_UDP_BUFFER)) {
        entry.paused = true;
        entry.backend.event('udp.onReceiveError', { socketId: entry.id, resultCode: NET.MSG_TOO_BIG });
        return;
      }
      entry.unacked += 1;
      entry.backend.event('udp.onReceive', { socketId: entry.id, data: toBase64(bytes), remoteAddress: from[0],
        remotePort: from[1] });
    };
  }

  /** chrome.sockets results: chrome.socket's `[code]` -> `[code]` + "net::ERR_..." (sockets_api.py). */
  const codeResult = (reply) => (args) => {
    const code = args.length ? args[0] : 0;
    reply([code], code < 0 ? netError(code) : undefined);
  };
  const sendResult = (reply) => (args) => {
    const v = args.length ? args[0] : NET.FAILED;
    const written = typeof v === 'object' ? v.bytesWritten : v;
    if (written < 0) reply([{ resultCode: written }], netError(written));
    else reply([{ resultCode: 0, bytesSent: written }]);
  };

  function sockets(api, handler) {
    return function (id, args) {
      const entry = this.tables[api].get(args.socketId);
      if (!entry) { this.reply(id, [], MSG.notFound); return; }
      handler.call(this, id, args, entry, answer(this, id));
    };
  }

  for (const api of ['tcp', 'tcpServer', 'udp']) {
    Object.assign(OPS, {
      [`${api}.create`](id, args) { this.reply(id, [{ socketId: newEntry(this, api, args.properties).id }]); },
      [`${api}.update`]: sockets(api, (id, args, entry, reply) => { entry.update(args.properties); reply([]); }),
      [`${api}.setPaused`]: sockets(api, (id, args, entry, reply) => {
        entry.paused = Boolean(args.paused);
        reply([]);
        entry.flow();
      }),
      [`${api}.close`]: sockets(api, (id, args, entry, reply) => { entry.close(true); reply([]); }),
      [`${api}.getInfo`]: sockets(api, (id, args, entry, reply) => reply([entry.info()])),
      [`${api}.getSockets`](id) {
        this.reply(id, [Array.from(this.tables[api].values()).sort((a, b) => a.id - b.id).map((e) => e.info())]);
      },
    });
  }
  Object.assign(OPS, {
    'sockets.ack'(id, args) {
      const entry = this.tables[args.api] && this.tables[args.api].get(args.socketId);
      if (entry) {
        entry.unacked = Math.max(0, entry.unacked - (Number(args.count) || 0));
        entry.flow();
      }
      this.reply(id, []);
    },
    'tcp.connect': sockets('tcp', (id, args, entry, reply) => {
      entry.sock.connect(args.peerAddress, args.peerPort & 0xFFFF, codeResult(reply), args.dnsQueryType);
    }),
    'tcp.disconnect': sockets('tcp', (id, args, entry, reply) => {
      const receiving = entry.sock.connected && entry.may();
      entry.sock.close(NET.CONNECTION_CLOSED, true);
      // Chrome 156: the read in progress fails with -100 (onReceiveError, and the socket pauses).
      if (receiving) { entry.paused = true; this.event('tcp.onReceiveError', { socketId: entry.id, resultCode: NET.CONNECTION_CLOSED }); }
      reply([]);
    }),
    'tcp.send': sockets('tcp', (id, args, entry, reply) => entry.sock.write(args.data, sendResult(reply))),
    'tcp.setKeepAlive': sockets('tcp', (id, args, entry, reply) => {
      const ok = entry.sock.setKeepAlive(args.enable);
      reply([ok ? 0 : NET.FAILED], ok ? undefined : netError(NET.FAILED));
    }),
    'tcp.setNoDelay': sockets('tcp', (id, args, entry, reply) => {
      const ok = entry.sock.setNoDelay(args.noDelay);
      reply([ok ? 0 : NET.FAILED], ok ? undefined : netError(NET.FAILED));
    }),
    'tcp.secure': sockets('tcp', (id, args, entry, reply) => {
      if (!entry.sock.connected) return reply([NET.INVALID_ARGUMENT], MSG.notConnected);
      entry.close(true);
      reply([NET.FAILED], MSG.noTls);
    }),
    'tcpServer.listen': sockets('tcpServer', (id, args, entry, reply) => {
      if (!isIpLiteral(args.address)) return reply([NET.INVALID_ARGUMENT], netError(NET.INVALID_ARGUMENT));
      if (entry.sock) entry.sock.close(NET.CONNECTION_CLOSED, true);
      const server = new StreamSock();
      entry.sock = server;
      server.listen(args.address, args.port, args.backlog || 0, (values) => {
        codeResult(reply)(values);
        if (values[0] === 0) entry.flow();
      });
    }),
    'tcpServer.disconnect': sockets('tcpServer', (id, args, entry, reply) => {
      if (entry.sock) entry.sock.close(NET.CONNECTION_CLOSED, true);
      entry.sock = null;
      reply([]);
    }),
    'udp.bind': sockets('udp', (id, args, entry, reply) => {
      entry.sock.bind(args.address, args.port & 0xFFFF, codeResult(reply));
    }),
    'udp.send': sockets('udp', (id, args, entry, reply) => {
      entry.sock.sendTo(args.data, args.address, args.port & 0xFFFF, sendResult(reply), args.dnsQueryType);
    }),
    'udp.joinGroup': sockets('udp', (id, args, entry, reply) => entry.sock.membership(args.address, true, codeResult(reply))),
    'udp.leaveGroup': sockets('udp', (id, args, entry, reply) => entry.sock.membership(args.address, false, codeResult(reply))),
    'udp.setMulticastTimeToLive': sockets('udp', (id, args, entry, reply) => entry.sock.setTtl(args.ttl, codeResult(reply))),
    'udp.setMulticastLoopbackMode': sockets('udp', (id, args, entry, reply) => entry.sock.setLoopback(args.enabled, codeResult(reply))),
    'udp.getJoinedGroups': sockets('udp', (id, args, entry, reply) => reply([entry.sock.groups.slice()])),
    // Direct Sockets has no broadcast switch: a bound socket answers as Chrome does for one that took it.
    'udp.setBroadcast': sockets('udp', (id, args, entry, reply) => {
      if (!entry.sock.bound) return reply([NET.SOCKET_NOT_CONNECTED], netError(NET.SOCKET_NOT_CONNECTED));
      reply([NET.OK]);
    }),
  });

  global.__resocketDirectSockets = {
    version: VERSION,
    /** A Link for chrome-socket.js: one backend per connection, as one host process per native port. */
    open(handlers) {
      const backend = new Backend(handlers);
      return {
        send(msg) { if (backend.open) backend.receive(msg); },
        close() { backend.close(); },
      };
    },
  };
})(typeof globalThis !== 'undefined' ? globalThis : this);
