"""getNetworkList: the host's non-loopback interface addresses, via getifaddrs(3) (standard library only).

Chrome's net::GetNetworkList skips loopback and down interfaces (docs/chrome-behaviour.md 9: the list is empty
where only loopback exists). Each entry is {address, name, prefixLength}, one per IPv4/IPv6 address.
On Linux Chrome reads the addresses from netlink into a map keyed by address (AddressTrackerLinux), and keeps
only links that are up, running and with carrier (IFF_UP, IFF_RUNNING, IFF_LOWER_UP): so the list comes
sorted, IPv4 before IPv6, each family by its bytes, one entry per address (Chromium 156 through the Chrome App
oracle, tests/e2e/test_network_list.py). Elsewhere Chrome walks getifaddrs in its order, as this does.
Raises OSError when the platform has no getifaddrs (the engine answers "Network lookup failed or
unsupported").
"""
from __future__ import annotations

import ctypes
import ctypes.util
import ipaddress
import socket
import sys
from typing import Any

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_RUNNING = 0x40
IFF_LOWER_UP = 0x10000  # Linux
_LINUX = sys.platform == "linux"
_ONLINE = IFF_UP | IFF_RUNNING | IFF_LOWER_UP if _LINUX else IFF_UP


class _IfAddrs(ctypes.Structure):
    pass


_IfAddrs._fields_ = [
    ("ifa_next", ctypes.POINTER(_IfAddrs)),
    ("ifa_name", ctypes.c_char_p),
    ("ifa_flags", ctypes.c_uint),
    ("ifa_addr", ctypes.c_void_p),
    ("ifa_netmask", ctypes.c_void_p),
    ("ifa_ifu", ctypes.c_void_p),
    ("ifa_data", ctypes.c_void_p),
]

# struct sockaddr starts with sa_family (u16) on Linux, or sa_len (u8) + sa_family (u8) on the BSDs/macOS.
_BSD_SOCKADDR = sys.platform != "linux" and not sys.platform.startswith("win")
_libc: Any | None = None


def _load_libc() -> Any:
    global _libc
    if _libc is None:
        if not hasattr(socket, "AF_INET6") or sys.platform.startswith("win"):
            raise OSError("getifaddrs is not available on this platform")
        lib = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        lib.getifaddrs.argtypes = [ctypes.POINTER(ctypes.POINTER(_IfAddrs))]
        lib.freeifaddrs.argtypes = [ctypes.POINTER(_IfAddrs)]
        _libc = lib
    return _libc


def _family(ptr: int) -> int:
    if _BSD_SOCKADDR:
        return ctypes.c_uint8.from_address(ptr + 1).value
    return ctypes.c_uint16.from_address(ptr).value


def _ip_bytes(ptr: int, family: int) -> bytes:
    # sockaddr_in: family/len (2), port (2), addr (4); sockaddr_in6: family/len (2), port (2), flowinfo (4), addr (16)
    if family == socket.AF_INET:
        return ctypes.string_at(ptr + 4, 4)
    return ctypes.string_at(ptr + 8, 16)


def network_list() -> list[dict]:
    lib = _load_libc()
    head = ctypes.POINTER(_IfAddrs)()
    if lib.getifaddrs(ctypes.byref(head)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "getifaddrs failed")
    result: list[dict] = []
    try:
        node = head
        while node:
            entry = node.contents
            node = entry.ifa_next
            if not entry.ifa_addr or entry.ifa_flags & IFF_LOOPBACK or entry.ifa_flags & _ONLINE != _ONLINE:
                continue
            family = _family(entry.ifa_addr)
            if family not in (socket.AF_INET, socket.AF_INET6):
                continue
            address = ipaddress.ip_address(_ip_bytes(entry.ifa_addr, family))
            prefix = 0
            if entry.ifa_netmask:
                mask = int.from_bytes(_ip_bytes(entry.ifa_netmask, family), "big")
                prefix = bin(mask).count("1")
            result.append({"address": str(address), "name": (entry.ifa_name or b"").decode(errors="replace"),
                           "prefixLength": prefix})
    finally:
        lib.freeifaddrs(head)
    if _LINUX:
        return chrome_linux_order(result)
    return result


def chrome_linux_order(entries: list[dict]) -> list[dict]:
    """AddressTrackerLinux's map: one entry per address (the last one listed wins), sorted as net::IPAddress
    sorts (IPv4 before IPv6, then by the bytes)."""
    by_address = {entry["address"]: entry for entry in entries}
    return sorted(by_address.values(), key=lambda e: (
        ipaddress.ip_address(e["address"]).version, ipaddress.ip_address(e["address"]).packed))
