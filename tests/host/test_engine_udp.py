"""chrome.socket UDP and multicast through a real resocket-host (docs/chrome-behaviour.md 2, 3, 7.1, 7.4)."""
from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.hostclient import HostClient, b64
from tests.support.servers import ECHO_BODY, UdpEchoServer

GROUP = "237.132.100.133"


@pytest.fixture(scope="module")
def echo() -> UdpEchoServer:
    with UdpEchoServer() as server:
        yield server


def create(host: HostClient) -> int:
    return host.call("create", type="udp").value["socketId"]


def bound(host: HostClient, address: str = "0.0.0.0", port: int = 0) -> int:
    sid = create(host)
    assert host.call("bind", socketId=sid, address=address, port=port).args == [0]
    return sid


def test_sending_with_bind_and_send_to(host: HostClient, echo: UdpEchoServer) -> None:
    sid = bound(host)
    info = host.call("getInfo", socketId=sid).value
    assert info["localAddress"] == "0.0.0.0" and info["localPort"] > 0 and info["connected"] is False
    assert "peerAddress" not in info and "peerPort" not in info
    assert host.call("setNoDelay", socketId=sid, noDelay=True).args == [False]
    assert host.call("setKeepAlive", socketId=sid, enable=True, delay=1000).args == [False]
    pending = host.start("recvFrom", socketId=sid)
    sent = host.call("sendTo", socketId=sid, data=b64(ECHO_BODY), address="127.1", port=echo.port)
    assert sent.args == [{"bytesWritten": len(ECHO_BODY)}]
    got = pending.result()
    assert got.value["resultCode"] == len(ECHO_BODY) and got.data() == ECHO_BODY
    assert got.value["address"] == "127.0.0.1" and got.value["port"] == echo.port
    host.call("destroy", socketId=sid)


def test_pending_recv_from_then_disconnect_then_bind_are_applied_in_order(host: HostClient,
                                                                           echo: UdpEchoServer) -> None:
    sid = bound(host)
    first = host.start("recvFrom", socketId=sid)
    host.start("disconnect", socketId=sid)
    rebind = host.start("bind", socketId=sid, address="0.0.0.0", port=0)
    assert first.result().value["resultCode"] == -100
    assert rebind.result().args == [0]
    second = host.start("recvFrom", socketId=sid)
    host.call("sendTo", socketId=sid, data=b64(ECHO_BODY), address="127.0.0.1", port=echo.port)
    assert second.result().data() == ECHO_BODY
    host.call("destroy", socketId=sid)


def test_connected_udp_reads_and_writes(host: HostClient, echo: UdpEchoServer) -> None:
    sid = create(host)
    assert host.call("connect", socketId=sid, hostname="127.0.0.1", port=echo.port).args == [0]
    info = host.call("getInfo", socketId=sid).value
    assert info["connected"] is True and info["peerAddress"] == "127.0.0.1" and info["peerPort"] == echo.port
    assert host.call("connect", socketId=sid, hostname="127.0.0.1", port=echo.port).args == [-104]
    assert host.call("bind", socketId=sid, address="0.0.0.0", port=0).args == [-104]
    assert host.call("recvFrom", socketId=sid).value["resultCode"] == -15  # connect is not bind
    assert host.call("sendTo", socketId=sid, data=b64(b"x"), address="127.0.0.1",
                     port=echo.port).value == {"bytesWritten": -15}
    pending = host.start("read", socketId=sid)
    assert host.call("read", socketId=sid).value["resultCode"] == -1
    assert host.call("write", socketId=sid, data=b64(ECHO_BODY)).value == {"bytesWritten": len(ECHO_BODY)}
    assert pending.result().data() == ECHO_BODY
    too_small = host.start("read", socketId=sid, bufferSize=4)
    host.call("write", socketId=sid, data=b64(ECHO_BODY))
    assert too_small.result().value == {"resultCode": -142, "data": ""}
    assert host.call("write", socketId=sid, data=b64(bytes(65536))).value == {"bytesWritten": -142}
    host.call("destroy", socketId=sid)


def test_errors_of_unbound_and_bound_udp_sockets(host: HostClient) -> None:
    sid = create(host)
    assert host.call("read", socketId=sid).value["resultCode"] == -15
    assert host.call("write", socketId=sid, data=b64(b"x")).value == {"bytesWritten": -15}
    assert host.call("recvFrom", socketId=sid).args == [{"resultCode": -15, "data": "", "address": "", "port": 0}]
    assert host.call("sendTo", socketId=sid, data=b64(b"x"), address="127.0.0.1",
                     port=9).value == {"bytesWritten": -15}
    assert host.call("recvFrom", socketId=sid, bufferSize=-1).value["resultCode"] == -4
    assert host.call("bind", socketId=sid, address="localhost", port=0).args == [-4]
    assert host.call("accept", socketId=sid).args == [{"resultCode": -2}]
    sec = host.call("secure", socketId=sid)
    assert (sec.args, sec.last_error) == ([-4], "Only TCP sockets are supported for TLS.")
    assert host.call("bind", socketId=sid, address="127.0.0.1", port=0).args == [0]
    assert host.call("bind", socketId=sid, address="127.0.0.1", port=0).args == [-104]
    pending = host.start("recvFrom", socketId=sid)
    assert host.call("recvFrom", socketId=sid).value["resultCode"] == -1
    host.call("destroy", socketId=sid)
    assert pending.result().value["resultCode"] == -100


def test_bind_to_a_port_in_use_is_minus_147_without_last_error(host: HostClient) -> None:
    first = bound(host, "127.0.0.1")
    port = host.call("getInfo", socketId=first).value["localPort"]
    second = create(host)
    res = host.call("bind", socketId=second, address="127.0.0.1", port=port)
    assert (res.args, res.last_error) == ([-147], None)
    host.call("destroy", socketId=first)
    host.call("destroy", socketId=second)


def test_datagram_bigger_than_buffer_is_minus_142(host: HostClient) -> None:
    sid = bound(host, "127.0.0.1")
    port = host.call("getInfo", socketId=sid).value["localPort"]
    pending = host.start("recvFrom", socketId=sid, bufferSize=10)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"x" * 11, ("127.0.0.1", port))
    assert pending.result().value == {"resultCode": -142, "data": "", "address": "", "port": 0}
    host.call("destroy", socketId=sid)


def test_send_to_bigger_than_65535_is_minus_142(host: HostClient, echo: UdpEchoServer) -> None:
    sid = bound(host)
    res = host.call("sendTo", socketId=sid, data=b64(bytes(65536)), address="127.0.0.1", port=echo.port)
    assert res.value == {"bytesWritten": -142}
    host.call("destroy", socketId=sid)


def test_send_to_dns_failure_is_a_bare_number(host: HostClient) -> None:
    sid = bound(host)
    res = host.call("sendTo", socketId=sid, data=b64(b"x"), address="nonexistent.invalid", port=9)
    assert res.args[0] in (-105, -106) and res.last_error == "DNS resolution failed"
    host.call("destroy", socketId=sid)


def test_ipv6_udp_round_trip_reports_plain_addresses(host: HostClient) -> None:
    with UdpEchoServer("::1") as server:
        sid = bound(host, "::1")
        assert host.call("getInfo", socketId=sid).value["localAddress"] == "::1"
        pending = host.start("recvFrom", socketId=sid)
        host.call("sendTo", socketId=sid, data=b64(b"v6"), address="::1", port=server.port)
        got = pending.result().value
        assert (got["address"], got["port"], got["resultCode"]) == ("::1", server.port, 2)
        host.call("destroy", socketId=sid)


# -- multicast (7.4 and the section 2 rows) -------------------------------------------------------------
def test_multicast_settings_on_a_new_socket(host: HostClient) -> None:
    sid = create(host)
    assert host.call("setMulticastTimeToLive", socketId=sid, ttl=0).args == [0]
    res = host.call("setMulticastTimeToLive", socketId=sid, ttl=-3)
    assert (res.args, res.last_error) == ([-4], "net::ERR_INVALID_ARGUMENT")
    assert host.call("setMulticastTimeToLive", socketId=sid, ttl=256).args == [-4]
    assert host.call("setMulticastLoopbackMode", socketId=sid, enabled=False).args == [0]
    assert host.call("setMulticastLoopbackMode", socketId=sid, enabled=True).args == [0]
    join = host.call("joinGroup", socketId=sid, address=GROUP)
    assert (join.args, join.last_error) == ([-9], "net::ERR_UNEXPECTED")
    leave = host.call("leaveGroup", socketId=sid, address=GROUP)
    assert (leave.args, leave.last_error) == ([-108], "net::ERR_ADDRESS_INVALID")
    assert host.call("getJoinedGroups", socketId=sid).args == [[]]
    host.call("bind", socketId=sid, address="0.0.0.0", port=0)
    ttl = host.call("setMulticastTimeToLive", socketId=sid, ttl=1)
    assert (ttl.args, ttl.last_error) == ([-23], "net::ERR_SOCKET_IS_CONNECTED")
    host.call("disconnect", socketId=sid)
    assert host.call("setMulticastLoopbackMode", socketId=sid, enabled=True).args == [-23]  # quirk copied
    host.call("destroy", socketId=sid)


def test_join_group_errors_and_joined_list(host: HostClient) -> None:
    sid = bound(host)
    bad = host.call("joinGroup", socketId=sid, address="not-an-ip")
    assert (bad.args, bad.last_error) == ([-108], "net::ERR_ADDRESS_INVALID")
    assert host.call("joinGroup", socketId=sid, address="ff02::1").args == [-108]  # IPv6 group, IPv4 socket
    assert host.call("joinGroup", socketId=sid, address=GROUP).args == [0]
    assert host.call("joinGroup", socketId=sid, address=GROUP).args == [-108]
    assert host.call("getJoinedGroups", socketId=sid).args == [[GROUP]]
    assert host.call("leaveGroup", socketId=sid, address="237.132.100.17").args == [-108]
    assert host.call("leaveGroup", socketId=sid, address=GROUP).args == [0]
    assert host.call("getJoinedGroups", socketId=sid).args == [[]]
    host.call("joinGroup", socketId=sid, address=GROUP)
    host.call("disconnect", socketId=sid)
    assert host.call("getJoinedGroups", socketId=sid).args == [[]]
    host.call("destroy", socketId=sid)


def _send_multicast(host: HostClient, port: int, message: bytes) -> None:
    client = create(host)
    assert host.call("setMulticastTimeToLive", socketId=client, ttl=0).args == [0]
    assert host.call("connect", socketId=client, hostname=GROUP, port=port).args == [0]
    assert host.call("write", socketId=client, data=b64(message)).value["bytesWritten"] == len(message)
    host.call("destroy", socketId=client)


def _unicast(port: int, data: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(data, ("127.0.0.1", port))


def test_multicast_arrives_only_while_joined(host: HostClient) -> None:
    # Whether the group's datagram was dropped is shown without waiting: a unicast datagram sent after it (the
    # multicast send has returned, so on loopback it is queued first if it is queued at all) is what a
    # pending recvFrom gets instead.
    message = "".join(f"{i:02x}" for i in range(64)).encode("utf-16-le")  # 256 bytes, as multicast.js
    server = bound(host)
    port = host.call("getInfo", socketId=server).value["localPort"]
    before = host.start("recvFrom", socketId=server, bufferSize=1024)
    _send_multicast(host, port, message)
    _unicast(port, b"unicast")
    assert before.result().data() == b"unicast"

    assert host.call("joinGroup", socketId=server, address=GROUP).args == [0]
    joined = host.start("recvFrom", socketId=server, bufferSize=1024)
    _send_multicast(host, port, message)
    got = joined.result()
    assert (got.value["resultCode"], got.data()) == (len(message), message)

    assert host.call("leaveGroup", socketId=server, address=GROUP).args == [0]
    left = host.start("recvFrom", socketId=server, bufferSize=1024)
    _send_multicast(host, port, message)
    _unicast(port, b"after leaving")
    assert left.result().data() == b"after leaving"

    assert host.call("joinGroup", socketId=server, address=GROUP).args == [0]
    pending = host.start("recvFrom", socketId=server, bufferSize=1024)
    leave = host.start("leaveGroup", socketId=server, address=GROUP)
    host.start("disconnect", socketId=server)
    assert leave.result().args == [0]
    assert pending.result().value["resultCode"] == -100
    host.call("destroy", socketId=server)


# -- address families (Chrome 156, tests/e2e/scenarios/host_forms.js and udp_localhost.js) ------------------

def test_send_to_an_ipv6_address_from_an_ipv4_socket_is_unreachable_and_the_socket_keeps_serving(
        host: HostClient, echo: UdpEchoServer) -> None:
    sid = bound(host)
    for address in ("::1", "::ffff:127.0.0.1", "localhost", "LOCALHOST.", "printer.localhost"):
        sent = host.call("sendTo", socketId=sid, data=b64(b"x"), address=address, port=echo.port)
        assert sent.args == [{"bytesWritten": -109}], address  # localhost is ::1 first, as Chrome's resolver
    pending = host.start("recvFrom", socketId=sid)
    assert host.call("sendTo", socketId=sid, data=b64(b"y"), address="127.0.0.1", port=echo.port).args == [
        {"bytesWritten": 1}]
    assert pending.result().data() == b"y"


def test_send_to_an_ipv4_address_from_a_socket_bound_to_any_ipv6_goes_v4_mapped(
        host: HostClient, echo: UdpEchoServer) -> None:
    sid = create(host)
    assert host.call("bind", socketId=sid, address="::", port=0).args == [0]
    pending = host.start("recvFrom", socketId=sid)
    assert host.call("sendTo", socketId=sid, data=b64(b"z"), address="127.0.0.1", port=echo.port).args == [
        {"bytesWritten": 1}]
    got = pending.result()
    assert got.data() == b"z" and got.value["address"] == "::ffff:7f00:1" and got.value["port"] == echo.port


def test_connect_to_localhost_takes_ipv6_loopback_first(host: HostClient, echo: UdpEchoServer) -> None:
    sid = create(host)
    assert host.call("connect", socketId=sid, hostname="localhost", port=echo.port).args == [0]
    assert host.call("getInfo", socketId=sid).value["peerAddress"] == "::1"


def test_names_no_resolver_would_take_fail_at_once_with_name_not_resolved(host: HostClient,
                                                                             echo: UdpEchoServer) -> None:
    sid = bound(host)
    # In this loopback-only namespace a lookup that fails answers -106 (no network); these never get one.
    for address in ("", " 127.0.0.1", "127.0.0.1 ", "[127.0.0.1]", "[::1]", "127.0.0.1:1", "127.0.0.1%lo"):
        sent = host.call("sendTo", socketId=sid, data=b64(b"x"), address=address, port=echo.port)
        assert (sent.args, sent.last_error) == ([-105], "DNS resolution failed"), address
