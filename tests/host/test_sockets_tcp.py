"""chrome.sockets.tcp and chrome.sockets.tcpServer through a real resocket-host: Chrome 156's results
(docs/compatibility.md, "chrome.sockets"), push-style receive, accepted sockets arriving paused."""
from __future__ import annotations

import base64
import socket
import struct
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.host.sockets_support import Events, call
from tests.support.certs import Pki
from tests.support.hostclient import HostClient, b64
from tests.support.servers import TlsEchoServer, start_host

SOCKETS_RULES = ["tcp-connect", "tcp-listen", "udp-bind", "udp-send-to", "udp-multicast-membership"]


@pytest.fixture()
def host(tmp_path: Path) -> HostClient:
    client = start_host(tmp_path, SOCKETS_RULES)
    yield client
    client.close()


def create(host: HostClient, api: str = "tcp", **properties: object) -> int:
    return host.call(f"{api}.create", properties=properties).value["socketId"]


def listening(host: HostClient) -> tuple[int, int]:
    server = create(host, "tcpServer")
    assert call(host, "tcpServer.listen", socketId=server, address="127.0.0.1", port=0) == ([0], None)
    return server, host.call("tcpServer.getInfo", socketId=server).value["localPort"]


def accept_pair(host: HostClient, events: Events, **properties: object) -> tuple[int, int, int]:
    """(server, client, accepted) ids: a chrome.sockets.tcp client connected to a tcpServer of the same host."""
    server, port = listening(host)
    client = create(host, **properties)
    assert call(host, "tcp.connect", socketId=client, peerAddress="127.0.0.1", peerPort=port) == ([0], None)
    accepted = events.wait("tcpServer.onAccept", server)["clientSocketId"]
    return server, client, accepted


def test_each_namespace_numbers_its_own_ids_from_one(host: HostClient) -> None:
    assert [create(host, "tcp"), create(host, "tcp"), create(host, "udp"), create(host, "tcpServer")] == [1, 2, 1, 1]
    assert host.call("create", type="tcp").value == {"socketId": 1}  # chrome.socket keeps its own counter too


def test_get_info_shows_properties_only_when_set(host: HostClient) -> None:
    plain = create(host)
    named = create(host, name="n", persistent=True, bufferSize=100)
    assert host.call("tcp.getInfo", socketId=plain).args == [
        {"socketId": plain, "persistent": False, "paused": False, "connected": False}]
    assert host.call("tcp.getInfo", socketId=named).args == [
        {"socketId": named, "persistent": True, "name": "n", "bufferSize": 100, "paused": False, "connected": False}]
    assert call(host, "tcp.update", socketId=plain, properties={"name": "x", "bufferSize": 7}) == ([], None)
    assert call(host, "tcp.setPaused", socketId=plain, paused=True) == ([], None)
    assert host.call("tcp.getInfo", socketId=plain).value == {
        "socketId": plain, "persistent": False, "name": "x", "bufferSize": 7, "paused": True, "connected": False}
    assert [i["socketId"] for i in host.call("tcp.getSockets").value] == [plain, named]


def test_a_name_too_long_for_a_reply_is_refused_and_getsockets_keeps_working(host: HostClient) -> None:
    """A name of 64 KiB is kept; a longer one is refused up front (bad_args): getInfo and getSockets must fit in
    Chrome's 1 MiB frame to the page, which a 1 MB name broke with an `internal` error."""
    longest = "n" * 64 * 1024
    kept = create(host, name=longest)
    for op, args in (("tcp.create", {"properties": {"name": longest + "n"}}),
                     ("tcp.update", {"socketId": kept, "properties": {"name": "m" * 1_100_000}}),
                     ("udp.create", {"properties": {"name": longest + "n"}})):
        error = host.request(op, **args)["error"]
        assert error == {"code": "bad_args", "message": "properties.name is longer than 65536 characters"}, op
    assert host.call("tcp.getInfo", socketId=kept).value["name"] == longest
    assert [i["socketId"] for i in host.call("tcp.getSockets").value] == [kept]


@pytest.mark.parametrize("op,args,expected", [
    ("tcp.getInfo", {}, []), ("tcp.update", {"properties": {}}, []), ("tcp.setPaused", {"paused": True}, []),
    ("tcp.send", {"data": b64(b"x")}, []), ("tcp.disconnect", {}, []), ("tcp.close", {}, []),
    ("tcp.connect", {"peerAddress": "127.0.0.1", "peerPort": 1}, []),
    ("tcp.setKeepAlive", {"enable": True}, [-2]), ("tcp.setNoDelay", {"noDelay": True}, [-2]),
    ("tcp.secure", {}, [-4]),
    ("tcpServer.getInfo", {}, []), ("tcpServer.listen", {"address": "127.0.0.1", "port": 0}, []),
    ("tcpServer.disconnect", {}, []), ("tcpServer.close", {}, []), ("tcpServer.setPaused", {"paused": False}, []),
])
def test_unknown_socket_id_is_socket_not_found(host: HostClient, op: str, args: dict, expected: list) -> None:
    assert call(host, op, socketId=99, **args) == (expected, "Socket not found")


def test_methods_on_an_unconnected_socket_answer_as_chrome(host: HostClient) -> None:
    sid = create(host)
    assert call(host, "tcp.send", socketId=sid, data=b64(b"abc")) == (
        [{"resultCode": -15}], "net::ERR_SOCKET_NOT_CONNECTED")
    assert call(host, "tcp.setKeepAlive", socketId=sid, enable=True) == ([-2], "net::ERR_FAILED")
    assert call(host, "tcp.setNoDelay", socketId=sid, noDelay=True) == ([-2], "net::ERR_FAILED")
    assert call(host, "tcp.secure", socketId=sid) == ([-4], "Socket not connected")
    assert call(host, "tcp.disconnect", socketId=sid) == ([], None)


def test_connect_refused_and_wrapped_port(host: HostClient) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sid = create(host)
    assert call(host, "tcp.connect", socketId=sid, peerAddress="127.0.0.1", peerPort=port) == (
        [-102], "net::ERR_CONNECTION_REFUSED")
    # Chrome 156 takes the port modulo 65536 (no range error in chrome.sockets.tcp).
    assert call(host, "tcp.connect", socketId=sid, peerAddress="127.0.0.1", peerPort=port + 65536) == (
        [-102], "net::ERR_CONNECTION_REFUSED")


def test_accepted_socket_arrives_paused_and_delivers_in_buffer_size_events_once_resumed(host: HostClient) -> None:
    events = Events(host)
    server, client, accepted = accept_pair(host, events)
    info = host.call("tcp.getInfo", socketId=accepted).value
    assert info["paused"] is True and info["connected"] is True and "localAddress" not in info
    assert host.call("tcp.getInfo", socketId=client).value["peerPort"] == \
        host.call("tcpServer.getInfo", socketId=server).value["localPort"]
    assert call(host, "tcp.send", socketId=client, data=b64(b"hello world, 22 bytes!")) == (
        [{"resultCode": 0, "bytesSent": 22}], None)
    assert call(host, "tcp.send", socketId=client, data="") == ([{"resultCode": 0, "bytesSent": 0}], None)
    events.drain()
    assert events.untaken("tcp.onReceive", accepted) == []  # paused: nothing delivered
    host.call("tcp.update", socketId=accepted, properties={"bufferSize": 4})
    host.call("tcp.setPaused", socketId=accepted, paused=False)
    pieces = [base64.b64decode(events.wait("tcp.onReceive", accepted)["data"]) for _ in range(6)]
    assert b"".join(pieces) == b"hello world, 22 bytes!"
    assert all(len(p) <= 4 for p in pieces)


def test_peer_close_is_on_receive_error_minus_100_and_pauses_the_socket(host: HostClient) -> None:
    events = Events(host)
    _, client, accepted = accept_pair(host, events)
    host.call("tcp.send", socketId=accepted, data=b64(b"bye"))
    assert events.received("tcp.onReceive", client, 3) == b"bye"
    assert call(host, "tcp.close", socketId=accepted) == ([], None)
    assert events.wait("tcp.onReceiveError", client) == {"socketId": client, "resultCode": -100}
    info = host.call("tcp.getInfo", socketId=client).value
    assert (info["connected"], info["paused"]) == (False, True)
    assert call(host, "tcp.getInfo", socketId=accepted) == ([], "Socket not found")


def test_disconnect_while_receiving_reports_minus_100_and_the_socket_can_connect_again(host: HostClient) -> None:
    events = Events(host)
    server, client, _ = accept_pair(host, events)
    assert call(host, "tcp.disconnect", socketId=client) == ([], None)
    assert events.wait("tcp.onReceiveError", client) == {"socketId": client, "resultCode": -100}
    port = host.call("tcpServer.getInfo", socketId=server).value["localPort"]
    assert call(host, "tcp.connect", socketId=client, peerAddress="127.0.0.1", peerPort=port) == ([0], None)
    assert call(host, "tcp.connect", socketId=client, peerAddress="127.0.0.1", peerPort=port) == (
        [-23], "net::ERR_SOCKET_IS_CONNECTED")
    assert call(host, "tcp.setKeepAlive", socketId=client, enable=True, delay=10) == ([0], None)
    assert call(host, "tcp.setNoDelay", socketId=client, noDelay=True) == ([0], None)


def test_secure_on_a_socket_that_is_not_paused_fails_and_removes_it(host: HostClient) -> None:
    events = Events(host)
    _, client, _ = accept_pair(host, events)
    assert call(host, "tcp.secure", socketId=client) == ([-2], "net::ERR_FAILED")
    assert call(host, "tcp.getInfo", socketId=client) == ([], "Socket not found")


def test_listen_answers_and_relisten_and_disconnect(host: HostClient) -> None:
    server, port = listening(host)
    other = create(host, "tcpServer")
    assert call(host, "tcpServer.listen", socketId=other, address="127.0.0.1", port=port) == (
        [-147], "net::ERR_ADDRESS_IN_USE")
    assert call(host, "tcpServer.listen", socketId=other, address="localhost", port=0) == (
        [-4], "net::ERR_INVALID_ARGUMENT")
    assert host.call("tcpServer.getInfo", socketId=other).value == {
        "socketId": other, "persistent": False, "paused": False}
    # Listening again on a listening socket listens anew (Chrome 156).
    assert call(host, "tcpServer.listen", socketId=server, address="127.0.0.1", port=0) == ([0], None)
    assert host.call("tcpServer.getInfo", socketId=server).value["localPort"] != port
    assert call(host, "tcpServer.disconnect", socketId=server) == ([], None)
    assert "localPort" not in host.call("tcpServer.getInfo", socketId=server).value
    assert call(host, "tcpServer.close", socketId=server) == ([], None)
    assert call(host, "tcpServer.close", socketId=server) == ([], "Socket not found")


def test_paused_server_leaves_connections_in_the_backlog_until_resumed(host: HostClient) -> None:
    events = Events(host)
    server, port = listening(host)
    host.call("tcpServer.setPaused", socketId=server, paused=True)
    # One accept was already waiting when the app paused: it completes (as in Chrome 156).
    first = socket.create_connection(("127.0.0.1", port), timeout=10)
    events.wait("tcpServer.onAccept", server)
    second = socket.create_connection(("127.0.0.1", port), timeout=10)  # completes in the kernel backlog
    events.drain()
    assert events.untaken("tcpServer.onAccept", server) == []
    host.call("tcpServer.setPaused", socketId=server, paused=False)
    accepted = events.wait("tcpServer.onAccept", server)["clientSocketId"]
    second.sendall(b"second")
    host.call("tcp.setPaused", socketId=accepted, paused=False)
    assert events.received("tcp.onReceive", accepted, 6) == b"second"
    first.close()
    second.close()


def test_permissions_are_checked_per_operation(tmp_path: Path) -> None:
    host = start_host(tmp_path, ["tcp-connect:localhost:*", "tcp-listen:127.0.0.1:*"])
    try:
        sid = create(host)
        assert call(host, "tcp.connect", socketId=sid, peerAddress="127.0.0.1", peerPort=9) == (
            [], "Does not have permission")
        server = create(host, "tcpServer")
        assert call(host, "tcpServer.listen", socketId=server, address="0.0.0.0", port=0) == (
            [], "Does not have permission")
        assert call(host, "tcpServer.listen", socketId=server, address="127.0.0.1", port=0) == ([0], None)
    finally:
        host.close()


def test_a_large_transfer_arrives_complete_and_in_order(host: HostClient) -> None:
    events = Events(host)
    _, client, accepted = accept_pair(host, events, bufferSize=1 << 20)
    payload = bytes(range(256)) * 4096 * 2  # 2 MiB
    done = threading.Event()
    results: list = []

    def send() -> None:
        results.append(host.call("tcp.send", socketId=accepted, data=b64(payload), timeout=60).value)
        done.set()

    threading.Thread(target=send, daemon=True).start()
    assert events.received("tcp.onReceive", client, len(payload), timeout=60) == payload
    assert done.wait(60) and results == [{"resultCode": 0, "bytesSent": len(payload)}]
    # Every frame to the browser stays below 70 KB (docs/protocol.md), events included.
    assert max(len(frame) for frame in host.raw_frames) < 70_000


@pytest.fixture()
def tls_host(tmp_path: Path, pki: Pki) -> HostClient:
    client = start_host(tmp_path, SOCKETS_RULES, SSL_CERT_FILE=str(pki.ca))
    yield client
    client.close()


def test_connect_honours_dns_query_type_and_localhost_as_ipv6_is_only_loopback_v6(host: HostClient) -> None:
    # Chrome 156 (golden/chrome/sockets_multicast.json): "localhost" as "ipv6" is ::1 only, whatever
    # /etc/hosts says, so a server on 127.0.0.1 alone refuses; "ipv4" and "any" reach it.
    with socket.socket() as v4:
        v4.bind(("127.0.0.1", 0))
        v4.listen()
        port = v4.getsockname()[1]
        results = {}
        for query_type in ("ipv4", "any", "ipv6"):
            sid = create(host)
            results[query_type] = call(host, "tcp.connect", socketId=sid, peerAddress="localhost", peerPort=port,
                                       dnsQueryType=query_type)
            host.call("tcp.close", socketId=sid)
        assert results == {"ipv4": ([0], None), "any": ([0], None),
                           "ipv6": ([-102], "net::ERR_CONNECTION_REFUSED")}
    # An IP literal of the other family does not resolve (HostResolverManager::ResolveAsIP).
    sid = create(host)
    assert call(host, "tcp.connect", socketId=sid, peerAddress="127.0.0.1", peerPort=port, dnsQueryType="ipv6") == (
        [-105], "net::ERR_NAME_NOT_RESOLVED")


def test_connect_to_localhost_as_ipv6_reaches_a_server_on_loopback_v6(host: HostClient) -> None:
    with socket.socket(socket.AF_INET6) as v6:
        v6.bind(("::1", 0))
        v6.listen()
        sid = create(host)
        assert call(host, "tcp.connect", socketId=sid, peerAddress="LocalHost.", peerPort=v6.getsockname()[1],
                    dnsQueryType="ipv6") == ([0], None)
        assert host.call("tcp.getInfo", socketId=sid).value["peerAddress"] == "::1"
        sid = create(host)
        assert call(host, "tcp.connect", socketId=sid, peerAddress="localhost", peerPort=v6.getsockname()[1],
                    dnsQueryType="ipv4") == ([-102], "net::ERR_CONNECTION_REFUSED")


def test_secure_after_pausing_a_connected_socket_fails_and_ends_the_read_in_progress(tls_host: HostClient,
                                                                                     pki: Pki) -> None:
    # Chrome 156 (golden/chrome/sockets_secure_reading.json): the read started at connect is still in
    # progress when the app pauses, so secure() fails with -2, removes the socket and the read ends with -100.
    events = Events(tls_host)
    with TlsEchoServer(pki.good.cert, pki.good.key) as server:
        late = create(tls_host)
        assert call(tls_host, "tcp.connect", socketId=late, peerAddress="localhost", peerPort=server.port) == (
            [0], None)
        assert call(tls_host, "tcp.setPaused", socketId=late, paused=True) == ([], None)
        assert call(tls_host, "tcp.secure", socketId=late) == ([-2], "net::ERR_FAILED")
        assert events.wait("tcp.onReceiveError", late) == {"socketId": late, "resultCode": -100}
        assert call(tls_host, "tcp.getInfo", socketId=late) == ([], "Socket not found")
        # Paused before connect: no read ever started, and secure() succeeds.
        early = create(tls_host)
        assert call(tls_host, "tcp.setPaused", socketId=early, paused=True) == ([], None)
        assert call(tls_host, "tcp.connect", socketId=early, peerAddress="localhost", peerPort=server.port) == (
            [0], None)
        assert call(tls_host, "tcp.secure", socketId=early) == ([0], None)
        assert call(tls_host, "tcp.setPaused", socketId=early, paused=False) == ([], None)
        assert call(tls_host, "tcp.send", socketId=early, data=b64(b"over tls")) == (
            [{"resultCode": 0, "bytesSent": 8}], None)
        assert events.received("tcp.onReceive", early, 8) == b"over tls"
        assert events.untaken("tcp.onReceiveError", early) == []
        tls_host.call("tcp.close", socketId=early)


def test_listen_on_a_listening_server_ends_its_accept_with_minus_2_and_pauses_it(host: HostClient) -> None:
    # Chrome 156 (golden/chrome/sockets_server.json): the accept in progress on the old listener fails with
    # onAcceptError -2, which pauses the server; it listens anew on a new port.
    events = Events(host)
    server, old_port = listening(host)
    assert call(host, "tcpServer.listen", socketId=server, address="127.0.0.1", port=0) == ([0], None)
    assert events.wait("tcpServer.onAcceptError", server) == {"socketId": server, "resultCode": -2}
    info = host.call("tcpServer.getInfo", socketId=server).value
    assert info["paused"] is True and info["localPort"] != old_port
    # Paused: a connection waits in the backlog until the app resumes the server.
    with socket.create_connection(("127.0.0.1", info["localPort"]), timeout=10):
        events.drain()
        assert events.untaken("tcpServer.onAccept", server) == []
        assert call(host, "tcpServer.setPaused", socketId=server, paused=False) == ([], None)
        events.wait("tcpServer.onAccept", server)
    assert events.untaken("tcpServer.onAcceptError", server) == []


def test_a_connection_reset_is_on_receive_error_minus_100(host: HostClient) -> None:
    # Chrome 156 reports every end of the read side as -100, a reset too (golden/chrome/sockets_server.json).
    events = Events(host)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        sid = create(host)
        assert call(host, "tcp.connect", socketId=sid, peerAddress="127.0.0.1",
                    peerPort=listener.getsockname()[1]) == ([0], None)
        peer, _ = listener.accept()
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()  # linger 0: RST instead of FIN
    assert events.wait("tcp.onReceiveError", sid) == {"socketId": sid, "resultCode": -100}
    assert host.call("tcp.getInfo", socketId=sid).value["paused"] is True


@pytest.mark.parametrize("how", ["tcp.disconnect", "tcp.close"])
def test_a_connect_cut_short_by_disconnect_or_close_is_answered_aborted(host: HostClient, how: str) -> None:
    """A connect waiting on a full backlog, then tcp.disconnect or tcp.close: the connect is answered -3 +
    "net::ERR_ABORTED" (the shim drops that answer: Chrome 156 never calls it back, sockets_pending_aborts), and
    the host keeps serving. tcp.disconnect used to fail with an internal error here."""
    server = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = server.getsockname()[1]
    fillers = []
    try:
        sid = create(host)
        pending = None
        for _ in range(8):
            waiting = host.start("tcp.connect", socketId=sid, peerAddress="127.0.0.1", peerPort=port)
            try:
                waiting.result(timeout=0.4)
            except TimeoutError:
                pending = waiting
                break
            fillers.append(sid)  # connected: its connection fills the backlog; try with a new socket
            sid = create(host)
        assert pending is not None, "no connect ever waited"
        assert call(host, how, socketId=sid) == ([], None)
        done = pending.result()
        assert (done.args, done.last_error) == ([-3], "net::ERR_ABORTED")
        assert host.call("tcp.getSockets").args[0] is not None  # still serving
    finally:
        for filler in fillers:
            host.call("tcp.close", socketId=filler)
        server.close()


def test_a_send_that_meets_a_reset_is_called_back_and_the_next_one_fails(host: HostClient) -> None:
    """Chrome 156 (oracle sockets_peer_close): a send is called back once its bytes are in the socket's pipe, so
    the one that meets the reset succeeds, getInfo still says connected, and the next send fails -2 and
    disconnects the socket. A paused socket does not read, so only its sends meet the reset."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        sid = create(host)
        assert call(host, "tcp.setPaused", socketId=sid, paused=True) == ([], None)
        assert call(host, "tcp.connect", socketId=sid, peerAddress="127.0.0.1",
                    peerPort=listener.getsockname()[1]) == ([0], None)
        peer, _ = listener.accept()
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()  # linger 0: RST instead of FIN
    results = []
    for _ in range(20):
        args, error = call(host, "tcp.send", socketId=sid, data=b64(b"x" * 1024))
        results.append((args[0], error))
        if args[0]["resultCode"] < 0:
            break
        time.sleep(0.05)
    assert results[-1] == ({"resultCode": -2}, "net::ERR_FAILED"), results
    assert all(r == ({"resultCode": 0, "bytesSent": 1024}, None) for r in results[:-1]) and len(results) >= 2
    assert host.call("tcp.getInfo", socketId=sid).value["connected"] is False
    assert call(host, "tcp.send", socketId=sid, data=b64(b"x"))[0][0]["resultCode"] == -15
