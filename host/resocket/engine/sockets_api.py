"""chrome.sockets.tcp, chrome.sockets.tcpServer and chrome.sockets.udp on the engine's loop.

Design rules:
- The OS work is chrome.socket's: `TcpSocket` and `UdpSocket` (tcp.py, udp.py) connect, listen, send,
  secure and join groups; this module adds what chrome.sockets.* has on top: three id tables (each
  namespace numbers its own ids from 1), SocketProperties, paused state, push-style receive and the
  results in chrome.sockets' shapes (docs/compatibility.md, "chrome.sockets": every shape there was
  observed in Chromium 156).
- Receiving is pushed as event frames `{"event": "tcp.onReceive", "args": [info]}` (docs/protocol.md).
  Flow control: a socket reads from the OS only while it is not paused *and* fewer than WINDOW of its
  onReceive / onAccept events are unacknowledged (`sockets.ack`). A paused socket, or a page that does
  not keep up, therefore leaves the bytes in the kernel, and TCP's own flow control stops the peer:
  the host never buffers more than one read per socket.
- A read that is already waiting when the app pauses still delivers (Chrome 156 does the same: pausing
  takes effect at the next read); so does an accept that is already waiting.
- A receive error (EOF included) sends onReceiveError and pauses the socket, as Chrome does.
- Results reuse the chrome.socket code through `_Shaped`, a call whose replies are reshaped into
  chrome.sockets' values and lastError ("net::ERR_..." wherever the result is negative).
"""
from __future__ import annotations

import asyncio
import json
import logging
import socket
from dataclasses import dataclass
from typing import Any, Callable

from resocket.chrome.hostnames import format_ip
from resocket.chrome.iplit import parse_ip_literal
from resocket.chrome.netcodes import NetError, net_error_string
from resocket.engine.oserrors import from_exception
from resocket.engine.ossocket import OsSocket
from resocket.engine.resolver import DNS_QUERY_FAMILIES
from resocket.engine.services import PendingCall, SocketServices
from resocket.engine.tcp import TcpSocket, _set_nodelay
from resocket.engine.udp import MAX_BUFFER_SIZE, RECV_SIZE, UdpSocket
from resocket.wire.framing import RawJSON
from resocket.wire.protocol import BAD_ARGS, SOCKETS_OPERATIONS, TOO_MANY_SOCKETS, encode_base64, error_reply

log = logging.getLogger(__name__)

# -- Chrome's messages (Chromium 156, docs/compatibility.md "chrome.sockets") -----------------------------
NOT_FOUND = "Socket not found"
NOT_CONNECTED = "Socket not connected"
#: sockets_tcp_api.cc / sockets_tcp_server_api.cc kPermissionError
TCP_PERMISSION = "Does not have permission"
#: sockets_udp_api.cc uses the chrome.socket text
UDP_PERMISSION = "App does not have permission"

#: socket.idl / sockets_*.idl: bufferSize defaults to 4096.
DEFAULT_BUFFER_SIZE = 4096
#: SocketProperties.name: Chrome takes any length, but getInfo/getSockets must fit Chrome's 1 MiB frame to the page.
MAX_NAME = 64 * 1024
#: Raw bytes per onReceive event at most: 48 KiB -> 64 KiB of base64, so every event frame stays below
#: 70 KB like the read replies (docs/protocol.md). A larger bufferSize gives more events, never lost bytes.
MAX_EVENT_DATA = 48 * 1024
#: Unacknowledged onReceive/onAccept events per socket before the host stops reading from the OS. 8
#: events of up to 48 KiB keep a fast page busy (measured: no throughput gain beyond 8) while bounding
#: what the browser side may hold per socket to 384 KiB.
WINDOW = 8
MAX_PORT_MASK = 0xFFFF  # Chromium 156 wraps ports to 16 bits (connect/bind/listen/send on 70000 -> 4464)

API_NAMES = ("tcp", "tcpServer", "udp")


def _net_error(code: int) -> str | None:
    return net_error_string(code) if code < 0 else None


@dataclass
class Entry:
    """One chrome.sockets socket: its properties and flow state around the OS socket object."""

    api: str
    id: int
    sock: Any  # StreamSocket, DatagramSocket, or (tcpServer) the listening TcpSocket or None
    persistent: bool = False
    name: str | None = None
    buffer_size: int | None = None
    paused: bool = False
    unacked: int = 0
    accepting: asyncio.Task | None = None
    receiving: asyncio.Task | None = None

    @property
    def read_size(self) -> int:
        size = DEFAULT_BUFFER_SIZE if not self.buffer_size or self.buffer_size < 0 else self.buffer_size
        return size

    def may_read(self) -> bool:
        return not self.paused and self.unacked < WINDOW

    def base_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"socketId": self.id, "persistent": self.persistent}
        if self.name is not None:
            info["name"] = self.name
        if self.buffer_size is not None and self.api != "tcpServer":
            info["bufferSize"] = self.buffer_size
        info["paused"] = self.paused
        return info


class _Shaped:
    """A PendingCall whose replies are reshaped by `shape(args, last_error) -> (args, last_error)`."""

    lazy = False  # chrome.sockets' tcp.send has no write-behind (PendingCall.lazy)

    def __init__(self, call: PendingCall, shape: Callable[[tuple, str | None], tuple[list, str | None]],
                 pipe: bool = False) -> None:
        self.call, self.shape = call, shape
        #: a tcp.send: called back once its bytes fit in the socket's pipe (TcpSocket._answer_in_pipe)
        self.pipe = pipe
        self.early = False  # ... and it was, before the OS took them

    @property
    def id(self) -> int:
        return self.call.id

    @property
    def done(self) -> bool:
        return self.call.done

    @done.setter
    def done(self, value: bool) -> None:
        self.call.done = value

    def reply(self, *args: Any, last_error: str | None = None) -> None:
        values, error = self.shape(args, last_error)
        self.call.reply(*values, last_error=error)

    def error_only(self, last_error: str) -> None:
        self.call.error_only(last_error)

    def answer(self, value: Any, quiet: bool) -> None:
        """As PendingCall.answer: a connect or secure cut short by tcp.disconnect (quiet: by tcp.close)."""
        if quiet:
            self.done = True
        else:
            self.reply(value)

    def reply_written(self, n: int, sock: Any = None) -> None:  # chrome.sockets.tcp.send has no write-behind
        self.reply({"bytesWritten": n})

    def reply_data(self, data: bytes, **extra: Any) -> None:  # never used: receiving is pushed
        raise AssertionError("chrome.sockets calls get no data replies")


def _code_result(args: tuple, last_error: str | None) -> tuple[list, str | None]:
    """chrome.socket's `[code]` (maybe with its own lastError) -> chrome.sockets' `[code]` + "net::ERR_..."."""
    code = int(args[0]) if args else 0
    return [code], _net_error(code)


def _send_result(args: tuple, last_error: str | None) -> tuple[list, str | None]:
    """`{bytesWritten: n}` or a bare code -> `{resultCode: 0, bytesSent: n}` / `{resultCode: code}` + lastError."""
    value = args[0] if args else NetError.FAILED
    written = int(value["bytesWritten"] if isinstance(value, dict) else value)
    if written < 0:
        return [{"resultCode": written}], net_error_string(written)
    return [{"resultCode": 0, "bytesSent": written}], None


class StreamSocket(TcpSocket):
    """A chrome.sockets.tcp socket: reads run continuously (push) while the entry lets them."""

    entry: Entry
    api: SocketsApi

    def _new_receiver(self) -> None:
        super()._new_receiver()
        self.api.flow(self.entry)

    def _forget(self) -> None:
        self.api.tables["tcp"].pop(self.id, None)

    def _on_data(self, data: bytes) -> None:
        self.api.push_data("tcp.onReceive", self.entry, data)

    def _on_end(self, exc: BaseException | None) -> None:
        # Every end of the read side is -100, a reset included: Chromium's extensions TCPSocket reads a mojo
        # data pipe, which only ends (result 0), and TCPSocketEventDispatcher turns 0 into
        # ERR_CONNECTION_CLOSED (golden/chrome/sockets_server.json: a connection reset in the backlog).
        code = NetError.CONNECTION_CLOSED
        if exc is not None:
            log.debug("tcp socket %s read error: %s", self.id, exc)
        self.receiver = None
        self._teardown(NetError.CONNECTION_CLOSED)
        self.api.receive_error("tcp.onReceiveError", self.entry, code)


class DatagramSocket(UdpSocket):
    """A chrome.sockets.udp socket: once bound, datagrams are pushed while the entry lets them."""

    entry: Entry
    api: SocketsApi

    def start_receiving(self) -> None:
        entry = self.entry
        if entry.receiving is None and self.os_socket is not None and entry.may_read():
            entry.receiving = self.engine.spawn(self._push(self.os_socket, self.epoch))

    async def _push(self, os_socket: Any, epoch: int) -> None:
        # Like Chrome's one outstanding RecvFrom: once waiting, the read is not withdrawn when the app pauses
        # (Chrome 156 delivers one more datagram after setPaused(true)); the state is checked after each one.
        entry = self.entry
        try:
            while epoch == self.epoch:
                try:
                    data, address = os_socket.sock.recvfrom(RECV_SIZE)
                except (BlockingIOError, InterruptedError):
                    try:
                        await os_socket.readable()
                    except OSError:
                        return
                    continue
                except OSError as exc:
                    self.api.receive_error("udp.onReceiveError", entry, from_exception(exc))
                    return
                if len(data) > min(entry.read_size, MAX_BUFFER_SIZE):
                    # net::UDPSocketPosix reports a datagram larger than the buffer as ERR_MSG_TOO_BIG.
                    self.api.receive_error("udp.onReceiveError", entry, NetError.MSG_TOO_BIG)
                    return
                self.api.push_data("udp.onReceive", entry, data,
                                   remoteAddress=_ip(address), remotePort=address[1])
                if not entry.may_read():
                    return
        finally:
            if entry.receiving is asyncio.current_task():
                entry.receiving = None


def _ip(address: Any) -> str:
    return format_ip(address[0])


class SocketsApi:
    """The three chrome.sockets namespaces of one client."""

    def __init__(self, engine: SocketServices) -> None:
        self.engine = engine
        self.tables: dict[str, dict[int, Entry]] = {api: {} for api in API_NAMES}
        self._next = dict.fromkeys(API_NAMES, 1)  # each namespace numbers its own ids from 1

    # -- plumbing ---------------------------------------------------------------------------------------
    def count(self) -> int:
        return sum(len(table) for table in self.tables.values())

    def dispatch(self, call: PendingCall, op: str, args: dict) -> None:
        handler = HANDLERS.get(op)
        if handler is None:
            raise ValueError(f"engine has no operation {op!r}")
        handler(self, call, args)

    def close_all(self) -> None:
        for table in self.tables.values():
            for entry in list(table.values()):
                self._destroy(entry, quiet=True)
            table.clear()

    def _new_entry(self, call: PendingCall, api: str, args: dict) -> Entry | None:
        if not self.engine.room_for_socket():
            call.done = True
            self.engine.output.emit(error_reply(call.id, TOO_MANY_SOCKETS,
                                         f"{api}.create: this client already has {self.engine.max_sockets} sockets"))
            return None
        entry = Entry(api, self._next[api], None)
        if not self._apply_properties(call, entry, args.get("properties") or {}):
            return None
        self._next[api] += 1
        self.tables[api][entry.id] = entry
        return entry

    def _apply_properties(self, call: PendingCall, entry: Entry, props: dict) -> bool:
        """SocketProperties: persistent (boolean), name (string), bufferSize (integer; not for tcpServer)."""
        checks = {"persistent": bool, "name": str, "bufferSize": int}
        for key, kind in checks.items():
            value = props.get(key)
            if value is None:
                continue
            if kind is int and isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                call.done = True
                self.engine.output.emit(error_reply(call.id, BAD_ARGS,
                                             f"properties.{key} must be a {kind.__name__}, not {json.dumps(value)[:40]}"))
                return False
        if len(props.get("name") or "") > MAX_NAME:
            call.done = True
            self.engine.output.emit(error_reply(call.id, BAD_ARGS, f"properties.name is longer than {MAX_NAME} characters"))
            return False
        if props.get("persistent") is not None:
            entry.persistent = props["persistent"]
        if props.get("name") is not None:
            entry.name = props["name"]
        if props.get("bufferSize") is not None and entry.api != "tcpServer":
            entry.buffer_size = int(props["bufferSize"])
            self.flow(entry)
        return True

    def _find(self, call: PendingCall, api: str, args: dict, *, missing: Callable[[PendingCall], None] | None = None) -> Entry | None:
        entry = self.tables[api].get(args["socketId"])
        if entry is None:
            if missing is None:
                call.error_only(NOT_FOUND)
            else:
                missing(call)
        return entry

    def _destroy(self, entry: Entry, *, quiet: bool = False) -> None:
        for task in (entry.accepting, entry.receiving):
            if task is not None:
                task.cancel()
        entry.accepting = entry.receiving = None
        if entry.sock is not None:
            entry.sock.destroy(quiet=quiet)

    # -- events and flow control ----------------------------------------------------------------------
    def emit_event(self, name: str, info: dict) -> None:
        self.engine.output.emit({"event": name, "args": [info]})

    def push_data(self, name: str, entry: Entry, data: bytes, **extra: Any) -> None:
        """One onReceive event (built by hand: json.dumps would scan every base64 character)."""
        entry.unacked += 1
        tail = "".join(f",{json.dumps(k)}:{json.dumps(v)}" for k, v in extra.items())
        text = encode_base64(data)
        self.engine.output.emit(RawJSON(
            f'{{"event":"{name}","args":[{{"socketId":{entry.id},"data":"{text}"{tail}}}]}}', None))
        self.flow(entry)

    def receive_error(self, name: str, entry: Entry, code: int) -> None:
        entry.paused = True  # Chrome: no further reads after an error, until setPaused(false)
        self.flow(entry)
        self.emit_event(name, {"socketId": entry.id, "resultCode": int(code)})

    def flow(self, entry: Entry) -> None:
        """Start or stop reading from the OS to match paused and the unacknowledged window."""
        sock = entry.sock
        if entry.api == "tcp":
            receiver = getattr(sock, "receiver", None)
            if receiver is None:
                return
            if entry.may_read():
                receiver.resume()
                receiver.run(min(entry.read_size, MAX_EVENT_DATA))
            else:
                receiver.pause()
        elif entry.api == "udp":
            if sock is not None and entry.may_read():
                sock.start_receiving()
        elif (entry.api == "tcpServer" and entry.may_read() and entry.accepting is None
              and sock is not None and sock.os_socket is not None):
            entry.accepting = self.engine.spawn(self._accept_loop(entry, sock))

    def sockets_ack(self, call: PendingCall, args: dict) -> None:
        entry = self.tables[args["api"]].get(args["socketId"])
        if entry is not None:
            entry.unacked = max(0, entry.unacked - max(0, args["count"]))
            self.flow(entry)
        call.reply()

    def _set_paused(self, call: PendingCall, api: str, args: dict) -> None:
        entry = self._find(call, api, args)
        if entry is not None:
            entry.paused = args["paused"]
            self.flow(entry)
            call.reply()

    def _update(self, call: PendingCall, api: str, args: dict) -> None:
        entry = self._find(call, api, args)
        if entry is not None and self._apply_properties(call, entry, args["properties"]):
            call.reply()

    def _get_sockets(self, call: PendingCall, api: str, info: Callable[[Entry], dict]) -> None:
        call.reply([info(entry) for _, entry in sorted(self.tables[api].items())])

    def _close(self, call: PendingCall, api: str, args: dict) -> None:
        entry = self.tables[api].pop(args["socketId"], None)
        if entry is None:
            return call.error_only(NOT_FOUND)
        self._destroy(entry)
        call.reply()

    # -- chrome.sockets.tcp -----------------------------------------------------------------------------
    def _stream(self, entry: Entry) -> StreamSocket:
        sock = StreamSocket(self.engine, entry.id)
        sock.entry, sock.api = entry, self
        return sock

    def tcp_create(self, call: PendingCall, args: dict) -> None:
        entry = self._new_entry(call, "tcp", args)
        if entry is not None:
            entry.sock = self._stream(entry)
            call.reply({"socketId": entry.id})

    def tcp_update(self, call: PendingCall, args: dict) -> None:
        self._update(call, "tcp", args)

    def tcp_setPaused(self, call: PendingCall, args: dict) -> None:
        self._set_paused(call, "tcp", args)

    def tcp_info(self, entry: Entry) -> dict:
        info = entry.base_info()
        info.update(entry.sock.info())
        info.pop("socketType", None)
        return info

    def tcp_getInfo(self, call: PendingCall, args: dict) -> None:
        entry = self._find(call, "tcp", args)
        if entry is not None:
            call.reply(self.tcp_info(entry))

    def tcp_getSockets(self, call: PendingCall, args: dict) -> None:
        self._get_sockets(call, "tcp", self.tcp_info)

    def tcp_connect(self, call: PendingCall, args: dict) -> None:
        entry = self._find(call, "tcp", args)
        if entry is None:
            return
        host, port = args["peerAddress"], args["peerPort"] & MAX_PORT_MASK
        if not self.engine.allows("tcp-connect", host, port):
            return call.error_only(TCP_PERMISSION)
        entry.sock.connect(_Shaped(call, _code_result), host, port, DNS_QUERY_FAMILIES.get(args.get("dnsQueryType")))

    def tcp_disconnect(self, call: PendingCall, args: dict) -> None:
        entry = self._find(call, "tcp", args)
        if entry is None:
            return
        sock = entry.sock
        receiving = sock.connected and sock.receiver is not None and entry.may_read()
        sock.disconnect()
        if receiving:
            # Chrome 156: the read in progress fails with -100 (onReceiveError, and the socket pauses).
            self.receive_error("tcp.onReceiveError", entry, NetError.CONNECTION_CLOSED)
        call.reply()

    def tcp_close(self, call: PendingCall, args: dict) -> None:
        self._close(call, "tcp", args)

    def tcp_send(self, call: PendingCall, args: dict) -> None:
        entry = self._find(call, "tcp", args)
        if entry is not None:
            entry.sock.write(_Shaped(call, _send_result, pipe=True), args["data"])

    def tcp_setKeepAlive(self, call: PendingCall, args: dict) -> None:
        entry = self._find(call, "tcp", args, missing=lambda c: c.reply(NetError.FAILED, last_error=NOT_FOUND))
        if entry is not None:
            delay = args.get("delay")
            ok = entry.sock.set_keep_alive(args["enable"], 0 if delay is None else delay)
            call.reply(0 if ok else NetError.FAILED, last_error=None if ok else net_error_string(NetError.FAILED))

    def tcp_setNoDelay(self, call: PendingCall, args: dict) -> None:
        entry = self._find(call, "tcp", args, missing=lambda c: c.reply(NetError.FAILED, last_error=NOT_FOUND))
        if entry is not None:
            ok = entry.sock.set_no_delay(args["noDelay"])
            call.reply(0 if ok else NetError.FAILED, last_error=None if ok else net_error_string(NetError.FAILED))

    def tcp_secure(self, call: PendingCall, args: dict) -> None:
        entry = self._find(call, "tcp", args,
                           missing=lambda c: c.reply(NetError.INVALID_ARGUMENT, last_error=NOT_FOUND))
        if entry is None:
            return
        sock = entry.sock
        if not sock.connected:
            return call.reply(NetError.INVALID_ARGUMENT, last_error=NOT_CONNECTED)
        if sock.is_tls:
            # Chrome 156 (golden/chrome/sockets_tls.json): secure() again on a TLS socket, paused or not.
            return call.reply(NetError.INVALID_ARGUMENT, last_error="Socket must be a connected client TCP socket.")
        reading = sock.receiver is not None and sock.receiver.reading
        if not entry.paused or reading or sock.secure_call is not None:
            # Chrome 156: secure() needs a paused socket with no read in progress; otherwise it fails with -2
            # and removes the socket, and the read in progress ends with onReceiveError -100. Pausing after
            # connect leaves the read that started at connect in progress (sockets_secure_reading). A secure()
            # still in flight fails the same way and is never called back (sockets_secure_twice).
            self.tables["tcp"].pop(entry.id, None)
            self._destroy(entry)
            call.reply(NetError.FAILED, last_error=net_error_string(NetError.FAILED))
            if reading:
                self.emit_event("tcp.onReceiveError", {"socketId": entry.id, "resultCode": NetError.CONNECTION_CLOSED})
            return
        sock.secure(call, args.get("options") or {})

    # -- chrome.sockets.tcpServer -----------------------------------------------------------------------
    def tcpServer_create(self, call: PendingCall, args: dict) -> None:
        entry = self._new_entry(call, "tcpServer", args)
        if entry is not None:
            call.reply({"socketId": entry.id})

    def tcpServer_update(self, call: PendingCall, args: dict) -> None:
        self._update(call, "tcpServer", args)

    def tcpServer_setPaused(self, call: PendingCall, args: dict) -> None:
        self._set_paused(call, "tcpServer", args)

    def server_info(self, entry: Entry) -> dict:
        info = entry.base_info()
        if entry.sock is not None and entry.sock.os_socket is not None and entry.sock.local is not None:
            info["localAddress"], info["localPort"] = entry.sock.local
        return info

    def tcpServer_getInfo(self, call: PendingCall, args: dict) -> None:
        entry = self._find(call, "tcpServer", args)
        if entry is not None:
            call.reply(self.server_info(entry))

    def tcpServer_getSockets(self, call: PendingCall, args: dict) -> None:
        self._get_sockets(call, "tcpServer", self.server_info)

    def tcpServer_listen(self, call: PendingCall, args: dict) -> None:
        entry = self._find(call, "tcpServer", args)
        if entry is None:
            return
        address, port = args["address"], args["port"] & MAX_PORT_MASK
        if not self.engine.allows("tcp-listen", address, port):
            return call.error_only(TCP_PERMISSION)
        if parse_ip_literal(address) is None:
            # Chrome 156: -4 before touching the socket; a listener already there keeps listening.
            code = NetError.INVALID_ARGUMENT
            return call.reply(code, last_error=net_error_string(code))
        # Chrome 156: listen on a listening socket listens anew (the old listener is closed); the accept in
        # progress on the old one ends with onAcceptError -2, which pauses the server (sockets_server).
        accepting = entry.accepting is not None
        self._stop_listening(entry)
        if accepting:
            self.receive_error("tcpServer.onAcceptError", entry, NetError.FAILED)
        sock = TcpSocket(self.engine, entry.id)
        entry.sock = sock
        backlog = args.get("backlog")
        sock.listen(_Shaped(call, _code_result), address, port, socket.SOMAXCONN if backlog is None else backlog)
        self.flow(entry)

    def _stop_listening(self, entry: Entry) -> None:
        if entry.accepting is not None:
            entry.accepting.cancel()
            entry.accepting = None
        if entry.sock is not None:
            entry.sock.destroy(quiet=True)
            entry.sock = None

    def tcpServer_disconnect(self, call: PendingCall, args: dict) -> None:
        entry = self._find(call, "tcpServer", args)
        if entry is not None:
            self._stop_listening(entry)
            call.reply()

    def tcpServer_close(self, call: PendingCall, args: dict) -> None:
        self._close(call, "tcpServer", args)

    async def _accept_loop(self, entry: Entry, listener: TcpSocket) -> None:
        os_socket = listener.os_socket
        try:
            while entry.may_read() and entry.sock is listener and os_socket is not None and not os_socket.closed:
                try:
                    conn, addr = await os_socket.accept()
                except asyncio.CancelledError:
                    raise
                except OSError as exc:
                    if entry.sock is listener and not os_socket.closed:
                        self.receive_error("tcpServer.onAcceptError", entry, from_exception(exc))
                    return
                if entry.sock is not listener:
                    conn.close()
                    return
                client = self._accepted(conn, addr)
                if client is None:
                    conn.close()
                    continue
                entry.unacked += 1
                self.emit_event("tcpServer.onAccept", {"socketId": entry.id, "clientSocketId": client.id})
        finally:
            if entry.accepting is asyncio.current_task():
                entry.accepting = None

    def _accepted(self, conn: socket.socket, addr: Any) -> Entry | None:
        """An accepted connection joins chrome.sockets.tcp, paused (sockets_tcp_server.idl, onAccept)."""
        if not self.engine.room_for_socket():
            log.warning("accepted connection closed: socket cap %d reached", self.engine.max_sockets)
            return None
        entry = Entry("tcp", self._next["tcp"], None, paused=True)
        self._next["tcp"] += 1
        sock = self._stream(entry)
        entry.sock = sock
        sock.mode = "client"
        try:
            _set_nodelay(conn)
            # Quirk copied: like chrome.socket, an accepted socket reports no localAddress.
            sock._attach(OsSocket(self.engine.loop, conn), peer=(_ip(addr), addr[1]), local=None)
        except OSError:
            return None
        self.tables["tcp"][entry.id] = entry
        return entry

    # -- chrome.sockets.udp -----------------------------------------------------------------------------
    def udp_create(self, call: PendingCall, args: dict) -> None:
        entry = self._new_entry(call, "udp", args)
        if entry is not None:
            sock = DatagramSocket(self.engine, entry.id)
            sock.entry, sock.api = entry, self
            entry.sock = sock
            call.reply({"socketId": entry.id})

    def udp_update(self, call: PendingCall, args: dict) -> None:
        self._update(call, "udp", args)

    def udp_setPaused(self, call: PendingCall, args: dict) -> None:
        self._set_paused(call, "udp", args)

    def udp_info(self, entry: Entry) -> dict:
        info = entry.base_info()
        if entry.sock.local is not None:
            info["localAddress"], info["localPort"] = entry.sock.local
        return info

    def udp_getInfo(self, call: PendingCall, args: dict) -> None:
        entry = self._find(call, "udp", args)
        if entry is not None:
            call.reply(self.udp_info(entry))

    def udp_getSockets(self, call: PendingCall, args: dict) -> None:
        self._get_sockets(call, "udp", self.udp_info)

    def udp_close(self, call: PendingCall, args: dict) -> None:
        self._close(call, "udp", args)

    def udp_bind(self, call: PendingCall, args: dict) -> None:
        entry = self._find(call, "udp", args)
        if entry is None:
            return
        address, port = args["address"], args["port"] & MAX_PORT_MASK
        if not self.engine.allows("udp-bind", address, port):
            return call.error_only(UDP_PERMISSION)
        entry.sock.bind(_Shaped(call, _code_result), address, port)
        self.flow(entry)

    def udp_send(self, call: PendingCall, args: dict) -> None:
        entry = self._find(call, "udp", args)
        if entry is None:
            return
        address, port = args["address"], args["port"] & MAX_PORT_MASK
        if not self.engine.allows("udp-send-to", address, port):
            return call.error_only(UDP_PERMISSION)
        entry.sock.send_to(_Shaped(call, _send_result), args["data"], address, port,
                           DNS_QUERY_FAMILIES.get(args.get("dnsQueryType")))

    def _multicast(self, call: PendingCall, args: dict, *, permission: bool) -> DatagramSocket | None:
        entry = self._find(call, "udp", args)
        if entry is None:
            return None
        if permission and not self.engine.allows("udp-multicast-membership", "", 0):
            call.error_only(UDP_PERMISSION)
            return None
        return entry.sock

    def udp_joinGroup(self, call: PendingCall, args: dict) -> None:
        sock = self._multicast(call, args, permission=True)
        if sock is not None:
            sock.join_group(_Shaped(call, _code_result), args["address"])

    def udp_leaveGroup(self, call: PendingCall, args: dict) -> None:
        sock = self._multicast(call, args, permission=True)
        if sock is not None:
            sock.leave_group(_Shaped(call, _code_result), args["address"])

    def udp_setMulticastTimeToLive(self, call: PendingCall, args: dict) -> None:
        sock = self._multicast(call, args, permission=False)
        if sock is not None:
            sock.set_multicast_ttl(_Shaped(call, _code_result), args["ttl"])

    def udp_setMulticastLoopbackMode(self, call: PendingCall, args: dict) -> None:
        sock = self._multicast(call, args, permission=False)
        if sock is not None:
            sock.set_multicast_loopback(_Shaped(call, _code_result), args["enabled"])

    def udp_getJoinedGroups(self, call: PendingCall, args: dict) -> None:
        sock = self._multicast(call, args, permission=True)
        if sock is not None:
            call.reply(list(sock.groups))

    def udp_setBroadcast(self, call: PendingCall, args: dict) -> None:
        entry = self._find(call, "udp", args)
        if entry is None:
            return
        sock = entry.sock
        if not sock.bound or sock.os_socket is None:
            code = NetError.SOCKET_NOT_CONNECTED
            return call.reply(code, last_error=net_error_string(code))
        try:
            sock.os_socket.sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1 if args["enabled"] else 0)
        except OSError as exc:
            code = from_exception(exc)
            return call.reply(code, last_error=net_error_string(code))
        call.reply(NetError.OK)


#: chrome.sockets' operations (wire/protocol.py SOCKETS_OPERATIONS) -> their handler, `SocketsApi.<api>_<name>`;
#: one missing fails at import.
HANDLERS: dict[str, Callable[[SocketsApi, PendingCall, dict], None]] = {
    op: getattr(SocketsApi, op.replace(".", "_")) for op in SOCKETS_OPERATIONS}
