"""chrome.socket TCP through a real resocket-host: Chrome's results per method and per state
(docs/chrome-behaviour.md sections 2, 3, 7.1, 7.2), large transfers, IPv6."""
from __future__ import annotations

import re
import socket
import sys
from pathlib import Path

import pytest

# tests/ has no __init__.py: make `tests.support` importable from the repo root.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.hostclient import HostClient, b64
from tests.support.servers import HTTP_REQUEST, HttpEchoServer, TcpServer, closed_port

EXPECTED = re.compile(rb"\n0100000005320000005$")


@pytest.fixture(scope="module")
def http() -> HttpEchoServer:
    with HttpEchoServer() as server:
        yield server


def create(host: HostClient, kind: str = "tcp") -> int:
    return host.call("create", type=kind).value["socketId"]


def connected(host: HostClient, port: int, hostname: str = "127.0.0.1") -> int:
    sid = create(host)
    assert host.call("connect", socketId=sid, hostname=hostname, port=port).args == [0]
    return sid


# -- 7.1 testSocketCreation / testSending / testPendingCallback ------------------------------------------
def test_new_socket_info_has_no_address_fields_and_destroy_forgets_it(host: HostClient) -> None:
    sid = create(host)
    assert sid > 0
    assert host.call("getInfo", socketId=sid).args == [{"socketType": "tcp", "connected": False}]
    host.call("destroy", socketId=sid)
    info = host.call("getInfo", socketId=sid)
    assert (info.args, info.last_error) == ([], "Socket not found")


def test_ids_count_up_and_are_never_reused(host: HostClient) -> None:
    first = create(host)
    host.call("destroy", socketId=first)
    second = create(host, "udp")
    assert second == first + 1


def test_sending_to_http_echo_with_mixed_case_localhost(host: HostClient, http: HttpEchoServer) -> None:
    sid = create(host)
    res = host.call("connect", socketId=sid, hostname="lOcAlHoSt", port=http.port)
    assert (res.args, res.last_error) == ([0], None)
    info = host.call("getInfo", socketId=sid).value
    assert info["peerAddress"] == "127.0.0.1" and info["peerPort"] == http.port and info["connected"] is True
    assert info["localAddress"] == "127.0.0.1" and info["localPort"] > 0
    assert host.call("setNoDelay", socketId=sid, noDelay=True).args == [True]
    assert host.call("setKeepAlive", socketId=sid, enable=True, delay=1000).args == [True]
    assert host.call("write", socketId=sid, data=b64(HTTP_REQUEST)).args == [{"bytesWritten": len(HTTP_REQUEST)}]
    read = host.call("read", socketId=sid)
    assert read.value["resultCode"] == len(read.data())
    assert EXPECTED.search(read.data())
    host.call("destroy", socketId=sid)


def test_pending_read_then_disconnect_then_connect_are_applied_in_order(host: HostClient,
                                                                         http: HttpEchoServer) -> None:
    sid = connected(host, http.port, "localhost")
    first_read = host.start("read", socketId=sid)
    host.start("disconnect", socketId=sid)
    reconnect = host.start("connect", socketId=sid, hostname="localhost", port=http.port)
    assert first_read.result().value["resultCode"] == -100
    assert reconnect.result().args == [0]
    second_read = host.start("read", socketId=sid)
    assert host.call("write", socketId=sid, data=b64(HTTP_REQUEST)).value == {"bytesWritten": len(HTTP_REQUEST)}
    result = second_read.result()
    assert result.value["resultCode"] > 0 and EXPECTED.search(result.data())
    host.call("destroy", socketId=sid)


# -- 7.2 tcp_server ----------------------------------------------------------------------------------------
def test_listen_accept_read_until_eof_then_not_connected(host: HostClient) -> None:
    server = create(host)
    assert host.call("listen", socketId=server, address="127.0.0.1", port=0).args == [0]
    port = host.call("getInfo", socketId=server).value["localPort"]
    first = host.start("accept", socketId=server)
    second = host.call("accept", socketId=server)
    assert (second.args, second.last_error) == ([{"resultCode": -2}], None)
    client = connected(host, port)
    assert host.call("write", socketId=client, data=b64(HTTP_REQUEST)).value["bytesWritten"] == len(HTTP_REQUEST)
    host.call("disconnect", socketId=client)
    accepted = first.result().value
    assert accepted["resultCode"] == 0
    k = accepted["socketId"]
    info = host.call("getInfo", socketId=k).value
    assert info["socketType"] == "tcp" and info["connected"] is True and info["peerAddress"] == "127.0.0.1"
    assert "localAddress" not in info and "localPort" not in info  # quirk copied
    data = b""
    while len(data) < len(HTTP_REQUEST):
        r = host.call("read", socketId=k)
        assert r.value["resultCode"] > 0
        data += r.data()
    assert data == HTTP_REQUEST
    assert host.call("read", socketId=k).args == [{"resultCode": 0, "data": ""}]
    assert host.call("getInfo", socketId=k).value["connected"] is False
    assert host.call("read", socketId=k).value["resultCode"] == -15
    for sid in (server, client, k):
        host.call("destroy", socketId=sid)


def test_second_live_listener_fails_in_use_but_relisten_after_destroy_works(host: HostClient) -> None:
    s1 = create(host)
    assert host.call("listen", socketId=s1, address="127.0.0.1", port=0).args == [0]
    port = host.call("getInfo", socketId=s1).value["localPort"]
    s2 = create(host)
    res = host.call("listen", socketId=s2, address="127.0.0.1", port=port)
    assert (res.args, res.last_error) == ([-147], "Could not listen on the specified port.")
    acc = host.call("accept", socketId=s2)
    assert (acc.args, acc.last_error) == ([{"resultCode": -2}], None)
    # A connection left in TIME_WAIT must not block the re-listen (SO_REUSEADDR).
    c = connected(host, port)
    pending = host.call("accept", socketId=s1)
    host.call("destroy", socketId=pending.value["socketId"])
    host.call("destroy", socketId=c)
    host.send({"id": 10_000, "op": "destroy", "args": {"socketId": s1}})  # no wait: order alone must do
    s3 = create(host)
    assert host.call("listen", socketId=s3, address="127.0.0.1", port=port).args == [0]
    for sid in (s2, s3):
        host.call("destroy", socketId=sid)


def test_listening_again_reports_the_new_port_but_accepts_from_the_first(host: HostClient) -> None:
    """Chrome 156 (oracle listen_twice): a second listen answers 0 and getInfo shows its port, but accepts keep
    taking connections from the first listener; both ports stay taken until disconnect frees them."""
    server = create(host)
    assert host.call("listen", socketId=server, address="127.0.0.1", port=0).args == [0]
    first = host.call("getInfo", socketId=server).value["localPort"]
    assert host.call("listen", socketId=server, address="127.0.0.1", port=0).args == [0]
    second = host.call("getInfo", socketId=server).value["localPort"]
    assert second != first
    pending = host.start("accept", socketId=server)
    to_second = connected(host, second)  # the kernel completes it; nothing accepts it
    to_first = connected(host, first)
    accepted = pending.result().value
    assert accepted["resultCode"] == 0
    peer_port = host.call("getInfo", socketId=accepted["socketId"]).value["peerPort"]
    assert peer_port == host.call("getInfo", socketId=to_first).value["localPort"]
    res = host.call("listen", socketId=server, address="127.0.0.1", port=first)
    assert (res.args, res.last_error) == ([-147], "Could not listen on the specified port.")
    host.call("disconnect", socketId=server)
    for port in (first, second):
        again = create(host)
        assert host.call("listen", socketId=again, address="127.0.0.1", port=port).args == [0], port
        host.call("destroy", socketId=again)
    for sid in (server, to_first, to_second, accepted["socketId"]):
        host.call("destroy", socketId=sid)


def test_accepted_socket_and_client_exchange_data_both_ways(host: HostClient) -> None:
    server = create(host)
    host.call("listen", socketId=server, address="127.0.0.1", port=0, backlog=1)
    port = host.call("getInfo", socketId=server).value["localPort"]
    pending = host.start("accept", socketId=server)
    client = connected(host, port)
    k = pending.result().value["socketId"]
    client_info = host.call("getInfo", socketId=client).value
    assert host.call("getInfo", socketId=k).value["peerPort"] == client_info["localPort"]
    assert client_info["peerPort"] == port
    host.call("write", socketId=k, data=b64(b"ping"))
    assert host.call("read", socketId=client).data() == b"ping"
    host.call("write", socketId=client, data=b64(b"pong"))
    assert host.call("read", socketId=k).data() == b"pong"
    secure = host.call("secure", socketId=k)
    assert (secure.args, secure.last_error) == ([-2], "net::ERR_FAILED")
    assert host.call("getInfo", socketId=k).last_error == "Socket not found"
    for sid in (server, client):
        host.call("destroy", socketId=sid)


# -- section 2/3 error table ---------------------------------------------------------------------------------
UNKNOWN = 999_999
NOT_FOUND = "Socket not found"


@pytest.mark.parametrize("op,args,expected_args,last_error", [
    ("connect", {"hostname": "localhost", "port": 80}, [-1], NOT_FOUND),
    ("bind", {"address": "0.0.0.0", "port": 0}, [-1], NOT_FOUND),
    ("listen", {"address": "127.0.0.1", "port": 0}, [-1], NOT_FOUND),
    ("accept", {}, [{"resultCode": -2}], NOT_FOUND),
    ("read", {}, [{"resultCode": -1, "data": ""}], NOT_FOUND),
    ("write", {"data": b64(b"x")}, [{"bytesWritten": -1}], NOT_FOUND),
    ("recvFrom", {}, [{"resultCode": -1, "data": "", "address": "", "port": 0}], NOT_FOUND),
    ("sendTo", {"data": b64(b"x"), "address": "127.0.0.1", "port": 9}, [-1], NOT_FOUND),
    ("setKeepAlive", {"enable": True}, [False], NOT_FOUND),
    ("setNoDelay", {"noDelay": True}, [False], NOT_FOUND),
    ("getInfo", {}, [], NOT_FOUND),
    ("joinGroup", {"address": "237.132.100.133"}, [-1], NOT_FOUND),
    ("leaveGroup", {"address": "237.132.100.133"}, [-1], NOT_FOUND),
    ("setMulticastTimeToLive", {"ttl": 1}, [-1], NOT_FOUND),
    ("setMulticastLoopbackMode", {"enabled": True}, [-1], NOT_FOUND),
    ("getJoinedGroups", {}, [-1], NOT_FOUND),
    ("secure", {}, [-4], NOT_FOUND),
    ("destroy", {}, [], None),
    ("disconnect", {}, [], None),
    # The port range is checked before the lookup: lastError only.
    ("connect", {"hostname": "foo", "port": -1}, [], "Port must be a value between 0 and 65535."),
    ("bind", {"address": "foo", "port": 65536}, [], "Port must be a value between 0 and 65535."),
    ("sendTo", {"data": b64(b"x"), "address": "foo", "port": -1}, [],
     "Port must be a value between 0 and 65535."),
])
def test_unknown_socket_id(host: HostClient, op: str, args: dict, expected_args: list,
                           last_error: str | None) -> None:
    res = host.call(op, socketId=UNKNOWN, **args)
    assert (res.args, res.last_error) == (expected_args, last_error)


def test_errors_of_a_new_tcp_socket(host: HostClient) -> None:
    sid = create(host)
    assert host.call("read", socketId=sid).args == [{"resultCode": -2, "data": ""}]
    assert host.call("write", socketId=sid, data=b64(b"x")).args == [{"bytesWritten": -15}]
    assert host.call("accept", socketId=sid).args == [{"resultCode": -2}]
    bind = host.call("bind", socketId=sid, address="0.0.0.0", port=0)
    assert (bind.args, bind.last_error) == (
        [-1], "TCP socket does not support bind. For TCP server please use listen.")
    recv = host.call("recvFrom", socketId=sid, bufferSize=256)
    assert recv.value["resultCode"] < 0 and recv.last_error == NOT_FOUND
    send = host.call("sendTo", socketId=sid, data=b64(b"x"), address="127.0.0.1", port=9)
    assert (send.args, send.last_error) == ([{"bytesWritten": -2}], None)
    assert host.call("setKeepAlive", socketId=sid, enable=True).args == [False]
    assert host.call("setNoDelay", socketId=sid, noDelay=True).args == [False]
    sec = host.call("secure", socketId=sid)
    assert (sec.args, sec.last_error) == ([-4], "Socket not connected")
    for op in ("joinGroup", "leaveGroup"):
        res = host.call(op, socketId=sid, address="237.132.100.133")
        assert (res.args, res.last_error) == ([-1], "Only UDP socket supports multicast.")
    res = host.call("getJoinedGroups", socketId=sid)
    assert (res.args, res.last_error) == ([-1], "Only UDP socket supports multicast.")
    ttl = host.call("setMulticastTimeToLive", socketId=sid, ttl=1)
    assert (ttl.args, ttl.last_error) == ([-1], "Only UDP socket supports multicast.")
    host.call("destroy", socketId=sid)


def test_errors_of_a_connected_tcp_socket(host: HostClient, http: HttpEchoServer) -> None:
    sid = connected(host, http.port)
    assert host.call("connect", socketId=sid, hostname="127.0.0.1", port=http.port).args == [-23]
    listen = host.call("listen", socketId=sid, address="127.0.0.1", port=0)
    assert (listen.args, listen.last_error) == ([-11], "Cannot call both connect and listen on the same socket.")
    assert host.call("read", socketId=sid, bufferSize=0).args == [{"resultCode": -4, "data": ""}]
    assert host.call("write", socketId=sid, data="").args == [{"bytesWritten": 0}]
    pending = host.start("read", socketId=sid)
    assert host.call("read", socketId=sid).args == [{"resultCode": -1, "data": ""}]
    host.call("disconnect", socketId=sid)
    assert pending.result().value["resultCode"] == -100
    assert host.call("read", socketId=sid).value["resultCode"] == -15
    assert host.call("write", socketId=sid, data=b64(b"x")).args == [{"bytesWritten": -15}]
    assert host.call("getInfo", socketId=sid).args == [{"socketType": "tcp", "connected": False}]
    assert host.call("setNoDelay", socketId=sid, noDelay=True).args == [False]
    host.call("destroy", socketId=sid)


def test_connect_results(host: HostClient) -> None:
    sid = create(host)
    refused = host.call("connect", socketId=sid, hostname="127.0.0.1", port=closed_port())
    assert (refused.args, refused.last_error) == ([-102], None)
    assert host.call("read", socketId=sid).value["resultCode"] == -15  # failed connect counts as "after"
    with TcpServer() as server:  # the same id connects after a refused connect (Chrome 156)
        assert host.call("connect", socketId=sid, hostname="127.0.0.1", port=server.port).args == [0]
    host.call("destroy", socketId=sid)
    dns = host.call("connect", socketId=create(host), hostname="nonexistent.invalid", port=80)
    # -105, or -106 as Chrome 156 reports where no non-loopback interface is up (this test namespace).
    assert dns.args[0] in (-105, -106) and dns.last_error == "DNS resolution failed"


def test_connect_on_a_listener_fails_and_listen_address_checks(host: HostClient) -> None:
    sid = create(host)
    bad = host.call("listen", socketId=sid, address="localhost", port=0)
    assert (bad.args, bad.last_error) == ([-4], "Unknown error.")  # Chrome 156's lastError
    assert host.call("connect", socketId=sid, hostname="127.0.0.1", port=9).args == [-104]
    host.call("destroy", socketId=sid)
    udp = create(host, "udp")
    res = host.call("listen", socketId=udp, address="127.0.0.1", port=0)
    assert (res.args, res.last_error) == ([-2], "Socket type does not support this API")
    host.call("destroy", socketId=udp)


def test_connect_in_progress_blocks_connect_and_read_and_destroy_aborts_it(host: HostClient) -> None:
    # A listener whose accept queue is full drops SYNs, so the connect stays in progress.
    with socket.socket() as full:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        port = full.getsockname()[1]
        fillers = []
        for _ in range(3):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(("127.0.0.1", port))
            fillers.append(f)
        try:
            sid = create(host)
            first = host.start("connect", socketId=sid, hostname="127.0.0.1", port=port)
            assert host.call("connect", socketId=sid, hostname="127.0.0.1", port=port).args == [-104]
            assert host.call("read", socketId=sid).value["resultCode"] == -1
            assert host.call("write", socketId=sid, data=b64(b"x")).value == {"bytesWritten": -15}
            assert host.call("getInfo", socketId=sid).value == {"socketType": "tcp", "connected": False}
            host.call("destroy", socketId=sid)
            assert first.result().args == [-3]  # Chrome never calls back; resocket answers ERR_ABORTED
        finally:
            for f in fillers:
                f.close()


def test_writes_complete_in_order_with_full_lengths(host: HostClient) -> None:
    with TcpServer() as server:
        sid = connected(host, server.port)
        sizes = [1, 70_000, 3, 300_000, 5]
        pendings = [host.start("write", socketId=sid, data=b64(bytes([i]) * n)) for i, n in enumerate(sizes)]
        results = [p.result().value["bytesWritten"] for p in pendings]
        order = [int(p.id) for p in pendings]
        assert results == sizes and order == sorted(order)
        got = b""
        while len(got) < sum(sizes):
            got += host.call("read", socketId=sid, bufferSize=1 << 20).data()
        assert got == b"".join(bytes([i]) * n for i, n in enumerate(sizes))
        host.call("destroy", socketId=sid)


def test_one_mebibyte_echo_is_byte_exact_and_large_reads_are_split_into_chunks(host: HostClient) -> None:
    payload = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(3 << 19))  # 1.5 MiB
    with TcpServer() as server:
        sid = connected(host, server.port)
        before = len(host.raw_frames)
        write = host.start("write", socketId=sid, data=b64(payload))
        got = b""
        while len(got) < len(payload):
            r = host.call("read", socketId=sid, bufferSize=4 << 20)
            assert r.value["resultCode"] == len(r.data()) > 0
            got += r.data()
        assert write.result().value == {"bytesWritten": len(payload)}
        assert got == payload
        frames = host.raw_frames[before:]
        assert max(len(f) for f in frames) < 70_000
        host.call("destroy", socketId=sid)


def test_destroy_with_a_pending_read_answers_minus_100(host: HostClient, http: HttpEchoServer) -> None:
    sid = connected(host, http.port)
    pending = host.start("read", socketId=sid)
    host.call("destroy", socketId=sid)
    assert pending.result().value == {"resultCode": -100, "data": ""}


def test_ipv6_loopback_connect_and_listen(host: HostClient) -> None:
    with TcpServer("::1") as server:
        sid = connected(host, server.port, "::1")
        info = host.call("getInfo", socketId=sid).value
        assert info["peerAddress"] == "::1" and info["localAddress"] == "::1"
        host.call("write", socketId=sid, data=b64(b"six"))
        assert host.call("read", socketId=sid).data() == b"six"
        host.call("destroy", socketId=sid)
    listener = create(host)
    assert host.call("listen", socketId=listener, address="::1", port=0).args == [0]
    info = host.call("getInfo", socketId=listener).value
    assert info["localAddress"] == "::1" and info["connected"] is False and "peerAddress" not in info
    host.call("destroy", socketId=listener)


def test_peer_reset_reads_as_zero_then_disconnected(host: HostClient) -> None:
    import struct

    with TcpServer() as server:
        def reset(conn: socket.socket) -> None:
            conn.recv(1)  # wait until the client is surely connected, then close with RST
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

        server.serve = reset  # type: ignore[method-assign]
        sid = connected(host, server.port)
        host.call("write", socketId=sid, data=b64(b"x"))
        assert host.call("read", socketId=sid).args == [{"resultCode": 0, "data": ""}]
        assert host.call("getInfo", socketId=sid).value["connected"] is False
        assert host.call("write", socketId=sid, data=b64(b"x")).value == {"bytesWritten": -15}
        host.call("destroy", socketId=sid)


def test_get_network_list_excludes_loopback(host: HostClient) -> None:
    """In the test run's namespace (tests/netns.sh) only `lo` exists, and Chrome's list is empty there."""
    import socket

    from resocket.engine.netlist import chrome_linux_order
    res = host.call("getNetworkList")
    assert res.last_error is None
    assert all(entry["name"] != "lo" for entry in res.value), res.value
    assert res.value == chrome_linux_order(res.value)
    if [name for _, name in socket.if_nameindex()] == ["lo"]:
        assert res.value == []


def test_chrome_lists_each_address_once_ipv4_first_in_byte_order() -> None:
    """AddressTrackerLinux's map, as Chromium 156 showed it (tests/e2e/test_network_list.py): sorted as
    net::IPAddress sorts, and an address on two links listed once, with the link listed last."""
    from resocket.engine.netlist import chrome_linux_order
    listed = [{"address": "fe80::1", "name": "a", "prefixLength": 64},
              {"address": "10.0.0.9", "name": "a", "prefixLength": 8},
              {"address": "9.1.1.1", "name": "a", "prefixLength": 24},
              {"address": "fd00::1", "name": "b", "prefixLength": 64},
              {"address": "10.0.0.9", "name": "b", "prefixLength": 24}]
    assert [(e["address"], e["name"]) for e in chrome_linux_order(listed)] == [
        ("9.1.1.1", "a"), ("10.0.0.9", "b"), ("fd00::1", "b"), ("fe80::1", "a")]
