"""Host name -> addresses, as Chromium's HostResolverManager answers chrome.socket and chrome.sockets.

Design rules:
- IP literals and localhost names are answered here, at once; only other names are looked up, by the
  system resolver (getaddrinfo, as Chrome's on Linux) on a short-lived daemon thread, since it blocks:
  the loop never waits on a lookup.
- The DNS query type of chrome.sockets (`dnsQueryType`) is a parameter: the address family asked for, or
  None for any ("any" or absent).
- Failures raise `DnsError` with Chrome's code; the caller decides the reply.
"""
from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

from resocket.chrome.hostnames import hostname_compliant, is_localhost_name
from resocket.chrome.iplit import parse_ip_literal
from resocket.chrome.netcodes import NetError
from resocket.engine.oserrors import from_exception

#: sockets_tcp.idl / sockets_udp.idl DnsQueryType -> the one address family Chrome's resolver then asks for.
DNS_QUERY_FAMILIES = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}

Address = tuple[int, Any]  # (family, sockaddr)


class DnsError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = int(code)


class Resolver:
    """The lookups of one engine, on its loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    async def resolve(self, host: str, port: int, socktype: int, family: int | None = None) -> list[Address]:
        """(family, sockaddr) for every address of `host`, in Chrome's order; only those of `family` when
        given (a DnsQueryType). Raises DnsError.

        As Chromium's HostResolverManager: IP literals need no lookup; a name that is not a valid host name
        fails at once (-105, whether or not a network is up); localhost names are answered here, ::1 then
        127.0.0.1, never from /etc/hosts or DNS (so connect tries both, and sendTo uses ::1); other names go
        to the system resolver. With a family, an IP literal of the other family is ERR_NAME_NOT_RESOLVED
        (HostResolverManager::ResolveAsIP), and a localhost name is ::1 for "ipv6" and 127.0.0.1 for "ipv4"
        (connect("localhost", port, "ipv6") reaches only a server on ::1: -102 otherwise)."""
        addresses = await self._resolve(host, port, socktype)
        if family is None:
            return addresses
        addresses = [a for a in addresses if a[0] == family]
        if not addresses:
            raise DnsError(NetError.NAME_NOT_RESOLVED)
        return addresses

    async def _resolve(self, host: str, port: int, socktype: int) -> list[Address]:
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
        # (docs/chrome-behaviour.md 9), and -105 NAME_NOT_RESOLVED otherwise.
        if isinstance(exc, socket.gaierror):
            return NetError.INTERNET_DISCONNECTED if cls.offline() else NetError.NAME_NOT_RESOLVED
        return from_exception(exc)


def _settle(fut: asyncio.Future, result: Any) -> None:
    if not fut.done():
        fut.set_result(result)
