"""Chrome's socket permission rules: parsing and matching (pure: no I/O).

A rule is ``OP[:HOST[:PORT]]`` as in a Chrome App manifest's ``{"socket": [...]}`` permission. The
semantics follow Chromium's ``SocketPermissionData::Parse`` and ``SocketPermissionEntry::ParseHostPattern``
/ ``::Check`` (extensions/common/permissions/socket_permission_{data,entry}.cc):

- OP is one of ``ADDRESS_OPS`` (take HOST and PORT) or ``PLAIN_OPS`` (take nothing; any ":" after
  them, even ``"resolve-host:"``, makes the rule invalid). OPs are case-sensitive, as in Chrome.
- HOST empty or ``*``: any host (IP literals and "" included). ``*.example.com`` or ``.example.com``:
  example.com and every subdomain, never an IP literal. Anything else: that exact host, ASCII-lowercased.
- PORT empty or ``*``: any port. Otherwise an integer 1..65535 (leading zeros allowed, as Chrome's
  ``base::StringToInt`` allows them).
- A request (op, host as the app passed it, port) is allowed when some rule has the same op, a
  matching host (the request host is ASCII-lowercased first) and an equal or wildcard port. Port 0
  (bind to an ephemeral port) therefore matches only wildcard-port rules.

Deliberate differences from Chrome, all of them rejecting rules that Chrome would accept but that
cannot mean what their author wanted (Chrome would keep them as hosts that never, or always, match):
- whitespace anywhere in a rule is invalid (Chrome rejects only leading/trailing whitespace around
  HOST and PORT, and silently trims it around the dots inside HOST);
- ``*`` is only allowed as the whole HOST or as its whole first label (Chrome takes ``*foo.com`` as an
  exact host);
- a subdomain rule needs a domain (``*.`` and ``.`` alone mean "any host" in Chrome), and empty labels
  inside HOST (``a..b``) are invalid;
- PORT must be ASCII digits (Chrome's StringToInt also takes a leading ``+``).

Canonical form (``str(rule)``), as Chrome's ``GetAsString`` writes it: ``tcp-connect:*:*``,
``tcp-connect:*.example.com:*``, ``udp-bind:localhost:8080``, ``resolve-host``.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from resocket.chrome.iplit import parse_url_ipv4

#: Ops that take HOST and PORT (Chromium: SocketPermissionEntry::IsAddressBoundType).
ADDRESS_OPS = frozenset({"tcp-connect", "tcp-listen", "udp-bind", "udp-send-to"})
#: Ops that take no HOST:PORT (Chromium: socket_permission_data.cc StringToType).
PLAIN_OPS = frozenset({"udp-multicast-membership", "resolve-host", "resolve-proxy", "network-state"})
OPS = ADDRESS_OPS | PLAIN_OPS

ANY_HOST = ""
ANY_PORT = 0  # Chromium's kWildcardPortNumber: a real port is never 0 in a rule.
MAX_PORT = 65535

_WILDCARD = "*"
_ASCII_DIGITS = re.compile(r"[0-9]+")


class InvalidRule(ValueError):
    """A permission rule that does not parse; the message says what is wrong and quotes the rule."""


def ascii_lower(text: str) -> str:
    """Lowercase A-Z only, as Chromium's base::ToLowerASCII (str.lower() also folds non-ASCII letters)."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def is_ip_literal(host: str) -> bool:
    """True if ``host`` is an IP literal as url::CanonicalizeIPAddress reads it (SocketPermissionEntry::Check).

    IPv4 in the URL standard's forms ("127.1", "0x7f.0.0.1", "2130706433", a final dot) and IPv6, bracketed
    or not. A host that only ends in a number ("a.2.3", "1.2.3.999") is none: Chromium 156 lets "*.2.3"
    match "a.2.3" (tests/e2e/scenarios/permission_rules.js) but never "4.1.2.3" or "1.2.3" (1.2.0.3).
    """
    candidate = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in candidate:
        try:
            ipaddress.IPv6Address(candidate)
            return True
        except ValueError:
            return False
    return parse_url_ipv4(host) is not None


@dataclass(frozen=True)
class PermissionRule:
    """One parsed rule. ``host`` is ANY_HOST ("") or a lowercased host/domain; ``port`` is ANY_PORT (0) or 1..65535."""

    op: str
    host: str = ANY_HOST
    port: int = ANY_PORT
    #: True for "*.example.com" / ".example.com" (and for the any-host rule, as in Chromium).
    subdomains: bool = True

    @classmethod
    def parse(cls, text: str) -> PermissionRule:
        if not isinstance(text, str):
            raise InvalidRule(f"a rule must be a string, not {type(text).__name__}")
        if not text:
            raise InvalidRule("empty rule: expected OP[:HOST[:PORT]], e.g. tcp-connect:localhost:8080")
        if any(ch.isspace() for ch in text):
            raise InvalidRule(f"{text!r}: rules may not contain whitespace")
        parts = text.split(":")
        op = parts[0]
        if op not in OPS:
            raise InvalidRule(f"{text!r}: unknown operation {op!r} (expected one of {', '.join(_OP_ORDER)})")
        rest = parts[1:]
        if op in PLAIN_OPS:
            if rest:
                raise InvalidRule(f"{text!r}: {op} takes no host or port")
            return cls(op)
        if len(rest) > 2:
            raise InvalidRule(
                f"{text!r}: too many ':' (expected OP[:HOST[:PORT]]; IPv6 literals cannot appear in rules)")
        host, subdomains = _parse_host(text, rest[0] if rest else "")
        port = _parse_port(text, rest[1] if len(rest) > 1 else "")
        return cls(op, host, port, subdomains)

    def matches(self, op: str, host: str, port: int) -> bool:
        """Chromium's SocketPermissionEntry::Check."""
        if op != self.op:
            return False
        if self.op in PLAIN_OPS:
            return True
        if self.port != ANY_PORT and port != self.port:
            return False
        request_host = ascii_lower(host)
        if self.host == ANY_HOST or request_host == self.host:
            return True
        if not self.subdomains or is_ip_literal(request_host):
            return False
        # One or more characters, then ".", then the rule's domain.
        return len(request_host) >= len(self.host) + 2 and request_host.endswith("." + self.host)

    def __str__(self) -> str:
        if self.op in PLAIN_OPS:
            return self.op
        if self.host == ANY_HOST:
            host = _WILDCARD
        elif self.subdomains:
            host = f"{_WILDCARD}.{self.host}"
        else:
            host = self.host
        port = _WILDCARD if self.port == ANY_PORT else str(self.port)
        return f"{self.op}:{host}:{port}"


# Order used in messages: Chrome's own (socket_permission_data.cc).
_OP_ORDER = ("tcp-connect", "tcp-listen", "udp-bind", "udp-send-to",
             "udp-multicast-membership", "resolve-host", "resolve-proxy", "network-state")


def _parse_host(rule: str, host: str) -> tuple[str, bool]:
    if host in ("", _WILDCARD):
        return ANY_HOST, True
    host = ascii_lower(host)
    subdomains = False
    if host.startswith(_WILDCARD + "."):
        host, subdomains = host[2:], True
    elif host.startswith("."):
        host, subdomains = host[1:], True
    if not host:
        raise InvalidRule(f"{rule!r}: a subdomain pattern needs a domain after the '.' (use '*' for any host)")
    if _WILDCARD in host:
        raise InvalidRule(
            f"{rule!r}: '*' may only be the whole host or its first label, as in *.example.com")
    labels = host.split(".")
    if "" in labels[:-1]:
        raise InvalidRule(f"{rule!r}: host {host!r} has an empty label")
    return host, subdomains


def _parse_port(rule: str, port: str) -> int:
    if port in ("", _WILDCARD):
        return ANY_PORT
    # Length cap: keeps int() cheap on hostile input; "065535" still parses.
    if not _ASCII_DIGITS.fullmatch(port) or len(port) > 10:
        raise InvalidRule(f"{rule!r}: port {port!r} is not a number (use 1..65535 or '*')")
    value = int(port)
    if not 1 <= value <= MAX_PORT:
        raise InvalidRule(f"{rule!r}: port {value} is out of range 1..65535 (use '*' for any port)")
    return value


class RuleSet:
    """An immutable set of rules; a request is allowed if any rule matches (Chromium: SetDisjunctionPermission)."""

    __slots__ = ("_rules",)

    def __init__(self, rules: Iterable[PermissionRule] = ()) -> None:
        unique: dict[str, PermissionRule] = {}
        for rule in rules:
            unique.setdefault(str(rule), rule)
        self._rules: tuple[PermissionRule, ...] = tuple(unique.values())

    @classmethod
    def parse(cls, texts: Iterable[str]) -> tuple[RuleSet, list[str]]:
        """Parse rule strings; invalid ones are returned (as given) instead of raising, as Chrome warns and skips them."""
        valid: list[PermissionRule] = []
        invalid: list[str] = []
        for text in texts:
            try:
                valid.append(PermissionRule.parse(text))
            except InvalidRule:
                invalid.append(text)
        return cls(valid), invalid

    @classmethod
    def empty(cls) -> RuleSet:
        return cls()

    @property
    def rules(self) -> list[str]:
        """The rules in canonical form, in first-seen order, without duplicates."""
        return [str(rule) for rule in self._rules]

    def allows(self, op: str, host: str, port: int) -> bool:
        return any(rule.matches(op, host, port) for rule in self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    def __bool__(self) -> bool:
        return bool(self._rules)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuleSet) and set(self.rules) == set(other.rules)

    def __hash__(self) -> int:
        return hash(frozenset(self.rules))

    def __repr__(self) -> str:
        return f"RuleSet({self.rules!r})"


# -- the `sockets` manifest key of chrome.sockets.* -----------------------------------------------------
#: Chromium's SocketsManifestPermission (extensions/common/api/sockets/sockets_manifest_permission.cc):
#: each (namespace, key) of the `sockets` manifest key grants one chrome.socket operation; its value is
#: one "HOST:PORT" pattern or a list of them, parsed exactly as the HOST:PORT part of a `socket` rule
#: (SocketPermissionEntry::ParseHostPattern), "" meaning any host and port. multicastMembership takes
#: no pattern: its presence grants the operation.
SOCKETS_KEY_OPS: dict[tuple[str, str], str] = {
    ("tcp", "connect"): "tcp-connect",
    ("tcpServer", "listen"): "tcp-listen",
    ("udp", "bind"): "udp-bind",
    ("udp", "send"): "udp-send-to",
    ("udp", "multicastMembership"): "udp-multicast-membership",
}


def rules_from_sockets_key(sockets: object) -> list[str]:
    """The `socket`-style rules a manifest's `sockets` value grants, in manifest order, without duplicates.

    `{"tcp": {"connect": ["localhost:80", "*:443"]}, "udp": {"multicastMembership": ""}}` ->
    `["tcp-connect:localhost:80", "tcp-connect:*:443", "udp-multicast-membership"]`. Parts of the wrong
    shape are skipped (Chrome warns and ignores them); check the result with RuleSet.parse.
    """
    rules: list[str] = []
    if not isinstance(sockets, dict):
        return rules
    for (api, key), op in SOCKETS_KEY_OPS.items():
        section = sockets.get(api)
        if not isinstance(section, dict) or key not in section:
            continue
        value = section[key]
        if op in PLAIN_OPS:
            rules.append(op)
            continue
        for pattern in [value] if isinstance(value, str) else (value if isinstance(value, list) else []):
            if isinstance(pattern, str):
                rules.append(f"{op}:{pattern}" if pattern else op)
    return list(dict.fromkeys(rules))


#: The rule each call needs, by operation (chrome.socket's and chrome.sockets' names), with the names of its
#: host and port arguments: what `suggest_rule` proposes to an origin that holds no grant.
_RULE_OF_CALL: dict[str, tuple[str, str | None, str | None]] = {
    "connect": ("tcp-connect", "hostname", "port"),
    "tcp.connect": ("tcp-connect", "peerAddress", "peerPort"),
    "listen": ("tcp-listen", "address", "port"),
    "tcpServer.listen": ("tcp-listen", "address", "port"),
    "bind": ("udp-bind", "address", "port"),
    "udp.bind": ("udp-bind", "address", "port"),
    "sendTo": ("udp-send-to", "address", "port"),
    "udp.send": ("udp-send-to", "address", "port"),
    **{name: ("udp-multicast-membership", None, None) for name in (
        "joinGroup", "leaveGroup", "getJoinedGroups", "udp.joinGroup", "udp.leaveGroup", "udp.getJoinedGroups")},
    "tcpServer.create": ("tcp-listen", None, None),
    "udp.create": ("udp-send-to", None, None),
}


#: Hosts `suggest_rule` writes into its command as they are: names and IPv4 literals.
_SHELL_SAFE_HOST = re.compile(r"[A-Za-z0-9._-]{1,253}")


def suggest_rule(op: str, args: dict) -> str:
    """A rule that would allow this call, for the message that tells an ungranted origin how to get one: the
    call's own host and port where it names them and a rule can say them (``tcp-connect:127.0.0.1:8080``),
    else the op with placeholders (``tcp-connect:HOST:PORT``). Port 0 (an ephemeral bind or listen) becomes
    ``*``, the only port that allows it."""
    if op == "create":
        kind = args.get("type")
        op = "udp.create" if kind == "udp" else "tcp.connect"
    rule_op, host_arg, port_arg = _RULE_OF_CALL.get(op, ("tcp-connect", None, None))
    if rule_op in PLAIN_OPS:
        return rule_op
    host, port = args.get(host_arg) if host_arg else None, args.get(port_arg) if port_arg else None
    if not isinstance(host, str) or not isinstance(port, int) or isinstance(port, bool):
        return f"{rule_op}:HOST:PORT"
    if not _SHELL_SAFE_HOST.fullmatch(host):
        host = ""  # the message is a command to paste into a shell: a page must not be able to write into it
    wanted = f"{rule_op}:{host or '*'}:{port if 0 < port <= MAX_PORT else '*'}"
    for candidate in (wanted, f"{rule_op}:*:{port if 0 < port <= MAX_PORT else '*'}"):
        try:
            rule = PermissionRule.parse(candidate)
        except InvalidRule:
            continue  # an IPv6 literal or a name a rule cannot spell: any host, that port
        if rule.matches(rule_op, host, port):
            return str(rule)
    return f"{rule_op}:*:*"
