"""Rows of docs/fidelity.md that the browser differential cannot ask Chrome: Chrome 156 crashes on them, or
they pin an engine fix at host level so a regression shows without a browser."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from resocket.chrome.iplit import parse_ip_literal

from tests.support.certs import Pki
from tests.support.hostclient import HostClient
from tests.support.servers import TcpServer, TlsEchoServer, start_host


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


# A host in a network namespace of its own where one non-loopback interface is up (a veth pair with a
# documentation-range address, no route anywhere else: nothing can leave), as on a machine on a network.
WITH_AN_INTERFACE = ["unshare", "-n", "sh", "-c",
                     ("ip link set lo up && ip link add rs0 type veth peer name rs1 && "
                      "ip addr add 192.0.2.1/24 dev rs0 && ip link set rs0 up && ip link set rs1 up && "
                      'exec "$@"'), "netns"]


def test_dns_failure_with_an_interface_up_is_name_not_resolved(tmp_path: Path) -> None:
    # Chrome 156 answers -106 while only loopback is up (the test namespace: test_engine_tcp) and -105
    # once a network interface is up (docs/chrome-behaviour.md 9).
    host = start_host(tmp_path, wrapper=WITH_AN_INTERFACE)
    try:
        networks = host.call("getNetworkList").value
        assert {"name": "rs0", "address": "192.0.2.1", "prefixLength": 24} in networks
        sid = host.call("create", type="tcp").value["socketId"]
        res = host.call("connect", socketId=sid, hostname="nonexistent.invalid", port=80)
        assert (res.args, res.last_error) == ([-105], "DNS resolution failed")
    finally:
        assert host.close() == 0


def test_read_without_a_size_returns_at_most_4096_bytes(host: HostClient) -> None:
    with TcpServer() as server:
        sid = host.call("create", type="tcp").value["socketId"]
        assert host.call("connect", socketId=sid, hostname="127.0.0.1", port=server.port).args == [0]
        assert server.connected.wait(5)
        server.conns[0].sendall(bytes(10_000))  # one loopback segment: all of it arrives at once
        assert host.call("read", socketId=sid, bufferSize=1).value["resultCode"] == 1  # it has arrived
        assert host.call("read", socketId=sid).value["resultCode"] == 4096  # socket.idl's default
        host.call("destroy", socketId=sid)


def test_listen_without_a_backlog_uses_chromes_default_of_5(host: HostClient) -> None:
    sid = host.call("create", type="tcp").value["socketId"]
    assert host.call("listen", socketId=sid, address="127.0.0.1", port=0).args == [0]
    port = host.call("getInfo", socketId=sid).value["localPort"]
    # For a listening socket, ss reports the backlog given to listen(2) in its Send-Q column.
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    assert out.split()[2] == "5", out
    host.call("destroy", socketId=sid)
