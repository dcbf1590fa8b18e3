"""getNetworkList: the host's non-loopback interface addresses, via getifaddrs(3) (standard library only).

Chrome's net::GetNetworkList skips loopback and down interfaces (docs/chrome-behaviour.md 9: the list is empty
where only loopback exists). Each entry is {address, name, prefixLength}, one per IPv4/IPv6 address.
On Linux Chrome reads the addresses from netlink into a map keyed by address (AddressTrackerLinux), and keeps
only links that are up, running and with carrier (IFF_UP, IFF_RUNNING, IFF_LOWER_UP): so the list comes
sorted, IPv4 before IPv6, each family by its bytes, one entry per address (Chromium 156 through the Chrome App
oracle, tests/e2e/test_network_list.py). Elsewhere Chrome walks getifaddrs in its order, as this does.
On Windows there is no getifaddrs: Chrome (net/base/network_interfaces_win.cc) walks GetAdaptersAddresses
in its order, skips the software loopback adapter, adapters not up, and addresses whose duplicate address
detection has not reached "preferred"; `name` is the adapter's GUID name (AdapterName), the prefix its
OnLinkPrefixLength. `chrome_windows_list` is that rule over plain data; iphlpapi.dll loads only on Windows,
when getNetworkList is first called.
Raises OSError when the platform has neither (the engine answers "Network lookup failed or unsupported").
"""
from __future__ import annotations

import ctypes
import ctypes.util
import ipaddress
import socket
import sys
from dataclasses import dataclass, field
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
    if sys.platform.startswith("win"):
        return chrome_windows_list(_windows_adapters())
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


# --- Windows: GetAdaptersAddresses (iphlpapi.h) ---------------------------------------------------------------

IF_TYPE_SOFTWARE_LOOPBACK = 24  # ipifcons.h
IF_OPER_STATUS_UP = 1  # IfOperStatusUp, ifdef.h
IP_DAD_STATE_PREFERRED = 4  # IpDadStatePreferred, nldef.h
ERROR_BUFFER_OVERFLOW = 111
ERROR_NO_DATA = 232
#: Chrome's first buffer (15 KB, as MSDN recommends) and its bound on retries while the list grows.
_GAA_BUFFER = 15000
_GAA_TRIES = 10


@dataclass
class WinAddress:
    address: str
    prefix_length: int
    dad_state: int = IP_DAD_STATE_PREFERRED


@dataclass
class WinAdapter:
    name: str  # AdapterName: the GUID string, what Chrome reports as the interface's name
    if_type: int
    oper_status: int
    addresses: list[WinAddress] = field(default_factory=list)


def chrome_windows_list(adapters: list[WinAdapter]) -> list[dict]:
    """GetNetworkListImpl (network_interfaces_win.cc) with INCLUDE_HOST_SCOPE_VIRTUAL_INTERFACES, the policy
    chrome.socket asks for: adapters and addresses in the order Windows lists them, nothing sorted."""
    result: list[dict] = []
    for adapter in adapters:
        if adapter.if_type == IF_TYPE_SOFTWARE_LOOPBACK or adapter.oper_status != IF_OPER_STATUS_UP:
            continue
        result += [{"address": a.address, "name": adapter.name, "prefixLength": a.prefix_length}
                   for a in adapter.addresses if a.dad_state == IP_DAD_STATE_PREFERRED]
    return result


class _SocketAddress(ctypes.Structure):
    _fields_ = [("lpSockaddr", ctypes.c_void_p), ("iSockaddrLength", ctypes.c_int)]


class _UnicastAddress(ctypes.Structure):
    pass


# IP_ADAPTER_UNICAST_ADDRESS_LH up to OnLinkPrefixLength (Windows Vista and later); only read through pointers
# into the buffer Windows filled, so the fields after the last one used can stay undeclared.
_UnicastAddress._fields_ = [
    ("Length", ctypes.c_ulong), ("Flags", ctypes.c_ulong),
    ("Next", ctypes.POINTER(_UnicastAddress)),
    ("Address", _SocketAddress),
    ("PrefixOrigin", ctypes.c_int), ("SuffixOrigin", ctypes.c_int), ("DadState", ctypes.c_int),
    ("ValidLifetime", ctypes.c_ulong), ("PreferredLifetime", ctypes.c_ulong), ("LeaseLifetime", ctypes.c_ulong),
    ("OnLinkPrefixLength", ctypes.c_uint8),
]


class _AdapterAddresses(ctypes.Structure):
    pass


# IP_ADAPTER_ADDRESSES_LH up to Ipv6IfIndex, read the same way.
_AdapterAddresses._fields_ = [
    ("Length", ctypes.c_ulong), ("IfIndex", ctypes.c_ulong),
    ("Next", ctypes.POINTER(_AdapterAddresses)),
    ("AdapterName", ctypes.c_char_p),
    ("FirstUnicastAddress", ctypes.POINTER(_UnicastAddress)),
    ("FirstAnycastAddress", ctypes.c_void_p), ("FirstMulticastAddress", ctypes.c_void_p),
    ("FirstDnsServerAddress", ctypes.c_void_p),
    ("DnsSuffix", ctypes.c_wchar_p), ("Description", ctypes.c_wchar_p), ("FriendlyName", ctypes.c_wchar_p),
    ("PhysicalAddress", ctypes.c_uint8 * 8), ("PhysicalAddressLength", ctypes.c_ulong),
    ("Flags", ctypes.c_ulong), ("Mtu", ctypes.c_ulong),
    ("IfType", ctypes.c_ulong), ("OperStatus", ctypes.c_int), ("Ipv6IfIndex", ctypes.c_ulong),
]


def _windows_sockaddr(ptr: int) -> str | None:
    # Windows' sockaddr starts with a 16-bit family, as on Linux: AF_INET (2) or AF_INET6 (23).
    family = ctypes.c_uint16.from_address(ptr).value
    if family == socket.AF_INET:
        return str(ipaddress.IPv4Address(ctypes.string_at(ptr + 4, 4)))
    if family == socket.AF_INET6:
        return str(ipaddress.IPv6Address(ctypes.string_at(ptr + 8, 16)))
    return None


def _windows_adapters() -> list[WinAdapter]:
    iphlpapi = ctypes.WinDLL("iphlpapi")  # type: ignore[attr-defined]  # Windows only
    size = ctypes.c_ulong(_GAA_BUFFER)
    for _ in range(_GAA_TRIES):  # the list may grow between calls: Chrome retries the same way
        buffer = ctypes.create_string_buffer(size.value)
        status = iphlpapi.GetAdaptersAddresses(socket.AF_UNSPEC, 0, None, buffer, ctypes.byref(size))
        if status != ERROR_BUFFER_OVERFLOW:
            break
    if status == ERROR_NO_DATA:
        return []
    if status != 0:
        raise OSError(status, "GetAdaptersAddresses failed")
    adapters: list[WinAdapter] = []
    node = ctypes.cast(buffer, ctypes.POINTER(_AdapterAddresses))
    while node:
        entry = node.contents
        node = entry.Next
        adapter = WinAdapter((entry.AdapterName or b"").decode(errors="replace"), entry.IfType, entry.OperStatus)
        unicast = entry.FirstUnicastAddress
        while unicast:
            item = unicast.contents
            unicast = item.Next
            address = _windows_sockaddr(item.Address.lpSockaddr) if item.Address.lpSockaddr else None
            if address is not None:
                adapter.addresses.append(WinAddress(address, item.OnLinkPrefixLength, item.DadState))
        adapters.append(adapter)
    return adapters
