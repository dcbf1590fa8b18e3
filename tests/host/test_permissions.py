"""Socket permission rules: Chrome's syntax (spec section 4.1) and matching (section 4.2)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from resocket.chrome.permissions import ADDRESS_OPS, OPS, PLAIN_OPS, InvalidRule, PermissionRule, RuleSet

# -- parsing: rule as written -> canonical form ------------------------------------------------------

VALID = [
    # bare op: any host, any port
    ("tcp-connect", "tcp-connect:*:*"),
    ("tcp-listen", "tcp-listen:*:*"),
    ("udp-bind", "udp-bind:*:*"),
    ("udp-send-to", "udp-send-to:*:*"),
    # empty or "*" host / port are wildcards
    ("tcp-connect:", "tcp-connect:*:*"),
    ("tcp-connect::", "tcp-connect:*:*"),
    ("tcp-connect:*", "tcp-connect:*:*"),
    ("tcp-connect:*:*", "tcp-connect:*:*"),
    ("tcp-connect::80", "tcp-connect:*:80"),
    ("tcp-connect:*:80", "tcp-connect:*:80"),
    ("tcp-connect:localhost", "tcp-connect:localhost:*"),
    ("tcp-connect:localhost:", "tcp-connect:localhost:*"),
    # exact hosts are lowercased
    ("tcp-connect:LocalHost:8080", "tcp-connect:localhost:8080"),
    ("udp-send-to:127.0.0.1:53", "udp-send-to:127.0.0.1:53"),
    # subdomain patterns, both spellings
    ("tcp-connect:*.example.com:443", "tcp-connect:*.example.com:443"),
    ("tcp-connect:.example.com:443", "tcp-connect:*.example.com:443"),
    ("tcp-connect:*.EXAMPLE.com", "tcp-connect:*.example.com:*"),
    # port range ends; leading zeros read as Chrome's StringToInt reads them
    ("udp-bind::1", "udp-bind:*:1"),
    ("udp-bind::65535", "udp-bind:*:65535"),
    ("udp-bind::08080", "udp-bind:*:8080"),
    # ops that take no host or port
    ("udp-multicast-membership", "udp-multicast-membership"),
    ("resolve-host", "resolve-host"),
    ("resolve-proxy", "resolve-proxy"),
    ("network-state", "network-state"),
]


@pytest.mark.parametrize(("text", "canonical"), VALID)
def test_valid_rule_parses_to_canonical_form(text: str, canonical: str) -> None:
    rule = PermissionRule.parse(text)
    assert str(rule) == canonical
    assert PermissionRule.parse(canonical) == rule  # the canonical form reads back as the same rule


INVALID = [
    ("", "empty"),
    ("socket", "unknown operation"),
    ("TCP-CONNECT", "unknown operation"),  # ops are case-sensitive
    ("tcp_connect", "unknown operation"),
    (":localhost:80", "unknown operation"),
    ("tcp-connect:a:1:2", "too many"),
    ("tcp-connect:::", "too many"),
    ("tcp-connect:::1", "too many"),  # IPv6 literals cannot be written
    ("tcp-connect:[::1]:80", "too many"),
    # ops without host/port: adding one, even empty, is invalid
    ("udp-multicast-membership:", "takes no host"),
    ("udp-multicast-membership:*", "takes no host"),
    ("resolve-host:example.com", "takes no host"),
    ("resolve-proxy::", "takes no host"),
    ("network-state:*:*", "takes no host"),
    # ports
    ("tcp-connect:localhost:0", "out of range"),
    ("tcp-connect:localhost:65536", "out of range"),
    ("tcp-connect:localhost:99999999999", "not a number"),
    ("tcp-connect:localhost:http", "not a number"),
    ("tcp-connect:localhost:-1", "not a number"),
    ("tcp-connect:localhost:+80", "not a number"),
    ("tcp-connect:localhost:8o", "not a number"),
    ("tcp-connect:localhost:８０", "not a number"),  # full-width digits
    # whitespace, anywhere
    ("tcp-connect:localhost: 80", "whitespace"),
    ("tcp-connect:localhost:80 ", "whitespace"),
    ("tcp-connect: localhost:80", "whitespace"),
    ("tcp-connect:localhost :80", "whitespace"),
    (" tcp-connect", "whitespace"),
    ("tcp-connect\t", "whitespace"),
    ("tcp-connect:local host:80", "whitespace"),
    # wildcards only as the whole host or the whole first label
    ("tcp-connect:*example.com", "'*' may only"),
    ("tcp-connect:foo.*.com", "'*' may only"),
    ("tcp-connect:*.*.com", "'*' may only"),
    ("tcp-connect:*.", "needs a domain"),
    ("tcp-connect:.", "needs a domain"),
    ("tcp-connect:a..b", "empty label"),
]


@pytest.mark.parametrize(("text", "reason"), INVALID)
def test_invalid_rule_is_rejected_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidRule) as info:
        PermissionRule.parse(text)
    assert reason in str(info.value)


def test_invalid_rule_message_quotes_the_rule() -> None:
    with pytest.raises(InvalidRule, match="'tcp-connect:localhost:0'"):
        PermissionRule.parse("tcp-connect:localhost:0")


def test_non_string_rule_is_an_invalid_rule() -> None:
    with pytest.raises(InvalidRule, match="must be a string"):
        PermissionRule.parse(80)  # type: ignore[arg-type]


# -- matching -----------------------------------------------------------------------------------------

MATCHING = [
    # (rule, op, host, port, allowed)
    # bare op: everything of that op, including IPs, "" and port 0
    ("tcp-connect", "tcp-connect", "example.com", 80, True),
    ("tcp-connect", "tcp-connect", "127.0.0.1", 1, True),
    ("tcp-connect", "tcp-connect", "", 0, True),
    ("tcp-connect", "tcp-listen", "example.com", 80, False),  # the op must be equal
    ("udp-bind:*:*", "udp-bind", "0.0.0.0", 0, True),
    # exact host: the string the app passed, not what it resolves to
    ("tcp-connect:localhost:80", "tcp-connect", "localhost", 80, True),
    ("tcp-connect:localhost:80", "tcp-connect", "LOCALHOST", 80, True),  # the request host is lowercased
    ("tcp-connect:localhost:80", "tcp-connect", "127.0.0.1", 80, False),
    ("tcp-connect:localhost:80", "tcp-connect", "localhost", 81, False),
    ("tcp-connect:localhost:80", "tcp-connect", "a.localhost", 80, False),
    ("tcp-connect:127.0.0.1:80", "tcp-connect", "127.0.0.1", 80, True),
    ("tcp-connect:127.0.0.1:80", "tcp-connect", "localhost", 80, False),
    # subdomain pattern: the domain itself and every subdomain
    ("tcp-connect:*.example.com", "tcp-connect", "example.com", 1, True),
    ("tcp-connect:*.example.com", "tcp-connect", "a.example.com", 1, True),
    ("tcp-connect:*.example.com", "tcp-connect", "a.b.Example.COM", 1, True),
    ("tcp-connect:.example.com", "tcp-connect", "www.example.com", 1, True),
    ("tcp-connect:*.example.com", "tcp-connect", "badexample.com", 1, False),  # needs the dot
    ("tcp-connect:*.example.com", "tcp-connect", ".example.com", 1, False),  # and a character before it
    ("tcp-connect:*.example.com", "tcp-connect", "example.com.evil", 1, False),
    ("tcp-connect:*.example.com", "tcp-connect", "example.org", 1, False),
    ("tcp-connect:*.example.com", "tcp-connect", "", 1, False),
    # subdomain pattern never matches an IP literal request
    ("tcp-connect:*.0.1", "tcp-connect", "127.0.0.1", 80, False),
    ("tcp-connect:*.1", "tcp-connect", "10.0.0.1", 80, False),
    ("tcp-connect:*.0.1", "tcp-connect", "127.0x0.1", 80, False),  # loose IPv4 forms too
    ("tcp-connect:*.1", "tcp-connect", "[::1.2.3.1]", 80, False),
    ("tcp-connect:*.2.3", "tcp-connect", "1.2.3", 80, False),  # 1.2.0.3 in the URL standard's IPv4 forms
    # ... and only an IP literal: a host that merely ends in a number is a domain (Chromium 156,
    # tests/e2e/scenarios/permission_rules.js)
    ("tcp-connect:*.2.3", "tcp-connect", "a.2.3", 80, True),
    ("tcp-connect:*.3.999", "tcp-connect", "1.2.3.999", 80, True),  # 999 is out of range: no IPv4
    # ... but an exact host (even numeric) is compared as a string
    ("tcp-connect:*.0.1", "tcp-connect", "0.1", 80, True),
    # ports: equal, or wildcard; port 0 only matches a wildcard port
    ("udp-bind:127.0.0.1:5000", "udp-bind", "127.0.0.1", 5000, True),
    ("udp-bind:127.0.0.1:5000", "udp-bind", "127.0.0.1", 0, False),
    ("udp-bind:127.0.0.1", "udp-bind", "127.0.0.1", 0, True),
    ("udp-bind:127.0.0.1:*", "udp-bind", "127.0.0.1", 65535, True),
    ("tcp-listen::8080", "tcp-listen", "0.0.0.0", 8080, True),
    ("tcp-listen::8080", "tcp-listen", "::", 8080, True),
    # ops without host/port match any request of their op (chrome.socket checks multicast this way)
    ("udp-multicast-membership", "udp-multicast-membership", "", 0, True),
    ("udp-multicast-membership", "udp-multicast-membership", "237.132.100.133", 0, True),
    ("resolve-host", "resolve-proxy", "", 0, False),
]


@pytest.mark.parametrize(("rule", "op", "host", "port", "allowed"), MATCHING)
def test_rule_matching(rule: str, op: str, host: str, port: int, allowed: bool) -> None:
    rules, invalid = RuleSet.parse([rule])
    assert invalid == []
    assert rules.allows(op, host, port) is allowed


# -- rule sets -----------------------------------------------------------------------------------------

def test_ruleset_keeps_valid_rules_and_reports_invalid_ones_as_given() -> None:
    rules, invalid = RuleSet.parse(["tcp-connect:localhost:80", "tcp-connect:localhost:0", "bogus", "udp-bind"])
    assert rules.rules == ["tcp-connect:localhost:80", "udp-bind:*:*"]
    assert invalid == ["tcp-connect:localhost:0", "bogus"]
    assert rules.allows("udp-bind", "127.0.0.1", 0)
    assert not rules.allows("tcp-connect", "localhost", 81)


def test_ruleset_allows_when_any_rule_matches() -> None:
    rules, _ = RuleSet.parse(["tcp-connect:localhost:80", "tcp-connect:*.example.com:443"])
    assert rules.allows("tcp-connect", "localhost", 80)
    assert rules.allows("tcp-connect", "www.example.com", 443)
    assert not rules.allows("tcp-connect", "www.example.com", 80)


def test_ruleset_removes_duplicates_by_canonical_form() -> None:
    rules, _ = RuleSet.parse(["tcp-connect", "tcp-connect:*:*", "tcp-connect::", "TCP-CONNECT",
                              "tcp-connect:.A.com", "tcp-connect:*.a.com:*"])
    assert rules.rules == ["tcp-connect:*:*", "tcp-connect:*.a.com:*"]


def test_empty_ruleset_allows_nothing() -> None:
    empty = RuleSet.empty()
    assert empty.rules == []
    assert not empty
    for op in OPS:
        assert not empty.allows(op, "localhost", 80)


def test_unknown_request_op_is_never_allowed() -> None:
    rules, _ = RuleSet.parse(sorted(OPS))
    assert not rules.allows("tcp-connect-all", "localhost", 80)
    assert not rules.allows("", "localhost", 80)


def test_op_tables_cover_chrome_ops() -> None:
    assert ADDRESS_OPS == {"tcp-connect", "tcp-listen", "udp-bind", "udp-send-to"}
    assert PLAIN_OPS == {"udp-multicast-membership", "resolve-host", "resolve-proxy", "network-state"}


# -- properties ----------------------------------------------------------------------------------------

rule_like = st.one_of(
    st.text(),
    st.text(alphabet="tcpudp-:*.0123456789 lohsta\t", max_size=40),
    st.builds(lambda op, rest: op + rest, st.sampled_from(sorted(OPS)), st.text(max_size=30)),
)


@given(rule_like)
def test_parse_raises_nothing_but_invalid_rule(text: str) -> None:
    try:
        rule = PermissionRule.parse(text)
    except InvalidRule:
        return
    # whatever parses has a canonical form that parses back to the same rule
    assert PermissionRule.parse(str(rule)) == rule


@given(rule_like, st.text(max_size=30), st.integers(min_value=0, max_value=65535))
def test_matching_raises_nothing(text: str, host: str, port: int) -> None:
    rules, _ = RuleSet.parse([text])
    for op in OPS:
        rules.allows(op, host, port)


@pytest.mark.parametrize("op,args,rule", [
    ("connect", {"hostname": "127.0.0.1", "port": 8080}, "tcp-connect:127.0.0.1:8080"),
    ("tcp.connect", {"peerAddress": "Example.COM", "peerPort": 443}, "tcp-connect:example.com:443"),
    ("bind", {"address": "0.0.0.0", "port": 0}, "udp-bind:0.0.0.0:*"),  # port 0: only a wildcard allows it
    ("connect", {"hostname": "::1", "port": 80}, "tcp-connect:*:80"),  # rules cannot spell IPv6 literals
    ("connect", {"hostname": "$(touch x)", "port": 80}, "tcp-connect:*:80"),  # nothing a shell would run
    ("sendTo", {"address": "a`b`", "port": 53}, "udp-send-to:*:53"),
    ("create", {"type": "udp"}, "udp-send-to:HOST:PORT"),
    ("udp.joinGroup", {"address": "224.0.0.1"}, "udp-multicast-membership"),
])
def test_the_rule_offered_to_an_ungranted_origin_allows_the_call_and_is_safe_to_paste(
        op: str, args: dict, rule: str) -> None:
    from resocket.chrome.permissions import suggest_rule

    assert suggest_rule(op, args) == rule
