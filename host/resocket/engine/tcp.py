"""TCP (and TLS-upgraded) sockets with Chrome's state rules (extensions/browser/api/socket/tcp_socket.cc).

Design rules:
- State changes happen synchronously, in request order, on the engine's loop; waits are coroutines.
  Every coroutine remembers the socket's `epoch` when it starts and gives up silently when a
  disconnect or destroy has bumped it meanwhile: the canceller has already answered its request.
- Mode is Chrome's socket_mode_: None until connect (-> "client", kept across disconnect and failed
  connects) or listen (-> "server", kept even when the listen fails).
- Reads are pull style through a `Receiver`: one pending read asks for up to bufferSize bytes. A read that
  asks for it (`stream`) then starts *read-ahead* (docs/protocol.md, "Read-ahead"), Chrome's own model
  (its network service pumps a socket into a data pipe that reads are served from): the socket's bytes
  are pushed to the client as they arrive, at most the stream's window of them unacknowledged (AHEAD_WINDOW,
  or WIDE_WINDOW for a client's first few streams, docs/protocol.md "Wide windows"), and the client
  answers later reads itself. The end of the stream is pushed too, but the socket stays connected until
  the client's next read (sent to us) collects it, as Chrome's stays until a read returns 0.
- Writes are a FIFO queue drained by one writer coroutine; each reports its full length or -2.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import os
import socket
import sys
from typing import Any

from resocket.chrome.hostnames import format_ip
from resocket.chrome.iplit import parse_ip_literal
from resocket.chrome.messages import DNS_FAILED, QUOTA_EXCEEDED
from resocket.chrome.netcodes import NetError, from_connect_errno, net_error_string
from resocket.engine.oserrors import from_exception, from_ssl_error
from resocket.engine.ossocket import OsSocket, Receiver
from resocket.engine.resolver import DnsError
from resocket.engine.services import PendingCall, SocketServices
from resocket.engine.tls import TlsStream, make_context, tls_versions
from resocket.wire.protocol import AHEAD_STEP, AHEAD_WINDOW, BEHIND_WINDOW, WIDE_WINDOW

log = logging.getLogger(__name__)

DEFAULT_BUFFER_SIZE = 4096  # socket.idl: read's bufferSize defaults to 4096
#: The most one TCP read asks the OS for. Chrome has no explicit cap (a read returns what is buffered);
#: this only stops a huge bufferSize from becoming a huge allocation in the host (docs/SECURITY.md).
MAX_READ = 1024 * 1024
#: Chrome gives up on a TLS handshake after 30 s (net/socket/ssl_connect_job.cc, kSSLHandshakeTimeout);
#: RESOCKET_TLS_HANDSHAKE_TIMEOUT (seconds) overrides it, for tests.
TLS_HANDSHAKE_TIMEOUT = 30.0
LISTEN_FAILED = "Could not listen on the specified port."
CONNECT_AND_LISTEN = "Cannot call both connect and listen on the same socket."
TLS_LISTEN = "Cannot listen on a socket that is already connected."
NOT_CONNECTED = "Socket not connected"
#: Chrome 156 answered listen("localhost") with -4 and this lastError (docs/chrome-behaviour.md 9).
LISTEN_BAD_ADDRESS = "Unknown error."


class ReadAhead:
    """One socket's read-ahead stream: named by the id of the read that started it."""

    __slots__ = ("congested", "consumed", "eof", "id", "path", "pushed", "window")

    def __init__(self, stream_id: int, path: str) -> None:
        self.id, self.path = stream_id, path
        self.window = AHEAD_WINDOW  # unacknowledged bytes allowed: WIDE_WINDOW when granted (Engine.wide_ahead)
        self.pushed = self.consumed = 0
        self.eof = False  # the end was pushed; the next read request collects it
        self.congested = False  # its path holds too much for the browser (data channel): paused until drained


class TcpSocket:
    kind = "tcp"

    def __init__(self, engine: SocketServices, sid: int) -> None:
        self.engine, self.id = engine, sid
        self.loop = engine.loop
        self.mode: str | None = None
        self.is_tls = False
        self.connected = False
        self.os_socket: OsSocket | None = None
        self.stream: Any = None  # OsSocket or TlsStream: recv(n) / sendall(data)
        self.receiver: Receiver | None = None
        self.peer: tuple[str, int] | None = None
        self.local: tuple[str, int] | None = None
        self.hostname: str | None = None
        self.epoch = 0
        self.connect_call: PendingCall | None = None
        self.connect_task: asyncio.Task | None = None
        self.trying: OsSocket | None = None
        self.secure_call: PendingCall | None = None
        self.read_call: PendingCall | None = None
        self.accept_call: PendingCall | None = None
        self.writes: collections.deque[tuple[PendingCall, bytes]] = collections.deque()
        self._head_sent = 0  # bytes of writes[0] the fast path in write() already handed to the OS
        self.writer: asyncio.Task | None = None
        self.ahead: ReadAhead | None = None
        self._read_streams = False  # the pending read asked to start read-ahead
        self.wide_behind = False  # write-behind holds a wide window (Engine.wide_behind) until _teardown
        # A write the client may have called back already (`behind`) failed: as Chrome's closed send pipe, the
        # socket stays connected (getInfo, options, reads) until the app meets the failure: its next write
        # (-2, then disconnected), a read that reaches the end, or disconnect (the shim sends one when it
        # answers that -2 itself). docs/compatibility.md, "a send error met after the write's callback".
        self.write_failed = False
        # Listeners of a second and later listen on a listening socket: Chrome 156 opens them and reports the
        # latest in getInfo, but keeps accepting from the first (tests/e2e/scenarios/listen_twice.js). Nothing
        # accepts from these; they hold their ports until disconnect or destroy.
        self.idle_listeners: list[socket.socket] = []

    @classmethod
    def accepted(cls, engine: SocketServices, sid: int, conn: socket.socket, addr: Any) -> TcpSocket:
        sock = cls(engine, sid)
        sock.mode = "client"
        os_socket = OsSocket(engine.loop, conn)
        _set_nodelay(conn)
        # Quirk copied: Chrome never records an accepted socket's local address (no localAddress in getInfo).
        sock._attach(os_socket, peer=(_ip(addr), addr[1]), local=None)
        return sock

    # -- state helpers ------------------------------------------------------------------------------
    def _forget(self) -> None:
        """Drop this socket from its table (chrome.sockets.tcp's keep their own: sockets_api.StreamSocket)."""
        self.engine.forget(self.id)

    def _attach(self, os_socket: OsSocket, peer: tuple[str, int], local: tuple[str, int] | None) -> None:
        self.os_socket = self.stream = os_socket
        self.connected, self.peer, self.local = True, peer, local
        self._new_receiver()

    def _new_receiver(self) -> None:
        stream = self.stream
        self.receiver = Receiver(self.loop, stream.recv, self._on_data, self._on_end,
                                 os_socket=stream if isinstance(stream, OsSocket) else None)

    def _teardown(self, read_code: int, *, quiet: bool = False) -> None:
        """Close the connection or listener; answer the pending read and the queued writes."""
        if self.receiver is not None:
            self.receiver.stop()
            self.receiver = None
        if self.read_call is not None:
            call, self.read_call = self.read_call, None
            call.answer({"resultCode": read_code, "data": ""}, quiet)
        ahead, self.ahead = self.ahead, None
        if ahead is not None and not ahead.eof and not quiet:
            # What the pending read would have got: the client answers its own (docs/protocol.md).
            self.engine.output.push_ahead(ahead.path, self.id, ahead.id, None, read_code)
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.cancel()
        self._head_sent = 0
        while self.writes:
            call, data = self.writes.popleft()
            self.engine.return_quota(len(data))
            if call.early:
                continue  # a chrome.sockets send already called back (_answer_in_pipe)
            call.answer({"bytesWritten": NetError.FAILED}, quiet)
        if self.os_socket is not None:
            self.os_socket.close()
        self.os_socket = self.stream = None
        for idle in self.idle_listeners:
            idle.close()
        self.idle_listeners = []
        self.connected, self.peer, self.local = False, None, None
        self.wide_behind = False
        self.write_failed = False

    def _abort_pending(self, quiet: bool) -> None:
        """Answer connect / secure / accept cut short by disconnect or destroy (Chrome never calls back)."""
        self.epoch += 1
        if self.connect_task is not None:
            self.connect_task.cancel()
            self.connect_task = None
        if self.trying is not None:
            self.trying.close()
            self.trying = None
        if self.connect_call is not None:
            call, self.connect_call = self.connect_call, None
            call.answer(NetError.ABORTED, quiet)
        if self.secure_call is not None:
            call, self.secure_call = self.secure_call, None
            if not quiet:
                call.reply(NetError.ABORTED, last_error=net_error_string(NetError.ABORTED))
            else:
                call.done = True
        if self.accept_call is not None:
            call, self.accept_call = self.accept_call, None
            call.answer({"resultCode": NetError.ABORTED}, quiet)

    # -- chrome.socket methods ------------------------------------------------------------------------
    def disconnect(self) -> None:
        self._abort_pending(quiet=False)
        self._teardown(NetError.CONNECTION_CLOSED)

    def destroy(self, quiet: bool = False) -> None:
        self._abort_pending(quiet)
        self._teardown(NetError.CONNECTION_CLOSED, quiet=quiet)

    def connect(self, call: PendingCall, hostname: str, port: int, family: int | None = None) -> None:
        """`family`: the one address family to resolve `hostname` to (chrome.sockets' dnsQueryType), or any."""
        # TCPSocket::Connect: a listener, a connect in progress or a TLS socket -> -104; connected -> -23.
        if self.is_tls or self.mode == "server" or self.connect_call is not None or self.secure_call is not None:
            return call.reply(NetError.CONNECTION_FAILED)
        if self.connected:
            return call.reply(NetError.SOCKET_IS_CONNECTED)
        self.mode = "client"
        self.connect_call = call
        self.connect_task = self.engine.spawn(self._connect(call, hostname, port, self.epoch, family), call)

    async def _connect(self, call: PendingCall, hostname: str, port: int, epoch: int,
                       query_family: int | None) -> None:
        try:
            addresses = await self.engine.resolve(hostname, port, socket.SOCK_STREAM, query_family)
        except DnsError as exc:
            if epoch == self.epoch:
                self.connect_call = self.connect_task = None
                call.reply(exc.code, last_error=DNS_FAILED)
            return
        if epoch != self.epoch:
            return
        code: int = NetError.CONNECTION_FAILED
        for family, address in addresses:  # Chrome tries every resolved address in turn
            try:
                os_socket = OsSocket(self.loop, socket.socket(family, socket.SOCK_STREAM))
            except OSError as exc:
                code = from_connect_errno(exc.errno)
                continue
            self.trying = os_socket
            try:
                await os_socket.connect(address)
            except OSError as exc:
                if epoch != self.epoch:
                    return
                code = from_connect_errno(exc.errno)
                if code == NetError.ADDRESS_UNREACHABLE and self.engine.offline():
                    # TCPSocketPosix::HandleConnectCompleted: "a more specific error when the user is offline"
                    # (Chrome 156: -106 for 10.1.2.3 in a loopback-only namespace, permission_rules.js).
                    code = NetError.INTERNET_DISCONNECTED
                os_socket.close()
                self.trying = None
                continue
            if epoch != self.epoch:
                return
            self.trying = None
            self.connect_call = self.connect_task = None
            try:
                # The network service's default client options turn Nagle off.
                _set_nodelay(os_socket.sock)
                local = os_socket.sock.getsockname()
            except OSError as exc:
                os_socket.close()
                return call.reply(from_exception(exc))
            self.hostname = hostname
            self._attach(os_socket, peer=(_ip(address), address[1]), local=(_ip(local), local[1]))
            return call.reply(NetError.OK)
        self.connect_call = self.connect_task = None
        call.reply(code)

    def listen(self, call: PendingCall, address: str, port: int, backlog: int) -> None:
        if self.is_tls:
            return call.reply(NetError.NOT_IMPLEMENTED, last_error=TLS_LISTEN)
        if self.mode == "client":
            return call.reply(NetError.NOT_IMPLEMENTED, last_error=CONNECT_AND_LISTEN)
        self.mode = "server"
        ip = parse_ip_literal(address)
        if ip is None:
            return call.reply(NetError.INVALID_ARGUMENT, last_error=LISTEN_BAD_ADDRESS)
        port &= 0xFFFF  # Chrome 156 wraps the port to 16 bits (listen on 70000 bound 4464)
        family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            return call.reply(from_exception(exc), last_error=LISTEN_FAILED)
        try:
            if sys.platform.startswith("win"):
                # SO_REUSEADDR on Windows would let a second live listener steal the port.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)  # type: ignore[attr-defined]
            else:
                # Chromium's server socket default: re-listen right after a close works, a second live
                # listener still fails with EADDRINUSE. Never SO_REUSEPORT (it would allow the second).
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and ip.is_unspecified:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # "::" also takes IPv4
            sock.bind((str(ip), port))
            sock.listen(max(backlog, 0))
            bound = sock.getsockname()
        except OSError as exc:
            sock.close()
            return call.reply(from_exception(exc), last_error=LISTEN_FAILED)
        if self.os_socket is None:
            self.os_socket = OsSocket(self.loop, sock)
        else:
            # Listening again (a DCHECK in Chrome's source): Chrome 156 answers 0 and getInfo shows the new
            # port, but accepts keep coming from the first listener; the new one only holds its port.
            self.idle_listeners.append(sock)
        self.local = (_ip(bound), bound[1])
        call.reply(NetError.OK)

    def accept(self, call: PendingCall) -> None:
        if self.mode != "server" or self.os_socket is None or self.accept_call is not None:
            return call.reply({"resultCode": NetError.FAILED})
        self.accept_call = call
        self.engine.spawn(self._accept(call, self.os_socket, self.epoch), call)

    async def _accept(self, call: PendingCall, listener: OsSocket, epoch: int) -> None:
        try:
            conn, addr = await listener.accept()
        except OSError:
            if epoch == self.epoch:
                self.accept_call = None
                call.reply({"resultCode": NetError.FAILED})
            return
        if epoch != self.epoch:
            conn.close()
            return
        self.accept_call = None
        try:
            accepted = self.engine.add_socket(lambda sid: TcpSocket.accepted(self.engine, sid, conn, addr))
        except OSError:
            accepted = None
        if accepted is None:
            conn.close()
            return call.reply({"resultCode": NetError.FAILED})
        call.reply({"resultCode": NetError.OK, "socketId": accepted.id})

    def read(self, call: PendingCall, size: int | None, stream: bool = False) -> None:
        size = DEFAULT_BUFFER_SIZE if size is None else size
        if self.mode != "client":
            return call.reply({"resultCode": NetError.FAILED, "data": ""})
        if self.read_call is not None or self.connect_call is not None:
            return call.reply({"resultCode": NetError.IO_PENDING, "data": ""})
        if self.secure_call is not None:  # Chrome 156: mid-upgrade the socket reads as not connected (secure_busy)
            return call.reply({"resultCode": NetError.SOCKET_NOT_CONNECTED, "data": ""})
        # Chrome 156 checks the connection before the size (tests/e2e/scenarios/reads.js).
        if not self.connected or (self.receiver is None and not (self.ahead is not None and self.ahead.eof)):
            return call.reply({"resultCode": NetError.SOCKET_NOT_CONNECTED, "data": ""})
        if size <= 0:
            return call.reply({"resultCode": NetError.INVALID_ARGUMENT, "data": ""})
        ahead = self.ahead
        if ahead is not None:
            self.ahead = None  # a read request ends read-ahead; the bytes pushed so far are the client's
            if ahead.eof:  # the client collects the end it was told of: Chrome's 0, then disconnected
                call.reply({"resultCode": 0, "data": ""})
                return self._teardown(NetError.CONNECTION_CLOSED)
            # A fresh receiver: the running one may be paused, or reading a whole AHEAD_STEP (cancelling
            # it at its wait loses no byte: reads happen between waits).
            if self.receiver is not None:
                self.receiver.stop()
            self._new_receiver()
        self._read_streams = stream
        self.read_call = call
        # bufferSize is a limit, not an allocation: recv(n) reserves n bytes, so a page asking for 2 GiB
        # would get the host to reserve it. A read returns what is buffered, at most MAX_READ.
        self.receiver.demand(min(size, MAX_READ))

    def _on_data(self, data: bytes) -> None:
        ahead = self.ahead
        if ahead is not None:
            ahead.pushed += len(data)
            self.engine.output.push_ahead(ahead.path, self.id, ahead.id, data, None)
            if ahead.pushed - ahead.consumed >= ahead.window and self.receiver is not None:
                self.receiver.pause()
            return
        call, self.read_call = self.read_call, None
        if call is None:
            return
        if not self._read_streams or self.receiver is None:
            return call.reply_data(data)
        # The read's own bytes first, then the stream; the client learns its id from the reply.
        ahead = self.ahead = ReadAhead(call.id, self.engine.output.ahead_path(call.id))
        if self.engine.wide_ahead(self, ahead):
            ahead.window = WIDE_WINDOW
            call.reply_data(data, stream=call.id, window=WIDE_WINDOW)
        else:
            call.reply_data(data, stream=call.id)
        self.receiver.resume()
        self.receiver.run(AHEAD_STEP)

    def congested(self, stream: int) -> None:
        """The stream's path has too much queued for the browser: stop reading until it drained."""
        ahead = self.ahead
        if ahead is not None and ahead.id == stream and self.receiver is not None:
            ahead.congested = True
            self.receiver.pause()

    def congestion_over(self, stream: int) -> None:
        ahead = self.ahead
        if ahead is None or ahead.id != stream or not ahead.congested:
            return
        ahead.congested = False
        if ahead.pushed - ahead.consumed < ahead.window and self.receiver is not None:
            self.receiver.resume()

    def ack_ahead(self, stream: int, consumed: int) -> None:
        """The client consumed `consumed` bytes of read-ahead stream `stream` in all (socket.ack)."""
        ahead = self.ahead
        if ahead is None or ahead.id != stream or ahead.eof:
            return  # an old stream's ack, or one racing the stream's end: nothing to do
        ahead.consumed = min(max(ahead.consumed, consumed), ahead.pushed)
        if ahead.pushed - ahead.consumed < ahead.window and not ahead.congested and self.receiver is not None:
            self.receiver.resume()

    def break_connection(self) -> None:
        """The read-ahead path broke (its bytes may be lost): the connection is unusable, as after a reset.
        Queued writes are answered -2 (on native messaging: a client that sent them on the broken path
        has already failed them itself and ignores the late replies)."""
        self.ahead = None
        self._abort_pending(quiet=False)
        self._teardown(NetError.CONNECTION_CLOSED)

    def _on_end(self, exc: BaseException | None) -> None:
        # EOF and every read-side error (RST included) read as 0, then the socket is disconnected.
        if exc is not None:
            log.debug("socket %s read error: %s", self.id, exc)
        ahead = self.ahead
        if ahead is not None:
            # Pushed after every byte; the socket stays connected until the client's read collects it.
            ahead.eof = True
            self.receiver = None
            self.engine.output.push_ahead(ahead.path, self.id, ahead.id, None, 0)
            return
        call, self.read_call = self.read_call, None
        if call is not None:
            call.reply({"resultCode": 0, "data": ""})
        self.receiver = None
        self._teardown(NetError.CONNECTION_CLOSED)

    def write(self, call: PendingCall, data: bytes) -> None:
        if not self.connected or self.secure_call is not None:
            return call.reply({"bytesWritten": NetError.SOCKET_NOT_CONNECTED})
        if self.write_failed:
            # The failure met after an earlier write's callback, told to the app now (Chrome's closed pipe).
            call.reply({"bytesWritten": NetError.FAILED})
            return self._teardown(NetError.CONNECTION_CLOSED)
        if not data:
            return call.reply({"bytesWritten": 0})  # Chrome 156: a zero-length write reports 0
        if not self.engine.take_quota(len(data)):
            return call.error_only(QUOTA_EXCEEDED)
        sent = 0
        if not self.writes and self.writer is None and not self.is_tls and self.os_socket is not None:
            # Fast path: nothing queued, so try the OS at once; a write it takes whole is answered now,
            # without a task (Chrome answers once the bytes are handed to the OS; so do we).
            try:
                sent = self.os_socket.sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                sent = 0  # the queued path below meets the error again and answers it as Chrome does
            if sent == len(data):
                self.engine.return_quota(len(data))
                return call.reply_written(len(data), self)
        self.writes.append((call, data))
        if len(self.writes) == 1:
            # Only the head's own: a write queued behind it must not reset what the fast path above already
            # handed to the OS of the head (that resent those bytes: a duplicated stretch when two writes
            # arrived in one stdin read while the peer was slow).
            self._head_sent = sent
        if call.pipe:
            self._answer_in_pipe()
        if self.writer is None:
            self.writer = self.engine.spawn(self._drain_writes(self.epoch))

    def _answer_in_pipe(self) -> None:
        """chrome.sockets' tcp.send, as Chrome 156 answers it: once its bytes fit in the socket's data pipe, before
        the OS took them (oracle sockets_peer_close). The writes queued here stand for the pipe, BEHIND_WINDOW
        bytes (the window the shim's write-behind gives chrome.socket); callbacks keep their order."""
        held = 0
        for call, data in self.writes:
            held += len(data)
            if held > BEHIND_WINDOW:
                return
            if call.pipe and not call.early:
                call.early = True
                call.reply_written(len(data))

    async def _drain_writes(self, epoch: int) -> None:
        while self.writes and epoch == self.epoch and self.stream is not None:
            call, data = self.writes[0]
            offset, self._head_sent = self._head_sent, 0
            try:
                await self.stream.sendall(memoryview(data)[offset:] if offset else data)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a broken pipe and friends: Chrome reports -2
                if epoch != self.epoch or self.writer is not asyncio.current_task():
                    return
                log.debug("socket %s write error: %s", self.id, exc)
                self.writes.popleft()
                self.engine.return_quota(len(data))
                self.writer = None
                early = call.early
                if not early:
                    call.reply({"bytesWritten": NetError.FAILED})
                if not (call.lazy or early):
                    self._teardown(NetError.CONNECTION_CLOSED)
                    return
                # Called back already (or maybe, for a `behind` write): only the send side is gone, as when
                # Chrome's pipe closes; the app meets it at its next write.
                self.write_failed = True
                self.wide_behind = False  # a wide write-behind window ends with the send side
                while self.writes:
                    queued, data = self.writes.popleft()
                    self.engine.return_quota(len(data))
                    if not queued.early:
                        queued.reply({"bytesWritten": NetError.FAILED})
                return
            if epoch != self.epoch or self.writer is not asyncio.current_task():
                return
            self.writes.popleft()
            self.engine.return_quota(len(data))
            if not call.early:
                call.reply_written(len(data), self)
            if self.writes and self.writes[0][0].pipe:
                self._answer_in_pipe()
        if self.writer is asyncio.current_task():
            self.writer = None

    def send_to(self, call: PendingCall, data: bytes, address: str, port: int) -> None:
        self.engine.spawn(self._send_to(call, data, address, port), call)

    async def _send_to(self, call: PendingCall, data: bytes, host: str, port: int) -> None:
        # sendTo on a TCP or TLS socket: DNS and the quota are checked first, then -2 (socket_api.cc).
        try:
            await self.engine.resolve(host, port, socket.SOCK_DGRAM)
        except DnsError as exc:
            return call.reply(exc.code, last_error=DNS_FAILED)
        if not self.engine.quota_allows(len(data)):
            return call.error_only(QUOTA_EXCEEDED)
        call.reply({"bytesWritten": NetError.FAILED})

    def set_keep_alive(self, enable: bool, delay: int) -> bool:
        if self.is_tls or self.secure_call is not None or not self.connected or self.os_socket is None:
            return False
        sock = self.os_socket.sock
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1 if enable else 0)
            if enable and delay > 0:
                # net::SetTCPKeepAlive: the delay (seconds) is both the idle time and the probe interval.
                idle = getattr(socket, "TCP_KEEPIDLE", getattr(socket, "TCP_KEEPALIVE", None))
                if idle is not None:
                    sock.setsockopt(socket.IPPROTO_TCP, idle, delay)
                if hasattr(socket, "TCP_KEEPINTVL"):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, delay)
        except OSError:
            return False
        return True

    def set_no_delay(self, no_delay: bool) -> bool:
        if self.is_tls or self.secure_call is not None or not self.connected or self.os_socket is None:
            return False
        try:
            self.os_socket.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if no_delay else 0)
        except OSError:
            return False
        return True

    def info(self) -> dict:
        # Quirk copied: a TLS socket reports "udp" (every type but TCP is reported as udp).
        info: dict[str, Any] = {"socketType": "udp" if self.is_tls else "tcp", "connected": self.connected}
        if self.connected and self.peer is not None:
            info["peerAddress"], info["peerPort"] = self.peer
        if self.local is not None:
            info["localAddress"], info["localPort"] = self.local
        return info

    def secure(self, call: PendingCall, options: Any, read_pending: bool = False) -> None:
        if not self.connected or self.os_socket is None:
            return call.reply(NetError.INVALID_ARGUMENT, last_error=NOT_CONNECTED)
        # With read-ahead the client holds the socket's pending read (`readPending`); the bytes it was
        # pushed and not consumed are dropped on its side, as Chrome drops its data pipe here.
        self.ahead = None
        if (self.read_call is not None or read_pending or self.writes or self.secure_call is not None
                or self.local is None or self.peer is None or not self.hostname):
            # Chrome destroys the socket here (accepted sockets always land here: no local address). A secure()
            # still in flight is cut short, never called back (oracle secure_twice): its ERR_ABORTED answer
            # is for the shim to drop.
            self._forget()
            self.destroy()
            return call.reply(NetError.FAILED, last_error=net_error_string(NetError.FAILED))
        if self.receiver is not None:
            self.receiver.stop()
            self.receiver = None
        low, high = tls_versions(options)
        ctx = self.engine.tls_context((low, high), lambda: make_context(low, high))
        self.secure_call = call
        # SNI and the name verified: the hostname given to connect(), canonicalized as Chrome's URL code
        # does (lowercase; "LocalHost" is sent as "localhost"). IP literals send no SNI (ssl module).
        server_name = self.hostname.lower()
        self.engine.spawn(self._secure(call, TlsStream(self.os_socket, ctx, server_name), self.epoch), call)

    async def _secure(self, call: PendingCall, stream: TlsStream, epoch: int) -> None:
        try:
            await asyncio.wait_for(stream.handshake(), tls_handshake_timeout())
        except (OSError, ValueError, asyncio.TimeoutError) as exc:
            if epoch != self.epoch:
                return
            code = NetError.TIMED_OUT if isinstance(exc, asyncio.TimeoutError) else from_ssl_error(exc)
            log.info("socket %s: TLS handshake failed (%s): %s", self.id, net_error_string(code), exc)
            self.secure_call = None
            self._forget()  # Chrome removes the socket after a failed secure()
            self.destroy()
            return call.reply(code, last_error=net_error_string(code))
        if epoch != self.epoch:
            return
        self.secure_call = None
        self.is_tls = True
        self.stream = stream
        self._new_receiver()
        call.reply(NetError.OK)


def tls_handshake_timeout() -> float:
    try:
        return float(os.environ.get("RESOCKET_TLS_HANDSHAKE_TIMEOUT", TLS_HANDSHAKE_TIMEOUT))
    except ValueError:
        return TLS_HANDSHAKE_TIMEOUT


def _ip(address: Any) -> str:
    return format_ip(address[0])


def _set_nodelay(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass
