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
- Each method makes Chrome's checks in Chrome's order (docs/chrome-behaviour.md, section 2); the first
  failing check decides the reply. The checks that need no socket state live here; the rest live in
  tcp.py / udp.py. Every request gets exactly one final reply (docs/protocol.md); where Chrome would
  never call back, the reply is the deliberate choice written down in docs/compatibility.md.
- Replies use Chrome's three error styles: value only, value + lastError, lastError only (`args: []`).
- The engine is given its collaborators when built: the client's output (`ClientOutput`) and the
  hello's options; it is the sockets' `SocketServices` (both in services.py), and they import that, never
  this module. Operations reach their handler through a table (`HANDLERS`), never by attribute name.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Callable, Union

from resocket.chrome.messages import (
    MULTICAST_UDP_ONLY,
    NETWORK_LIST_FAILED,
    NO_PERMISSION,
    NOT_FOUND,
    NOT_SUPPORTED,
    PORT_RANGE,
    QUOTA_EXCEEDED,
    TCP_BIND,
    TLS_TCP_ONLY,
)
from resocket.engine.resolver import Resolver
from resocket.engine.services import ClientOutput, PendingCall
from resocket.engine.sockets_api import SocketsApi
from resocket.engine.tcp import TcpSocket
from resocket.engine.udp import UdpSocket
from resocket.wire.protocol import OPERATIONS, TOO_MANY_SOCKETS, WIDE_GRANTS, error_reply

log = logging.getLogger(__name__)

#: Chrome's default write quota per extension: 200 MiB in flight (socket_api.cc kDefaultWriteQuota...).
DEFAULT_WRITE_QUOTA = 200 * 1024 * 1024
MAX_PORT = 65535

Socket = Union[TcpSocket, UdpSocket]


class Engine:
    """One client's sockets on one event-loop thread; implements `SocketServices` for them."""

    def __init__(self, output: ClientOutput, rules: Any, *, write_quota: int = DEFAULT_WRITE_QUOTA,
                 max_sockets: int = 4096, write_behind: bool = False, wide: bool = False) -> None:
        #: Where replies and events go (engine/services.py); `emit` is its first method, kept at hand.
        self.output = output
        self.emit = output.emit
        #: Write-behind (docs/protocol.md): the client asked in hello; successful chrome.socket TCP/TLS write
        #: replies then say `behind: true`, i.e. the client may call that socket's next writes back itself.
        self.write_behind = write_behind
        #: Wide windows (docs/protocol.md): the client asked in hello; at most WIDE_GRANTS read-ahead streams and
        #: WIDE_GRANTS sockets' write-behinds hold one at a time (each list: who was granted, pruned when asked).
        self.wide = wide
        self._wide_aheads: list[tuple[Any, Any]] = []
        self._wide_behinds: list[Any] = []
        self.rules = rules
        self.write_quota = write_quota
        self.max_sockets = max_sockets
        self.quota_used = 0
        self.sockets: dict[int, Socket] = {}
        self._next_id = 1  # Chrome: ids start at 1 and are never reused (api_resource_manager.h)
        self.loop = asyncio.SelectorEventLoop()
        self.resolver = Resolver(self.loop)
        self._tasks: set[asyncio.Task] = set()
        self._closed = False
        self._input_done: threading.Event | None = None
        self._tls_contexts: dict[Any, Any] = {}
        self.sockets_api = SocketsApi(self)  # chrome.sockets.*: ops named "tcp.send", "udp.bind", ...
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="resocket-engine", daemon=True)
        self._thread.start()
        ready.wait()
        self._thread_id = self._thread.ident

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

    def spawn(self, coro: Any, call: PendingCall | None = None) -> asyncio.Task:
        """Run a coroutine on the loop; its exceptions are logged, never lost. `call`, the request the
        coroutine answers: should it fail before answering, the client gets an `internal` error for it
        rather than no answer at all."""
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._task_done(t, call))
        return task

    def _task_done(self, task: asyncio.Task, call: PendingCall | None) -> None:
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

    def quota_allows(self, size: int) -> bool:
        """Chrome's WriteQuotaChecker: pending bytes + this write must stay within the quota."""
        return self.quota_used + size <= self.write_quota

    def take_quota(self, size: int) -> bool:
        if not self.quota_allows(size):
            return False
        self.quota_used += size
        return True

    def return_quota(self, size: int) -> None:
        self.quota_used = max(0, self.quota_used - size)

    def room_for_socket(self) -> bool:
        return len(self.sockets) + self.sockets_api.count() < self.max_sockets

    def add_socket(self, sock_factory: Callable[[int], Socket]) -> Socket | None:
        if not self.room_for_socket():
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

    def socket(self, sid: int) -> Socket | None:
        return self.sockets.get(sid)

    def forget(self, sid: int) -> None:
        self.sockets.pop(sid, None)

    async def resolve(self, host: str, port: int, socktype: int,
                      family: int | None = None) -> list[tuple[int, Any]]:
        return await self.resolver.resolve(host, port, socktype, family)

    def offline(self) -> bool:
        return self.resolver.offline()

    def tls_context(self, key: Any, factory: Callable[[], Any]) -> Any:
        ctx = self._tls_contexts.get(key)
        if ctx is None:
            ctx = self._tls_contexts[key] = factory()
        return ctx

    # -- dispatch -----------------------------------------------------------------------------------
    def _dispatch(self, req_id: int, op: str, args: dict) -> None:
        call = PendingCall(self, req_id)
        try:
            handler = HANDLERS.get(op)
            if handler is not None:
                handler(self, call, args)
            else:
                self.sockets_api.dispatch(call, op, args)
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

    def op_create(self, call: PendingCall, args: dict) -> None:
        cls = TcpSocket if args["type"] == "tcp" else UdpSocket
        sock = self.add_socket(lambda sid: cls(self, sid))
        if sock is None:
            call.done = True
            self.emit(error_reply(call.id, TOO_MANY_SOCKETS,
                                  f"create: this client already has {self.max_sockets} sockets"))
            return
        call.reply({"socketId": sock.id})

    def op_destroy(self, call: PendingCall, args: dict) -> None:
        sock = self.sockets.pop(args["socketId"], None)
        if sock is not None:
            sock.destroy()
        call.reply()

    def op_connect(self, call: PendingCall, args: dict) -> None:
        if not self._port_ok(args["port"]):
            return call.error_only(PORT_RANGE)  # checked before the lookup (unit test InvalidPort)
        sock = self._find(args)
        if sock is None:
            return call.reply(-1, last_error=NOT_FOUND)
        rule = "tcp-connect" if sock.kind == "tcp" else "udp-send-to"
        if not self.allows(rule, args["hostname"], args["port"]):
            return call.reply(-1, last_error=NO_PERMISSION)
        sock.connect(call, args["hostname"], args["port"])

    def op_bind(self, call: PendingCall, args: dict) -> None:
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

    def op_disconnect(self, call: PendingCall, args: dict) -> None:
        sock = self._find(args)
        if sock is not None:
            sock.disconnect()
        call.reply()

    def op_read(self, call: PendingCall, args: dict) -> None:
        sock = self._find(args)
        if sock is None:
            return call.reply({"resultCode": -1, "data": ""}, last_error=NOT_FOUND)
        if sock.kind == "tcp":
            sock.read(call, args.get("bufferSize"), bool(args.get("stream")))
        else:
            sock.read(call, args.get("bufferSize"))

    def op_write(self, call: PendingCall, args: dict) -> None:
        data = args["data"]
        # The write quota is checked first, before the socket lookup (socket_api.cc SocketWriteFunction).
        if not self.quota_allows(len(data)):
            return call.error_only(QUOTA_EXCEEDED)
        sock = self._find(args)
        if sock is None:
            return call.reply({"bytesWritten": -1}, last_error=NOT_FOUND)
        call.lazy = args.get("behind") is True
        sock.write(call, data)

    def op_recvFrom(self, call: PendingCall, args: dict) -> None:
        sock = self._find(args)
        if sock is None or sock.kind != "udp":
            # Quirk copied: a TCP socket is "not found" here (socket_api.cc GetUdpSocket).
            return call.reply({"resultCode": -1, "data": "", "address": "", "port": 0}, last_error=NOT_FOUND)
        sock.recv_from(call, args.get("bufferSize"))

    def op_sendTo(self, call: PendingCall, args: dict) -> None:
        if not self._port_ok(args["port"]):
            return call.error_only(PORT_RANGE)
        sock = self._find(args)
        if sock is None:
            return call.reply(-1, last_error=NOT_FOUND)  # quirk copied: a bare number
        if sock.kind == "udp" and not self.allows("udp-send-to", args["address"], args["port"]):
            return call.reply(-1, last_error=NO_PERMISSION)
        sock.send_to(call, args["data"], args["address"], args["port"])

    def op_listen(self, call: PendingCall, args: dict) -> None:
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

    def op_accept(self, call: PendingCall, args: dict) -> None:
        sock = self._find(args)
        if sock is None:
            return call.reply({"resultCode": -2}, last_error=NOT_FOUND)
        if sock.kind != "tcp":
            return call.reply({"resultCode": -2})
        sock.accept(call)

    def op_setKeepAlive(self, call: PendingCall, args: dict) -> None:
        sock = self._find(args)
        if sock is None:
            return call.reply(False, last_error=NOT_FOUND)
        delay = args.get("delay")
        call.reply(sock.set_keep_alive(args["enable"], 0 if delay is None else delay))

    def op_setNoDelay(self, call: PendingCall, args: dict) -> None:
        sock = self._find(args)
        if sock is None:
            return call.reply(False, last_error=NOT_FOUND)
        call.reply(sock.set_no_delay(args["noDelay"]))

    def op_getInfo(self, call: PendingCall, args: dict) -> None:
        sock = self._find(args)
        if sock is None:
            return call.error_only(NOT_FOUND)
        call.reply(sock.info())

    def op_getNetworkList(self, call: PendingCall, args: dict) -> None:
        from resocket.engine import netlist  # ctypes: imported when first asked, not at start-up

        try:
            interfaces = netlist.network_list()
        except OSError:
            log.warning("getNetworkList failed", exc_info=True)
            return call.error_only(NETWORK_LIST_FAILED)
        call.reply(interfaces)

    def _multicast_socket(self, call: PendingCall, args: dict, *, permission: bool) -> UdpSocket | None:
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

    def op_joinGroup(self, call: PendingCall, args: dict) -> None:
        sock = self._multicast_socket(call, args, permission=True)
        if sock is not None:
            sock.join_group(call, args["address"])

    def op_leaveGroup(self, call: PendingCall, args: dict) -> None:
        sock = self._multicast_socket(call, args, permission=True)
        if sock is not None:
            sock.leave_group(call, args["address"])

    def op_setMulticastTimeToLive(self, call: PendingCall, args: dict) -> None:
        sock = self._multicast_socket(call, args, permission=False)
        if sock is not None:
            sock.set_multicast_ttl(call, args["ttl"])

    def op_setMulticastLoopbackMode(self, call: PendingCall, args: dict) -> None:
        sock = self._multicast_socket(call, args, permission=False)
        if sock is not None:
            sock.set_multicast_loopback(call, args["enabled"])

    def op_getJoinedGroups(self, call: PendingCall, args: dict) -> None:
        sock = self._multicast_socket(call, args, permission=True)
        if sock is not None:
            call.reply(list(sock.groups))

    def op_secure(self, call: PendingCall, args: dict) -> None:
        sock = self._find(args)
        if sock is None:
            return call.reply(-4, last_error=NOT_FOUND)
        if sock.kind != "tcp" or sock.is_tls:
            return call.reply(-4, last_error=TLS_TCP_ONLY)
        sock.secure(call, args.get("options") or {}, bool(args.get("readPending")))


#: chrome.socket's operations (wire/protocol.py OPERATIONS; hello and ping are the session's) -> their
#: handler, `Engine.op_<name>`; one missing fails at import. chrome.sockets.* has its own (sockets_api.HANDLERS).
HANDLERS: dict[str, Callable[[Engine, PendingCall, dict], None]] = {
    op: getattr(Engine, f"op_{op}") for op in OPERATIONS if op not in ("hello", "ping")}
