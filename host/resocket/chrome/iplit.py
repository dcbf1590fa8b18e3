"""IP literals as Chrome reads them (pure: no I/O).

Chrome's IPAddress::AssignFromIPLiteral for bind, listen and joinGroup, and url::CanonicalizeIPAddress for
the permission check of a subdomain rule: both read IPv4 as the URL standard does (shorthand, hex and octal
parts), so "127.1" is 127.0.0.1 and "237.132.100" is 237.132.0.100, while "a.2.3" is no IP literal.
"""
from __future__ import annotations

import ipaddress


def parse_ip_literal(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP literal as Chrome's IPAddress::AssignFromIPLiteral accepts it, else None (no hostnames).

    A text with a colon must be IPv6; anything else goes through the URL standard's IPv4 parser, as in
    Chrome: shorthand, hex and octal parts count ("237.132.100" is 237.132.0.100; Chrome 156 joins that
    group, tests/e2e/scenarios/udp_states.js).
    """
    if ":" in text:
        if "%" in text:
            return None  # Chrome's IPv6 literals have no scope ("::1%lo": bind -4, connect -105)
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            return None
    return parse_url_ipv4(text)


def parse_url_ipv4(text: str) -> ipaddress.IPv4Address | None:
    parts = text.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # one trailing dot is allowed
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        base, digits = 10, part
        if part[:2] in ("0x", "0X"):
            base, digits = 16, part[2:]
        elif len(part) > 1 and part[0] == "0":
            base, digits = 8, part[1:]
        if digits == "" and base == 10:
            return None
        allowed = "0123456789abcdefABCDEF"[: {8: 8, 10: 10, 16: 22}[base]]
        if any(c not in allowed for c in digits):
            return None
        if base == 10 and len(digits) > 10:
            return None  # over 2**32 (no leading zero: that is octal), and past int()'s 4300-digit limit
        numbers.append(int(digits, base) if digits else 0)
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        return None
    value = numbers[-1]
    for i, n in enumerate(numbers[:-1]):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)
