"""Rows of docs/fidelity.md that the browser differential cannot ask Chrome: Chrome 156 crashes on them, or
they pin an engine fix at host level so a regression shows without a browser."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from resocket.engine import parse_ip_literal

from tests.support.certs import Pki
from tests.support.hostclient import HostClient
from tests.support.servers import TcpServer, TlsEchoServer


def test_connect_and_bind_on_a_tls_socket_answer_instead_of_crashing(host: HostClient, pki: Pki) -> None:
    # Chrome 156's browser process crashes on both calls (so the differential cannot ask it); resocket
    # answers connect with -104 (the reference) and bind with the TCP bind error (a secured socket is TCP).
    with TlsEchoServer(pki.good.cert, pki.good.key) as server:
        sid = host.call("create", type="tcp").value["socketId"]
        assert host.call("connect", socketId=sid, hostname="localhost", port=server.port).args == [0]
        assert host.call("secure", socketId=sid).args == [0]
        assert host.call("connect", socketId=sid, hostname="localhost", port=server.port).args == [-104]
        bind = host.call("bind", socketId=sid, address="127.0.0.1", port=0)
        assert (bind.args, bind.last_error) == (
            [-1], "TCP socket does not support bind. For TCP server please use listen.")
        assert host.call("getInfo", socketId=sid).value["connected"] is True  # still usable
        host.call("destroy", socketId=sid)


def test_read_checks_the_connection_before_the_size(host: HostClient) -> None:
    with TcpServer() as server:
        sid = host.call("create", type="tcp").value["socketId"]
        assert host.call("read", socketId=sid, bufferSize=0).value["resultCode"] == -2  # never connected
        assert host.call("connect", socketId=sid, hostname="127.0.0.1", port=server.port).args == [0]
        assert host.call("read", socketId=sid, bufferSize=0).value["resultCode"] == -4
        assert host.call("read", socketId=sid, bufferSize=-1).value["resultCode"] == -4
        host.call("disconnect", socketId=sid)
        assert host.call("read", socketId=sid, bufferSize=0).value["resultCode"] == -15
        host.call("destroy", socketId=sid)


@pytest.mark.parametrize("text,expected", [
    ("237.132.100", "237.132.0.100"), ("127.1", "127.0.0.1"), ("0x7f.1", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"), ("1.2.3.4.", "1.2.3.4"), ("3735928559", "222.173.190.239"),
    ("::1", "::1"), ("localhost", None), ("1.2.3.4.5", None), ("256.1.1.1", None), ("1.2.3.256", None),
    ("08.1.1.1", None), ("1..2", None), ("", None), ("foo.1", None), ("[::1]", None),
])
def test_ip_literals_follow_chromes_url_ipv4_rules(text: str, expected: str | None) -> None:
    parsed = parse_ip_literal(text)
    assert (None if parsed is None else str(parsed)) == expected


def test_join_group_with_a_shorthand_literal_stores_the_canonical_group(host: HostClient) -> None:
    sid = host.call("create", type="udp").value["socketId"]
    assert host.call("bind", socketId=sid, address="127.1", port=0).args == [0]
    assert host.call("getInfo", socketId=sid).value["localAddress"] == "127.0.0.1"
    assert host.call("joinGroup", socketId=sid, address="237.132.100").args == [0]
    assert host.call("getJoinedGroups", socketId=sid).args == [["237.132.0.100"]]
    again = host.call("joinGroup", socketId=sid, address="237.132.0.100")
    assert (again.args, again.last_error) == ([-108], "net::ERR_ADDRESS_INVALID")
    host.call("destroy", socketId=sid)
