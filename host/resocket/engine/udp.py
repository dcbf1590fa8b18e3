"""UDP sockets with Chrome's rules (extensions/browser/api/socket/udp_socket.cc, services/network/udp_socket.cc).

Design rules:
- `bound` (bind) and `connected` (connect) are separate, as in Chrome: read/write need connect,
  recvFrom/sendTo need bind; a socket that did either refuses the other (-104) until disconnect.
- Two pending receive slots, read first (a datagram goes to a pending read before a pending recvFrom);
  one datagram per reply; a datagram larger than the slot's bufferSize is dropped with -142.
- Multicast TTL / loopback are stored and applied at the next bind or connect; the first bind or
  connect attempt uses them up for good (later setters -> -23, even after disconnect: quirk copied).
- Sends go out at once when the kernel takes them; otherwise they queue (at most 32, Chrome's
  kMaxPendingSendRequests) behind a writer coroutine. sendTo resolves names in issue order.
"""
from __future__ import annotations

import asyncio
import collections
import socket
import struct
from typing import Any

from resocket.chrome.hostnames import format_ip
from resocket.chrome.iplit import parse_ip_literal
from resocket.chrome.messages import DNS_FAILED, QUOTA_EXCEEDED
from resocket.chrome.netcodes import NetError, net_error_string
from resocket.engine.oserrors import from_exception
from resocket.engine.ossocket import OsSocket
from resocket.engine.resolver import DnsError
from resocket.engine.services import PendingCall, SocketServices

DEFAULT_BUFFER_SIZE = 4096
MAX_BUFFER_SIZE = 64 * 1024  # udp_socket.cc clamps the read buffer to 64 KiB
MAX_DATAGRAM = 65535  # Chrome rejects larger sends with ERR_MSG_TOO_BIG
MAX_QUEUED_SENDS = 32  # services/network/udp_socket.h kMaxPendingSendRequests
#: recvfrom size: one more than any slot can take, so a truncated datagram is recognised.
RECV_SIZE = MAX_BUFFER_SIZE + 1


def _err(code: int) -> str:
    return net_error_string(code)


class UdpSocket:
    kind = "udp"
    is_tls = False

    def __init__(self, engine: SocketServices, sid: int) -> None:
        self.engine, self.id = engine, sid
        self.loop = engine.loop
        self.os_socket: OsSocket | None = None
        self.bound = False
        self.connected = False
        self.connecting: PendingCall | None = None
        self.local: tuple[str, int] | None = None
        self.peer: tuple[str, int] | None = None
        self.groups: list[str] = []
        self.ttl = 1  # Chrome's default multicast TTL
        self.loopback = True  # Chrome's default: multicast loopback on
        self.options_used = False
        self.epoch = 0
        self.read_slot: tuple[PendingCall, int] | None = None
        self.recv_slot: tuple[PendingCall, int] | None = None
        self.receiver: asyncio.Task | None = None
        self.sends: collections.deque[tuple[PendingCall, bytes, Any]] = collections.deque()
        self.sender: asyncio.Task | None = None
        self.last_send_to: asyncio.Task | None = None

    # -- lifetime ---------------------------------------------------------------------------------
    def _close(self, read_code: int, quiet: bool) -> None:
        self.epoch += 1
        if self.connecting is not None:
            call, self.connecting = self.connecting, None
            call.answer(NetError.ABORTED, quiet)
        for task in (self.receiver, self.sender):
            if task is not None:
                task.cancel()
        self.receiver = self.sender = None
        # Chrome drops a pending UDP read without calling back; resocket answers it like recvFrom.
        for slot in (self.read_slot, self.recv_slot):
            if slot is not None:
                slot[0].answer(_recv_error(read_code, with_address=slot is self.recv_slot), quiet)
        self.read_slot = self.recv_slot = None
        while self.sends:
            call, data, _ = self.sends.popleft()
            self.engine.return_quota(len(data))
            call.answer({"bytesWritten": NetError.FAILED}, quiet)
        if self.os_socket is not None:
            self.os_socket.close()
            self.os_socket = None
        self.bound = self.connected = False
        self.local = self.peer = None
        self.groups = []

    def disconnect(self) -> None:
        # The IDL calls this a no-op; Chrome really closes the socket (quirk copied).
        self._close(NetError.CONNECTION_CLOSED, quiet=False)

    def destroy(self, quiet: bool = False) -> None:
        self._close(NetError.CONNECTION_CLOSED, quiet)

    def _open(self, family: int) -> OsSocket:
        """A new OS socket with the stored multicast options applied (they are used up either way)."""
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if family == socket.AF_INET:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, self.ttl)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, int(self.loopback))
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, self.ttl)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, int(self.loopback))
            return OsSocket(self.loop, sock)
        except OSError:
            sock.close()
            raise

    # -- connect / bind -----------------------------------------------------------------------------
    def connect(self, call: PendingCall, hostname: str, port: int) -> None:
        if self.bound or self.connected or self.connecting is not None:
            return call.reply(NetError.CONNECTION_FAILED)
        self.options_used = True
        self.connecting = call
        self.engine.spawn(self._connect(call, hostname, port, self.epoch), call)

    async def _connect(self, call: PendingCall, hostname: str, port: int, epoch: int) -> None:
        try:
            addresses = await self.engine.resolve(hostname, port, socket.SOCK_DGRAM)
        except DnsError as exc:
            if epoch == self.epoch:
                self.connecting = None
                call.reply(exc.code, last_error=DNS_FAILED)
            return
        if epoch != self.epoch:
            return
        self.connecting = None
        family, address = addresses[0]  # UDP uses only the first resolved address
        try:
            os_socket = self._open(family)
        except OSError as exc:
            return call.reply(from_exception(exc))
        try:
            os_socket.sock.connect(address)
            local = os_socket.sock.getsockname()
        except OSError as exc:
            os_socket.close()
            return call.reply(from_exception(exc))
        self.os_socket, self.connected = os_socket, True
        self.peer = (_ip(address), address[1])
        self.local = (_ip(local), local[1])
        call.reply(NetError.OK)

    def bind(self, call: PendingCall, address: str, port: int) -> None:
        if self.bound or self.connected or self.connecting is not None:
            return call.reply(NetError.CONNECTION_FAILED)
        ip = parse_ip_literal(address)
        if ip is None:
            return call.reply(NetError.INVALID_ARGUMENT)
        self.options_used = True
        try:
            os_socket = self._open(socket.AF_INET if ip.version == 4 else socket.AF_INET6)
        except OSError as exc:
            return call.reply(from_exception(exc))
        try:
            os_socket.sock.bind((str(ip), port))
            local = os_socket.sock.getsockname()
        except OSError as exc:
            os_socket.close()
            return call.reply(from_exception(exc))  # bind failures set no lastError (quirk copied)
        self.os_socket, self.bound = os_socket, True
        self.local = (_ip(local), local[1])
        call.reply(NetError.OK)

    # -- receiving ------------------------------------------------------------------------------------
    def read(self, call: PendingCall, size: int | None) -> None:
        size = DEFAULT_BUFFER_SIZE if size is None else size
        if self.read_slot is not None:
            return call.reply(_recv_error(NetError.IO_PENDING, with_address=False))
        if size < 0:
            return call.reply(_recv_error(NetError.INVALID_ARGUMENT, with_address=False))
        if not self.connected:
            return call.reply(_recv_error(NetError.SOCKET_NOT_CONNECTED, with_address=False))
        self.read_slot = (call, min(size, MAX_BUFFER_SIZE))
        self._kick_receiver()

    def recv_from(self, call: PendingCall, size: int | None) -> None:
        size = DEFAULT_BUFFER_SIZE if size is None else size
        if self.recv_slot is not None:
            return call.reply(_recv_error(NetError.IO_PENDING, with_address=True))
        if size < 0:
            return call.reply(_recv_error(NetError.INVALID_ARGUMENT, with_address=True))
        if not self.bound:
            return call.reply(_recv_error(NetError.SOCKET_NOT_CONNECTED, with_address=True))
        self.recv_slot = (call, min(size, MAX_BUFFER_SIZE))
        self._kick_receiver()

    def _kick_receiver(self) -> None:
        if self.receiver is None and self.os_socket is not None:
            self.receiver = self.engine.spawn(self._receive(self.os_socket, self.epoch))

    async def _receive(self, os_socket: OsSocket, epoch: int) -> None:
        while epoch == self.epoch and (self.read_slot is not None or self.recv_slot is not None):
            try:
                data, address = os_socket.sock.recvfrom(RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                try:
                    await os_socket.readable()
                except OSError:
                    return
                continue
            except OSError as exc:
                self._deliver_error(from_exception(exc))
                continue
            self._deliver(data, address)
        if epoch == self.epoch:
            self.receiver = None

    def _take_slot(self) -> tuple[PendingCall, int, bool] | None:
        if self.read_slot is not None:
            (call, size), self.read_slot = self.read_slot, None
            return call, size, False
        if self.recv_slot is not None:
            (call, size), self.recv_slot = self.recv_slot, None
            return call, size, True
        return None

    def _deliver_error(self, code: int) -> None:
        slot = self._take_slot()
        if slot is not None:
            slot[0].reply(_recv_error(code, with_address=slot[2]))

    def _deliver(self, data: bytes, address: Any) -> None:
        slot = self._take_slot()
        if slot is None:
            return
        call, size, with_address = slot
        if len(data) > size:
            # net::UDPSocketPosix reports a truncated datagram as ERR_MSG_TOO_BIG and drops it.
            return call.reply(_recv_error(NetError.MSG_TOO_BIG, with_address=with_address))
        if with_address:
            call.reply_data(data, address=_ip(address), port=address[1])
        else:
            call.reply_data(data)

    # -- sending --------------------------------------------------------------------------------------
    def write(self, call: PendingCall, data: bytes) -> None:
        if not self.connected:
            return call.reply({"bytesWritten": NetError.SOCKET_NOT_CONNECTED})
        self._send(call, data, None)

    def send_to(self, call: PendingCall, data: bytes, address: str, port: int, family: int | None = None) -> None:
        """`family`: the one address family to resolve `address` to (chrome.sockets' dnsQueryType), or any."""
        previous = self.last_send_to
        self.last_send_to = self.engine.spawn(
            self._send_to(call, data, address, port, family, previous, self.epoch), call)

    async def _send_to(self, call: PendingCall, data: bytes, host: str, port: int, family: int | None,
                       previous: asyncio.Task | None, epoch: int) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait([previous])  # keep sendTo results in issue order
        try:
            addresses = await self.engine.resolve(host, port, socket.SOCK_DGRAM, family)
        except DnsError as exc:
            return call.reply(exc.code, last_error=DNS_FAILED)  # a bare number (quirk copied)
        if not self.engine.quota_allows(len(data)):
            return call.error_only(QUOTA_EXCEEDED)
        if epoch != self.epoch or not self.bound or self.os_socket is None:
            return call.reply({"bytesWritten": NetError.SOCKET_NOT_CONNECTED})
        family, address = addresses[0]  # only the first resolved address, as Chrome
        own = self.os_socket.sock.family
        if family != own:
            if own == socket.AF_INET:
                # Chrome 156: an IPv6 address (localhost's ::1 included) from an IPv4 socket.
                return call.reply({"bytesWritten": NetError.ADDRESS_UNREACHABLE})
            address = ("::ffff:" + address[0], address[1], 0, 0)  # IPv4 from "::": v4-mapped, as Chrome
        self._send(call, data, address)

    def _send(self, call: PendingCall, data: bytes, address: Any) -> None:
        if len(data) > MAX_DATAGRAM:
            return call.reply({"bytesWritten": NetError.MSG_TOO_BIG})
        if len(self.sends) >= MAX_QUEUED_SENDS:
            return call.reply({"bytesWritten": NetError.INSUFFICIENT_RESOURCES})
        if not self.engine.take_quota(len(data)):
            return call.error_only(QUOTA_EXCEEDED)
        if not self.sends:
            result = self._try_send(data, address)
            if result is not None:
                self.engine.return_quota(len(data))
                return call.reply({"bytesWritten": result})
        self.sends.append((call, data, address))
        if self.sender is None and self.os_socket is not None:
            self.sender = self.engine.spawn(self._drain_sends(self.os_socket, self.epoch))

    def _try_send(self, data: bytes, address: Any) -> int | None:
        """bytesWritten, or None when the kernel has no room yet."""
        assert self.os_socket is not None
        try:
            if address is None:
                self.os_socket.sock.send(data)
            else:
                self.os_socket.sock.sendto(data, address)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            return from_exception(exc)
        return len(data)

    async def _drain_sends(self, os_socket: OsSocket, epoch: int) -> None:
        while self.sends and epoch == self.epoch:
            call, data, address = self.sends[0]
            result = self._try_send(data, address)
            if result is None:
                try:
                    await os_socket.writable()
                except OSError:
                    return
                continue
            self.sends.popleft()
            self.engine.return_quota(len(data))
            call.reply({"bytesWritten": result})
        if epoch == self.epoch:
            self.sender = None

    # -- multicast ------------------------------------------------------------------------------------
    def _membership(self, call: PendingCall, address: str, join: bool) -> None:
        ip = parse_ip_literal(address)
        if ip is None:
            return call.reply(NetError.ADDRESS_INVALID, last_error=_err(NetError.ADDRESS_INVALID))
        group = str(ip)
        if (group in self.groups) == join:
            # join: already joined; leave: never joined (checked before touching the OS).
            return call.reply(NetError.ADDRESS_INVALID, last_error=_err(NetError.ADDRESS_INVALID))
        if not self.bound or self.os_socket is None:
            return call.reply(NetError.UNEXPECTED, last_error=_err(NetError.UNEXPECTED))
        sock = self.os_socket.sock
        if (ip.version == 4) != (sock.family == socket.AF_INET):
            return call.reply(NetError.ADDRESS_INVALID, last_error=_err(NetError.ADDRESS_INVALID))
        try:
            if ip.version == 4:
                request = ip.packed + struct.pack("=I", socket.INADDR_ANY)
                option = socket.IP_ADD_MEMBERSHIP if join else socket.IP_DROP_MEMBERSHIP
                sock.setsockopt(socket.IPPROTO_IP, option, request)
            else:
                request = ip.packed + struct.pack("@I", 0)
                option = socket.IPV6_JOIN_GROUP if join else socket.IPV6_LEAVE_GROUP
                sock.setsockopt(socket.IPPROTO_IPV6, option, request)
        except OSError as exc:
            code = from_exception(exc)
            return call.reply(code, last_error=_err(code))
        if join:
            self.groups.append(group)
        else:
            self.groups.remove(group)
        call.reply(NetError.OK)

    def join_group(self, call: PendingCall, address: str) -> None:
        self._membership(call, address, join=True)

    def leave_group(self, call: PendingCall, address: str) -> None:
        self._membership(call, address, join=False)

    def set_multicast_ttl(self, call: PendingCall, ttl: int) -> None:
        if self.options_used:
            return call.reply(NetError.SOCKET_IS_CONNECTED, last_error=_err(NetError.SOCKET_IS_CONNECTED))
        if not 0 <= ttl <= 255:
            return call.reply(NetError.INVALID_ARGUMENT, last_error=_err(NetError.INVALID_ARGUMENT))
        self.ttl = ttl
        call.reply(NetError.OK)

    def set_multicast_loopback(self, call: PendingCall, enabled: bool) -> None:
        if self.options_used:
            return call.reply(NetError.SOCKET_IS_CONNECTED, last_error=_err(NetError.SOCKET_IS_CONNECTED))
        self.loopback = bool(enabled)
        call.reply(NetError.OK)

    # -- the rest -------------------------------------------------------------------------------------
    def set_keep_alive(self, enable: bool, delay: int) -> bool:
        return False

    def set_no_delay(self, no_delay: bool) -> bool:
        return False

    def info(self) -> dict:
        info: dict[str, Any] = {"socketType": "udp", "connected": self.connected}
        if self.connected and self.peer is not None:
            info["peerAddress"], info["peerPort"] = self.peer
        if self.local is not None:
            info["localAddress"], info["localPort"] = self.local
        return info


def _recv_error(code: int, *, with_address: bool) -> dict:
    if with_address:
        return {"resultCode": int(code), "data": "", "address": "", "port": 0}
    return {"resultCode": int(code), "data": ""}


def _ip(address: Any) -> str:
    return format_ip(address[0])
