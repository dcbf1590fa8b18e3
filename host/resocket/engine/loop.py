"""The socket engine: Chrome's chrome.socket results for every method, over real OS sockets.

Design rules:
- One event-loop thread owns every socket and all socket state. After hello the host has this loop read
  stdin itself (`watch_input`), so `handle()` normally runs on the loop thread and dispatches at once
  (no thread hop, no self-pipe wake-up per request); called from any other thread it queues the request
  with `call_soon_threadsafe`. Either way it never waits, and requests are applied exactly in arrival
  order: a `read`, `disconnect`, `connect` sent together are
  applied in that order (testPendingCallback). Waits (connect, accept, reads, writes, TLS handshakes)
  are coroutines on the loop, so one socket's wait never delays another's; only DNS lookups of
  non-literal names run on short-lived daemon threads (getaddrinfo blocks).
- Each method makes Chrome's checks in Chrome's order (chrome-socket-semantics.md, section 2); the first
  failing check decides the reply. The checks that need no socket state live here; the rest live in
  tcp.py / udp.py. Every request gets exactly one final reply (docs/protocol.md); where Chrome would
  never call back, the reply is the deliberate choice written down in docs/compatibility.md.
- Replies use Chrome's three error styles: value only, value + lastError, lastError only (`args: []`).
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import threading
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Callable, Union

from resocket.chrome.iplit import parse_ip_literal
from resocket.chrome.netcodes import NetError
from resocket.engine.oserrors import from_exception
from resocket.wire.framing import RawJSON
from resocket.wire.protocol import (
    BEHIND_WINDOW,
    TOO_MANY_SOCKETS,
    WIDE_GRANTS,
    WIDE_WINDOW,
    ahead_data_frames,
    ahead_event_json,
    api_reply,
    data_reply_frames,
    error_reply,
)

if TYPE_CHECKING:
    from resocket.engine.tcp import TcpSocket
    from resocket.engine.udp import UdpSocket

log = logging.getLogger(__name__)

# -- Chrome's messages (extensions/browser/api/socket/socket_api.cc, socket_api.h) -------------------------
PORT_RANGE = "Port must be a value between 0 and 65535."
NOT_FOUND = "Socket not found"
NO_PERMISSION = "App does not have permission"
DNS_FAILED = "DNS resolution failed"
QUOTA_EXCEEDED = "Exceeded write quota."
TCP_BIND = "TCP socket does not support bind. For TCP server please use listen."
NOT_SUPPORTED = "Socket type does not support this API"
MULTICAST_UDP_ONLY = "Only UDP socket supports multicast."
TLS_TCP_ONLY = "Only TCP sockets are supported for TLS."
NETWORK_LIST_FAILED = "Network lookup failed or unsupported"

#: Chrome's default write quota per extension: 200 MiB in flight (socket_api.cc kDefaultWriteQuota...).
DEFAULT_WRITE_QUOTA = 200 * 1024 * 1024
MAX_PORT = 65535

Emit = Callable[[Any], None]
Socket = Union["TcpSocket", "UdpSocket"]


_WIDE_TAIL = f',"window":{WIDE_WINDOW}'


class Call:
    """One request in flight: it gets exactly one final reply."""

    __slots__ = ("done", "engine", "id", "lazy")
    #: chrome.socket writes wait for the OS (or the shim's write-behind); chrome.sockets' tcp.send is called
    #: back once it fits in the pipe (sockets_api._Shaped sets both, TcpSocket._answer_in_pipe `early`).
    pipe = False
    early = False

    def __init__(self, engine: Engine, req_id: int) -> None:
        self.engine, self.id, self.done = engine, req_id, False
        self.lazy = False  # a write the client already called back (`behind`): its success reply may wait

    def reply(self, *args: Any, last_error: str | None = None) -> None:
        """Value (or values) for the callback; `last_error` sets chrome.runtime.lastError too."""
        if self._finish():
            self.engine.emit(api_reply(self.id, [_plain(arg) for arg in args], last_error))

    def reply_written(self, n: int, sock: Any = None) -> None:
        """A successful chrome.socket TCP/TLS write of `n` bytes (to `sock`). For a write-behind client the
        reply says `behind` (docs/protocol.md, "Write-behind"), and `window` when the socket holds a wide one
        ("Wide windows"); for a write it already called back, the reply may wait to leave with the next
        message the client gets anyway."""
        engine = self.engine
        if not engine.write_behind:
            return self.reply({"bytesWritten": n})
        # A grant starts only on a reply that leaves at once, so the client knows the window before the host
        # holds replies for a quarter of it.
        wide = sock is not None and engine.wide_behind(sock, grant=not self.lazy)
        if not self.lazy:
            return self.reply({"bytesWritten": n, "behind": True, "window": WIDE_WINDOW} if wide else {
                "bytesWritten": n, "behind": True})
        if self._finish():
            # Built by hand (one per 64 KiB write of an echo: json.dumps was ~6% of the host's time there).
            # Weighed against the window's share: a wide socket's replies may wait for 8x the bytes.
            text = (f'{{"id":{int(self.id)},"args":[{{"bytesWritten":{int(n)},"behind":true'
                    f'{_WIDE_TAIL if wide else ""}}}]}}')
            engine.emit_lazy(RawJSON(text, self.id), n * BEHIND_WINDOW // WIDE_WINDOW if wide else n)

    def answer(self, value: Any, quiet: bool) -> None:
        """`reply(value)`, or, when `quiet` (the socket is going away with no one waiting), only retire it."""
        if quiet:
            self.done = True
        else:
            self.reply(value)

    def error_only(self, last_error: str) -> None:
        """Chrome's "Error()" style: the callback gets no argument, lastError is set."""
        if self._finish():
            self.engine.emit(api_reply(self.id, [], last_error))

    def reply_data(self, data: bytes, **extra: Any) -> None:
        """A successful read / recvFrom: split into chunk frames when large (docs/protocol.md)."""
        if self._finish():
            hook = self.engine.data_reply
            if hook is not None and hook(self.id, data, extra):
                return
            self.engine.emit_many(data_reply_frames(self.id, data, extra or None))

    def _finish(self) -> bool:
        if self.done:
            log.error("second reply to request %s dropped", self.id)
            return False
        self.done = True
        return True


def _plain(value: Any) -> Any:
    """NetError members -> plain ints, so any JSON encoder writes numbers."""
    if isinstance(value, IntEnum) or type(value) is bool:
        return value if type(value) is bool else int(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def format_ip(host: str) -> str:
    """Chrome's IP string: IPv4 dotted, IPv6 compressed without brackets or scope; a v4-mapped IPv6
    address in hex groups ("::ffff:7f00:1", as Chrome 156 reports it; Python 3.13 would print the dotted
    tail)."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if ip.version == 6 and ip.ipv4_mapped is not None:
        tail = ip.packed[12:]
        return f"::ffff:{int.from_bytes(tail[:2], 'big'):x}:{int.from_bytes(tail[2:], 'big'):x}"
    return str(ip)


def hostname_compliant(name: str) -> bool:
    """Chromium's IsCanonicalizedHostCompliant (net/base/url_util.cc), on the lowercased name: labels of
    [a-z0-9_-] separated by dots, the last one starting with a letter or digit, one final dot allowed, at
    most 253 characters (254 with the dot). Chrome's resolver answers anything else ERR_NAME_NOT_RESOLVED
    without a lookup: "" or " 127.0.0.1", "[::1]", "127.0.0.1:80", "127.0.0.1%lo"."""
    if not name or len(name) > 254 or (len(name) == 254 and not name.endswith(".")):
        return False
    in_label = False
    last_started_alnum = False
    for c in name:
        alnum = "a" <= c <= "z" or "0" <= c <= "9"
        if not in_label:
            if not alnum and c not in "-_":
                return False
            last_started_alnum = alnum
            in_label = True
        elif c == ".":
            in_label = False
        elif not alnum and c not in "-_":
            return False
    return last_started_alnum


def is_localhost_name(host: str) -> bool:
    """Chromium's IsLocalHostname: "localhost" and "*.localhost", with or without the final dot."""
    name = host.lower().removesuffix(".")
    return name == "localhost" or name.endswith(".localhost")


class Engine:
    def __init__(self, emit: Emit, rules: Any, *, write_quota: int = DEFAULT_WRITE_QUOTA,
                 max_sockets: int = 4096) -> None:
        self.emit = emit
        #: Several frames at once (a split read reply); the host replaces it with one that writes them
        #: with one system call.
        self.emit_many: Callable[[list], None] = self._emit_each
        #: Set by the host once a data channel exists: `data_reply(id, data, extra)` sends a read's data
        #: there and answers the request, or returns False (the data then goes as base64 frames).
        self.data_reply: Callable[[int, bytes, dict], bool] | None = None
        #: Read-ahead (docs/protocol.md, "Read-ahead"). `ahead_path(read_id)`: where the stream started by
        #: that read travels ("channel" or "native"); `push_ahead(path, sid, stream, data, code)` sends its
        #: bytes (`data`) or its end (`code`). The host replaces both once a data channel exists.
        self.ahead_path: Callable[[int], str] = lambda req_id: "native"
        self.push_ahead: Callable[[str, int, int, Any, Any], None] = self.push_native
        #: Write-behind (docs/protocol.md): the client asked in hello; successful chrome.socket TCP/TLS write
        #: replies then say `behind: true`, i.e. the client may call that socket's next writes back itself.
        self.write_behind = False
        #: `emit_lazy(reply, n)`: a success reply (RawJSON) to a write of n bytes the client already called back; the
        #: host holds it for the next message to that client (below the window's share, for a short while).
        self.emit_lazy: Callable[[RawJSON, int], None] = lambda message, n: self.emit(message)
        #: Wide windows (docs/protocol.md): the client asked in hello; at most WIDE_GRANTS read-ahead streams and
        #: WIDE_GRANTS sockets' write-behinds hold one at a time (each list: who was granted, pruned when asked).
        self.wide = False
        self._wide_aheads: list[tuple[Any, Any]] = []
        self._wide_behinds: list[Any] = []
        self.rules = rules
        self.write_quota = write_quota
        self.max_sockets = max_sockets
        self.quota_used = 0
        self.sockets: dict[int, Socket] = {}
        self._next_id = 1  # Chrome: ids start at 1 and are never reused (api_resource_manager.h)
        self.loop = asyncio.SelectorEventLoop()
        self._tasks: set[asyncio.Task] = set()
        self._closed = False
        self._input_done: threading.Event | None = None
        self._tls_contexts: dict[Any, Any] = {}
        from resocket.engine.sockets_api import SocketsApi

        self.sockets_api = SocketsApi(self)  # chrome.sockets.*: ops named "tcp.send", "udp.bind", ...
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="resocket-engine", daemon=True)
        self._thread.start()
        ready.wait()
        self._thread_id = self._thread.ident

    def _emit_each(self, frames: list) -> None:
        for frame in frames:
            self.emit(frame)

    def push_native(self, path: str, sid: int, stream: int, data: bytes | None, code: int | None) -> None:
        """`push_ahead` on native messaging: event frames of at most AHEAD_STEP bytes each."""
        if data is not None:
            self.emit_many(ahead_data_frames(sid, stream, data))  # type: ignore[arg-type]
        else:
            self.emit(RawJSON(ahead_event_json(sid, stream, code=code), None))

    def break_ahead(self, path: str) -> None:
        """The path of some read-ahead streams is gone (the data channel closed) with bytes maybe lost on it:
        their connections are broken, as a reset would break them (loop thread)."""
        for sock in list(self.sockets.values()):
            ahead = getattr(sock, "ahead", None)
            if ahead is not None and ahead.path == path:
                sock.break_connection()

    # -- threads --------------------------------------------------------------------------------------
    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(ready.set)
        try:
            self.loop.run_forever()
        finally:
            # Every task on the loop, not only spawned ones (receivers' pumps too): cancelled and awaited
            # here, so none is destroyed while pending.
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.close()
            if self._input_done is not None:
                self._input_done.set()

    def handle(self, req_id: int, op: str, args: dict) -> None:
        """Run (on the loop thread) or queue (any other thread) one validated request; returns at once."""
        if threading.get_ident() == self._thread_id:
            if not self._closed:
                self._dispatch(req_id, op, args)
            return
        try:
            self.loop.call_soon_threadsafe(self._dispatch, req_id, op, args)
        except RuntimeError:
            log.debug("request %s after shutdown ignored", req_id)

    def notice(self, op: str, args: dict) -> None:
        """Apply a notice (no reply, docs/protocol.md "Read-ahead"); from any thread, like `handle`."""
        if threading.get_ident() == self._thread_id:
            if not self._closed:
                self._notice(op, args)
            return
        try:
            self.loop.call_soon_threadsafe(self._notice, op, args)
        except RuntimeError:
            pass

    def _notice(self, op: str, args: dict) -> None:
        if op == "socket.ack":
            sock = self.sockets.get(args["socketId"])
            if sock is not None and sock.kind == "tcp":
                sock.ack_ahead(args["stream"], args["consumed"])

    def watch_input(self, fd: int, on_readable: Callable[[], bool]) -> threading.Event:
        """Have the loop call `on_readable()` whenever `fd` is readable, until it returns False.

        For stdin after hello: requests are then decoded and dispatched on this thread. Requests queued
        with `handle()` before this call are dispatched first (the loop runs its queue in order). The
        returned event is set once `on_readable` returned False (input ended) or the engine stopped.
        """
        done = threading.Event()

        def readable() -> None:
            try:
                more = on_readable()
            except Exception:
                log.exception("reading input failed")
                more = False
            if not more:
                self.loop.remove_reader(fd)
                done.set()

        def start() -> None:
            self._input_done = done
            self.loop.add_reader(fd, readable)

        try:
            self.loop.call_soon_threadsafe(start)
        except RuntimeError:
            done.set()
        return done

    def shutdown(self, timeout: float = 1.0) -> None:
        """Close every socket, stop the loop and join its thread."""
        if self._closed:
            return
        self._closed = True
        try:
            self.loop.call_soon_threadsafe(self._close_all)
        except RuntimeError:
            return
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("engine thread did not stop within %.1fs", timeout)

    def _close_all(self) -> None:
        self.sockets_api.close_all()
        for sock in list(self.sockets.values()):
            sock.destroy(quiet=True)
        self.sockets.clear()
        self.loop.stop()

    def spawn(self, coro: Any, call: Call | None = None) -> asyncio.Task:
        """Run a coroutine on the loop; its exceptions are logged, never lost. `call`, the request the
        coroutine answers: should it fail before answering, the client gets an `internal` error for it
        rather than no answer at all."""
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._task_done(t, call))
        return task

    def _task_done(self, task: asyncio.Task, call: Call | None) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        log.error("engine task failed", exc_info=exc)
        if call is not None and not call.done:
            call.done = True
            self.emit(error_reply(call.id, "internal", f"{type(exc).__name__}: {exc}"))

    # -- shared services ----------------------------------------------------------------------------
    def allows(self, op: str, host: str, port: int) -> bool:
        return bool(self.rules.allows(op, host, port))

    def take_quota(self, size: int) -> bool:
        """Chrome's WriteQuotaChecker: pending bytes + this write must stay within the quota."""
        if self.quota_used + size > self.write_quota:
            return False
        self.quota_used += size
        return True

    def return_quota(self, size: int) -> None:
        self.quota_used = max(0, self.quota_used - size)

    def add_socket(self, sock_factory: Callable[[int], Socket]) -> Socket | None:
        if len(self.sockets) + self.sockets_api.count() >= self.max_sockets:
            return None
        sid = self._next_id
        self._next_id += 1
        sock = sock_factory(sid)
        self.sockets[sid] = sock
        return sock

    def wide_ahead(self, sock: TcpSocket, ahead: Any) -> bool:
        """Grant `sock`'s new read-ahead stream `ahead` a wide window if the client asked for them and fewer than
        WIDE_GRANTS live streams hold one (a stream holds it until it ends: the socket's `ahead` is another, or
        its socket is gone)."""
        if not self.wide:
            return False
        held = [(s, a) for s, a in self._wide_aheads if s.ahead is a and self.sockets.get(s.id) is s]
        self._wide_aheads = held
        if len(held) >= WIDE_GRANTS:
            return False
        held.append((sock, ahead))
        return True

    def wide_behind(self, sock: TcpSocket, grant: bool) -> bool:
        """Whether `sock`'s write-behind has a wide window; with `grant`, give it one if fewer than
        WIDE_GRANTS live sockets hold one (a socket holds it until its connection ends: `_teardown`); only for a
        client that asked for them."""
        if sock.wide_behind:
            return True
        if not grant or not self.wide:
            return False
        held = [s for s in self._wide_behinds if s.wide_behind and self.sockets.get(s.id) is s]
        self._wide_behinds = held
        if len(held) >= WIDE_GRANTS:
            return False
        held.append(sock)
        sock.wide_behind = True
        return True

    def forget(self, sid: int) -> None:
        self.sockets.pop(sid, None)

    async def resolve(self, host: str, port: int, socktype: int) -> list[tuple[int, Any]]:
        """(family, sockaddr) for every address of `host`, in Chrome's order. Raises DnsError.

        As Chromium's HostResolverManager: IP literals need no lookup; a name that is not a valid host name
        fails at once (-105, whether or not a network is up); localhost names are answered here, ::1 then
        127.0.0.1, never from /etc/hosts or DNS (so connect tries both, and sendTo uses ::1); other names go
        to the system resolver (getaddrinfo), as Chrome's does on Linux."""
        literal = parse_ip_literal(host)
        if literal is not None:
            if literal.version == 4:
                return [(socket.AF_INET, (str(literal), port))]
            return [(socket.AF_INET6, (str(literal), port, 0, 0))]
        name = host.lower()
        if not hostname_compliant(name):
            raise DnsError(NetError.NAME_NOT_RESOLVED)
        if is_localhost_name(name):
            return [(socket.AF_INET6, ("::1", port, 0, 0)), (socket.AF_INET, ("127.0.0.1", port))]
        fut: asyncio.Future = self.loop.create_future()

        def lookup() -> None:
            try:
                result: Any = socket.getaddrinfo(name, port, type=socktype)
            except Exception as exc:  # noqa: BLE001 - handed to the loop
                result = exc
            try:
                self.loop.call_soon_threadsafe(_settle, fut, result)
            except RuntimeError:
                pass  # the engine shut down meanwhile

        threading.Thread(target=lookup, name="resocket-dns", daemon=True).start()
        result = await fut
        if isinstance(result, BaseException):
            raise DnsError(self._dns_error_code(result)) from result
        addresses = [(family, sockaddr) for family, _, _, _, sockaddr in result
                     if family in (socket.AF_INET, socket.AF_INET6)]
        if not addresses:
            raise DnsError(NetError.NAME_NOT_RESOLVED)
        return addresses

    @staticmethod
    def offline() -> bool:
        """NetworkChangeNotifier::IsOffline as Chrome 156 showed it: no interface in getNetworkList's list
        (a platform without that list counts as online)."""
        from resocket.engine import netlist

        try:
            return not netlist.network_list()
        except OSError:
            return False

    @classmethod
    def _dns_error_code(cls, exc: BaseException) -> int:
        # Chrome 156 answered -106 INTERNET_DISCONNECTED while no non-loopback interface was up
        # (chrome-apps-oracle.md), and -105 NAME_NOT_RESOLVED otherwise.
        if isinstance(exc, socket.gaierror):
            return NetError.INTERNET_DISCONNECTED if cls.offline() else NetError.NAME_NOT_RESOLVED
        return from_exception(exc)

    def tls_context(self, key: Any, factory: Callable[[], Any]) -> Any:
        ctx = self._tls_contexts.get(key)
        if ctx is None:
            ctx = self._tls_contexts[key] = factory()
        return ctx

    # -- dispatch -----------------------------------------------------------------------------------
    def _dispatch(self, req_id: int, op: str, args: dict) -> None:
        call = Call(self, req_id)
        method = getattr(self, "op_" + op, None)
        if method is None and "." in op:
            def method(call: Call, args: dict) -> None:
                self.sockets_api.dispatch(call, op, args)
        try:
            if method is None:
                raise ValueError(f"engine has no operation {op!r}")
            method(call, args)
        except Exception as exc:
            log.exception("%s failed", op)
            if not call.done:
                call.done = True
                self.emit(error_reply(req_id, "internal", f"{op}: {type(exc).__name__}: {exc}"))

    def _find(self, args: dict) -> Socket | None:
        return self.sockets.get(args["socketId"])

    @staticmethod
    def _port_ok(port: int) -> bool:
        return 0 <= port <= MAX_PORT

    def op_create(self, call: Call, args: dict) -> None:
        from resocket.engine.tcp import TcpSocket
        from resocket.engine.udp import UdpSocket

        cls = TcpSocket if args["type"] == "tcp" else UdpSocket
        sock = self.add_socket(lambda sid: cls(self, sid))
        if sock is None:
            call.done = True
            self.emit(error_reply(call.id, TOO_MANY_SOCKETS,
                                  f"create: this client already has {self.max_sockets} sockets"))
            return
        call.reply({"socketId": sock.id})

    def op_destroy(self, call: Call, args: dict) -> None:
        sock = self.sockets.pop(args["socketId"], None)
        if sock is not None:
            sock.destroy()
        call.reply()

    def op_connect(self, call: Call, args: dict) -> None:
        if not self._port_ok(args["port"]):
            return call.error_only(PORT_RANGE)  # checked before the lookup (unit test InvalidPort)
        sock = self._find(args)
        if sock is None:
            return call.reply(-1, last_error=NOT_FOUND)
        rule = "tcp-connect" if sock.kind == "tcp" else "udp-send-to"
        if not self.allows(rule, args["hostname"], args["port"]):
            return call.reply(-1, last_error=NO_PERMISSION)
        sock.connect(call, args["hostname"], args["port"])

    def op_bind(self, call: Call, args: dict) -> None:
        if not self._port_ok(args["port"]):
            return call.error_only(PORT_RANGE)
        sock = self._find(args)
        if sock is None:
            return call.reply(-1, last_error=NOT_FOUND)
        if sock.kind != "udp":
            return call.reply(-1, last_error=TCP_BIND)
        if not self.allows("udp-bind", args["address"], args["port"]):
            return call.reply(-1, last_error=NO_PERMISSION)
        sock.bind(call, args["address"], args["port"])

    def op_disconnect(self, call: Call, args: dict) -> None:
        sock = self._find(args)
        if sock is not None:
            sock.disconnect()
        call.reply()

    def op_read(self, call: Call, args: dict) -> None:
        sock = self._find(args)
        if sock is None:
            return call.reply({"resultCode": -1, "data": ""}, last_error=NOT_FOUND)
        if sock.kind == "tcp":
            sock.read(call, args.get("bufferSize"), bool(args.get("stream")))
        else:
            sock.read(call, args.get("bufferSize"))

    def op_write(self, call: Call, args: dict) -> None:
        data = args["data"]
        # The write quota is checked first, before the socket lookup (socket_api.cc SocketWriteFunction).
        if self.quota_used + len(data) > self.write_quota:
            return call.error_only(QUOTA_EXCEEDED)
        sock = self._find(args)
        if sock is None:
            return call.reply({"bytesWritten": -1}, last_error=NOT_FOUND)
        call.lazy = args.get("behind") is True
        sock.write(call, data)

    def op_recvFrom(self, call: Call, args: dict) -> None:
        sock = self._find(args)
        if sock is None or sock.kind != "udp":
            # Quirk copied: a TCP socket is "not found" here (socket_api.cc GetUdpSocket).
            return call.reply({"resultCode": -1, "data": "", "address": "", "port": 0}, last_error=NOT_FOUND)
        sock.recv_from(call, args.get("bufferSize"))

    def op_sendTo(self, call: Call, args: dict) -> None:
        if not self._port_ok(args["port"]):
            return call.error_only(PORT_RANGE)
        sock = self._find(args)
        if sock is None:
            return call.reply(-1, last_error=NOT_FOUND)  # quirk copied: a bare number
        if sock.kind == "udp" and not self.allows("udp-send-to", args["address"], args["port"]):
            return call.reply(-1, last_error=NO_PERMISSION)
        sock.send_to(call, args["data"], args["address"], args["port"])

    def op_listen(self, call: Call, args: dict) -> None:
        sock = self._find(args)
        if sock is None:
            return call.reply(-1, last_error=NOT_FOUND)
        # The permission check comes before the type check, so it applies to UDP sockets too.
        if not self.allows("tcp-listen", args["address"], args["port"]):
            return call.reply(-1, last_error=NO_PERMISSION)
        if sock.kind != "tcp":
            return call.reply(-2, last_error=NOT_SUPPORTED)
        backlog = args.get("backlog")
        sock.listen(call, args["address"], args["port"], 5 if backlog is None else backlog)

    def op_accept(self, call: Call, args: dict) -> None:
        sock = self._find(args)
        if sock is None:
            return call.reply({"resultCode": -2}, last_error=NOT_FOUND)
        if sock.kind != "tcp":
            return call.reply({"resultCode": -2})
        sock.accept(call)

    def op_setKeepAlive(self, call: Call, args: dict) -> None:
        sock = self._find(args)
        if sock is None:
            return call.reply(False, last_error=NOT_FOUND)
        delay = args.get("delay")
        call.reply(sock.set_keep_alive(args["enable"], 0 if delay is None else delay))

    def op_setNoDelay(self, call: Call, args: dict) -> None:
        sock = self._find(args)
        if sock is None:
            return call.reply(False, last_error=NOT_FOUND)
        call.reply(sock.set_no_delay(args["noDelay"]))

    def op_getInfo(self, call: Call, args: dict) -> None:
        sock = self._find(args)
        if sock is None:
            return call.error_only(NOT_FOUND)
        call.reply(sock.info())

    def op_getNetworkList(self, call: Call, args: dict) -> None:
        from resocket.engine import netlist  # ctypes: imported when first asked, not at start-up

        try:
            interfaces = netlist.network_list()
        except OSError:
            log.warning("getNetworkList failed", exc_info=True)
            return call.error_only(NETWORK_LIST_FAILED)
        call.reply(interfaces)

    def _multicast_socket(self, call: Call, args: dict, *, permission: bool) -> UdpSocket | None:
        sock = self._find(args)
        if sock is None:
            call.reply(-1, last_error=NOT_FOUND)
            return None
        if sock.kind != "udp":
            call.reply(-1, last_error=MULTICAST_UDP_ONLY)
            return None
        if permission and not self.allows("udp-multicast-membership", "", 0):
            call.reply(-1, last_error=NO_PERMISSION)
            return None
        return sock  # type: ignore[return-value]

    def op_joinGroup(self, call: Call, args: dict) -> None:
        sock = self._multicast_socket(call, args, permission=True)
        if sock is not None:
            sock.join_group(call, args["address"])

    def op_leaveGroup(self, call: Call, args: dict) -> None:
        sock = self._multicast_socket(call, args, permission=True)
        if sock is not None:
            sock.leave_group(call, args["address"])

    def op_setMulticastTimeToLive(self, call: Call, args: dict) -> None:
        sock = self._multicast_socket(call, args, permission=False)
        if sock is not None:
            sock.set_multicast_ttl(call, args["ttl"])

    def op_setMulticastLoopbackMode(self, call: Call, args: dict) -> None:
        sock = self._multicast_socket(call, args, permission=False)
        if sock is not None:
            sock.set_multicast_loopback(call, args["enabled"])

    def op_getJoinedGroups(self, call: Call, args: dict) -> None:
        sock = self._multicast_socket(call, args, permission=True)
        if sock is not None:
            call.reply(list(sock.groups))

    def op_secure(self, call: Call, args: dict) -> None:
        sock = self._find(args)
        if sock is None:
            return call.reply(-4, last_error=NOT_FOUND)
        if sock.kind != "tcp" or sock.is_tls:
            return call.reply(-4, last_error=TLS_TCP_ONLY)
        sock.secure(call, args.get("options") or {}, bool(args.get("readPending")))


class DnsError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = int(code)


def _settle(fut: asyncio.Future, result: Any) -> None:
    if not fut.done():
        fut.set_result(result)
