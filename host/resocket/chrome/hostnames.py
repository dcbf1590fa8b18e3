"""Host names and IP strings as Chromium's resolver and chrome.socket read and write them (pure: no I/O).

Which names Chrome's resolver refuses without a lookup, which it answers itself (localhost), and how it
prints an address (getInfo, recvFrom, accept). The lookup itself is the engine's (engine/resolver.py).
"""
from __future__ import annotations

import ipaddress


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
