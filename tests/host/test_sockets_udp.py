"""chrome.sockets.udp through a real resocket-host: Chrome 156's results (docs/compatibility.md,
"chrome.sockets"), pushed datagrams, -142 for a datagram larger than bufferSize, pause, multicast."""
from __future__ import annotations

import base64
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.host.sockets_support import Events, call
from tests.support.hostclient import HostClient, b64
from tests.support.servers import start_host

RULES = ["udp-bind", "udp-send-to", "udp-multicast-membership"]


@pytest.fixture()
def host(tmp_path: Path) -> HostClient:
    client = start_host(tmp_path, RULES)
    yield client
    client.close()


def bound(host: HostClient, **properties: object) -> tuple[int, int]:
    sid = host.call("udp.create", properties=properties).value["socketId"]
    assert call(host, "udp.bind", socketId=sid, address="127.0.0.1", port=0) == ([0], None)
    return sid, host.call("udp.getInfo", socketId=sid).value["localPort"]


@pytest.mark.parametrize("op,args", [
    ("udp.getInfo", {}), ("udp.bind", {"address": "127.0.0.1", "port": 0}),
    ("udp.send", {"data": "", "address": "127.0.0.1", "port": 9}), ("udp.close", {}),
    ("udp.joinGroup", {"address": "224.0.0.251"}), ("udp.getJoinedGroups", {}),
    ("udp.setMulticastTimeToLive", {"ttl": 3}), ("udp.setBroadcast", {"enabled": True}),
    ("udp.setPaused", {"paused": True}), ("udp.update", {"properties": {}}),
])
def test_unknown_socket_id_is_socket_not_found(host: HostClient, op: str, args: dict) -> None:
    assert call(host, op, socketId=99, **args) == ([], "Socket not found")


def test_unbound_socket_answers_as_chrome(host: HostClient) -> None:
    sid = host.call("udp.create").value["socketId"]
    assert host.call("udp.getInfo", socketId=sid).value == {"socketId": sid, "persistent": False, "paused": False}
    assert call(host, "udp.send", socketId=sid, data=b64(b"abc"), address="127.0.0.1", port=9) == (
        [{"resultCode": -15}], "net::ERR_SOCKET_NOT_CONNECTED")
    assert call(host, "udp.setBroadcast", socketId=sid, enabled=True) == ([-15], "net::ERR_SOCKET_NOT_CONNECTED")
    assert call(host, "udp.joinGroup", socketId=sid, address="224.0.0.251") == ([-9], "net::ERR_UNEXPECTED")
    assert call(host, "udp.getJoinedGroups", socketId=sid) == ([[]], None)
    assert call(host, "udp.setMulticastTimeToLive", socketId=sid, ttl=300) == ([-4], "net::ERR_INVALID_ARGUMENT")
    assert call(host, "udp.setMulticastTimeToLive", socketId=sid, ttl=3) == ([0], None)


def test_bind_twice_and_wrapped_port(host: HostClient) -> None:
    sid, _ = bound(host)
    assert call(host, "udp.bind", socketId=sid, address="127.0.0.1", port=0) == ([-104], "net::ERR_CONNECTION_FAILED")
    assert call(host, "udp.setMulticastTimeToLive", socketId=sid, ttl=3) == ([-23], "net::ERR_SOCKET_IS_CONNECTED")
    assert call(host, "udp.setBroadcast", socketId=sid, enabled=True) == ([0], None)
    assert call(host, "udp.send", socketId=sid, data=b64(bytes(70000)), address="127.0.0.1", port=9) == (
        [{"resultCode": -142}], "net::ERR_MSG_TOO_BIG")
    assert call(host, "udp.close", socketId=sid) == ([], None)
    assert call(host, "udp.close", socketId=sid) == ([], "Socket not found")


def test_datagrams_are_pushed_with_the_sender_address(host: HostClient) -> None:
    events = Events(host)
    receiver, port = bound(host)
    sender, sender_port = bound(host)
    assert call(host, "udp.send", socketId=sender, data=b64(b"abc"), address="127.0.0.1", port=port) == (
        [{"resultCode": 0, "bytesSent": 3}], None)
    assert events.wait("udp.onReceive", receiver) == {
        "socketId": receiver, "data": b64(b"abc"), "remoteAddress": "127.0.0.1", "remotePort": sender_port}


def test_a_datagram_larger_than_buffer_size_is_minus_142_and_pauses(host: HostClient) -> None:
    events = Events(host)
    receiver, port = bound(host, bufferSize=4)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.sendto(b"abcdefgh", ("127.0.0.1", port))
        assert events.wait("udp.onReceiveError", receiver) == {"socketId": receiver, "resultCode": -142}
        assert host.call("udp.getInfo", socketId=receiver).value["paused"] is True
        peer.sendto(b"ok", ("127.0.0.1", port))
        host.call("udp.setPaused", socketId=receiver, paused=False)
        assert base64.b64decode(events.wait("udp.onReceive", receiver)["data"]) == b"ok"


def test_paused_socket_keeps_datagrams_in_the_kernel_until_resumed(host: HostClient) -> None:
    events = Events(host)
    receiver, port = bound(host)
    host.call("udp.setPaused", socketId=receiver, paused=True)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        # The receive already waiting when the app pauses still delivers one datagram (Chrome 156 does too:
        # golden/chrome/sockets_udp.json); the next ones wait in the kernel.
        peer.sendto(b"p0", ("127.0.0.1", port))
        assert base64.b64decode(events.wait("udp.onReceive", receiver)["data"]) == b"p0"
        for text in (b"p1", b"p2"):
            peer.sendto(text, ("127.0.0.1", port))
        events.drain()
        assert events.untaken("udp.onReceive", receiver) == []
        host.call("udp.setPaused", socketId=receiver, paused=False)
        got = [base64.b64decode(events.wait("udp.onReceive", receiver)["data"]) for _ in range(2)]
        assert got == [b"p1", b"p2"]


def test_multicast_membership(host: HostClient) -> None:
    sid, _ = bound(host)
    assert call(host, "udp.joinGroup", socketId=sid, address="224.0.0.251") == ([0], None)
    assert call(host, "udp.joinGroup", socketId=sid, address="224.0.0.251") == ([-108], "net::ERR_ADDRESS_INVALID")
    assert call(host, "udp.getJoinedGroups", socketId=sid) == ([["224.0.0.251"]], None)
    assert call(host, "udp.leaveGroup", socketId=sid, address="224.0.0.251") == ([0], None)
    assert call(host, "udp.leaveGroup", socketId=sid, address="224.0.0.251") == ([-108], "net::ERR_ADDRESS_INVALID")
    assert call(host, "udp.setMulticastLoopbackMode", socketId=sid, enabled=True) == (
        [-23], "net::ERR_SOCKET_IS_CONNECTED")


def test_permissions_use_chromes_udp_message(tmp_path: Path) -> None:
    host = start_host(tmp_path, ["udp-bind:127.0.0.1:*", "udp-send-to:127.0.0.1:*"])
    try:
        sid = host.call("udp.create").value["socketId"]
        assert call(host, "udp.bind", socketId=sid, address="0.0.0.0", port=0) == ([], "App does not have permission")
        assert call(host, "udp.joinGroup", socketId=sid, address="224.0.0.251") == (
            [], "App does not have permission")
        assert call(host, "udp.getJoinedGroups", socketId=sid) == ([], "App does not have permission")
        assert call(host, "udp.bind", socketId=sid, address="127.0.0.1", port=0) == ([0], None)
        assert call(host, "udp.send", socketId=sid, data="", address="127.0.0.2", port=9) == (
            [], "App does not have permission")
    finally:
        host.close()


def test_send_honours_dns_query_type(host: HostClient) -> None:
    events = Events(host)
    sender, _ = bound(host)
    receiver, port = bound(host)
    # Chrome 156 (golden/chrome/sockets_multicast.json): "localhost" as "ipv4" is 127.0.0.1.
    assert call(host, "udp.send", socketId=sender, data=b64(b"v4"), address="localhost", port=port,
                dnsQueryType="ipv4") == ([{"resultCode": 0, "bytesSent": 2}], None)
    assert base64.b64decode(events.wait("udp.onReceive", receiver)["data"]) == b"v4"
    # An IP literal of the other family does not resolve (HostResolverManager::ResolveAsIP).
    assert call(host, "udp.send", socketId=sender, data=b64(b"v6"), address="127.0.0.1", port=port,
                dnsQueryType="ipv6") == ([{"resultCode": -105}], "net::ERR_NAME_NOT_RESOLVED")
