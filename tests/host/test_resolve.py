"""Host names as Chromium's resolver reads them (chrome/hostnames.py: hostname_compliant, is_localhost_name, format_ip).

Pure checks of the rules; what Chrome 156 does with each form is recorded in
tests/e2e/golden/chrome/host_forms-tcp.json and compared by tests/e2e/test_differential.py."""
from __future__ import annotations

import pytest
from resocket.chrome.hostnames import format_ip, hostname_compliant, is_localhost_name
from resocket.chrome.iplit import parse_ip_literal


@pytest.mark.parametrize("name", ["localhost", "localhost.", "printer.localhost", "a-b_c.example", "127.1",
                                  "0x7f000001", "_srv.example", "x" * 63 + ".com", "a." * 126 + "b"])
def test_names_the_resolver_may_look_up(name: str) -> None:
    assert hostname_compliant(name)


@pytest.mark.parametrize("name", ["", " 127.0.0.1", "127.0.0.1 ", "[::1]", "[127.0.0.1]", "127.0.0.1:80",
                                  "127.0.0.1%lo", "a..b", ".a", "a.-", "a._b", "Localhost", "a/b", "é.com",
                                  "a." * 127 + "bc"])
def test_names_chrome_refuses_without_a_lookup(name: str) -> None:
    assert not hostname_compliant(name)


@pytest.mark.parametrize("name,local", [("localhost", True), ("LOCALHOST.", True), ("a.b.localhost", True),
                                        ("localhost.localdomain", False), ("notlocalhost", False),
                                        ("localhost..", False)])
def test_localhost_names(name: str, local: bool) -> None:
    assert is_localhost_name(name) is local


@pytest.mark.parametrize("raw,shown", [("::ffff:127.0.0.1", "::ffff:7f00:1"), ("::ffff:10.1.2.3", "::ffff:a01:203"),
                                       ("::1", "::1"), ("fe80::1%lo", "fe80::1"), ("127.0.0.1", "127.0.0.1"),
                                       ("not an ip", "not an ip")])
def test_addresses_are_shown_as_chrome_shows_them(raw: str, shown: str) -> None:
    assert format_ip(raw) == shown


def test_a_v4_mapped_address_stays_in_hex_where_python_prints_it_dotted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.13 prints "::ffff:127.0.0.1"; Chrome 156 shows "::ffff:7f00:1" (oracle peer_close, bind_forms).
    Made to print as 3.13 does, so that this fails on every Python if format_ip left the job to str()."""
    import ipaddress

    plain = ipaddress.IPv6Address.__str__

    def dotted(self: ipaddress.IPv6Address) -> str:
        mapped = self.ipv4_mapped
        return f"::ffff:{mapped}" if mapped is not None else plain(self)

    monkeypatch.setattr(ipaddress.IPv6Address, "__str__", dotted)
    assert str(ipaddress.IPv6Address("::ffff:127.0.0.1")) == "::ffff:127.0.0.1"
    assert format_ip("::ffff:127.0.0.1") == "::ffff:7f00:1"
    assert format_ip("::ffff:10.1.2.3") == "::ffff:a01:203"


@pytest.mark.parametrize("text,ip", [("127.1", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("2130706433", "127.0.0.1"),
                                     ("0", "0.0.0.0"), ("::ffff:127.0.0.1", "::ffff:7f00:1"), ("::", "::"),
                                     ("::1%lo", None), ("[::]", None), ("", None), (" 0.0.0.0", None),
                                     ("localhost", None)])
def test_ip_literals_as_chrome_reads_them_for_bind_and_listen(text: str, ip: str | None) -> None:
    # tests/e2e/golden/chrome/bind_forms-udp.json: the forms bind and listen take (others: -4).
    literal = parse_ip_literal(text)
    assert (format_ip(str(literal)) if literal is not None else None) == ip
