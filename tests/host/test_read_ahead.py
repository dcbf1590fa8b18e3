"""Read-ahead through a real resocket-host (docs/protocol.md, "Read-ahead"): a read with `stream: true` is
answered, then the socket's bytes are pushed in order as `socket.data` events, at most the window announced in
hello unacknowledged; the end is pushed and collected by a read; disconnects and secure() end the stream.
"""
from __future__ import annotations

import base64
import queue
import socket
import ssl
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.host.conftest import connect
from tests.support.certs import Pki
from tests.support.hostclient import HostClient, b64
from tests.support.servers import TlsEchoServer, start_host

TIMEOUT = 10


@pytest.fixture()
def host(tmp_path: Path, pki: Pki) -> Iterator[HostClient]:
    """A host per test: the events a test leaves unread must not reach the next one."""
    client = start_host(tmp_path, SSL_CERT_FILE=str(pki.ca))
    yield client
    client.close()


def start_stream(host: HostClient, sid: int, conn: socket.socket, first: bytes = b"first") -> tuple[int, bytes]:
    """The first read, asking for read-ahead: its own bytes, and the stream's id from its reply."""
    conn.sendall(first)
    reply = host.call("read", socketId=sid, bufferSize=len(first), stream=True).raw
    result = reply["args"][0]
    assert result["stream"] == reply["id"] and result["resultCode"] == len(first), reply
    return result["stream"], base64.b64decode(result["data"])


def streaming(host: HostClient, srv: socket.socket) -> tuple[int, socket.socket, int]:
    """A connected socket whose first read started read-ahead: (socket id, the peer's end, stream id)."""
    sid, conn = connect(host, srv)
    stream, _ = start_stream(host, sid, conn)
    return sid, conn, stream


def events(host: HostClient, until: float = 0.3) -> list[dict]:
    """Every event frame that arrives until `until` seconds pass without one."""
    out = []
    while True:
        try:
            out.append(host.unsolicited.get(timeout=until))
        except queue.Empty:
            return out


def pushed_bytes(evs: list[dict], stream: int) -> bytes:
    data = b""
    for ev in evs:
        info = ev["args"][0]
        if ev["event"] == "socket.data":
            assert info["stream"] == stream
            data += base64.b64decode(info["data"])
    return data


def ack(host: HostClient, sid: int, stream: int, consumed: int) -> None:
    host.send({"op": "socket.ack", "args": {"socketId": sid, "stream": stream, "consumed": consumed}})


def test_hello_announces_the_read_ahead_window(host: HostClient) -> None:
    assert host.hello_result["readAhead"]["window"] >= 64 * 1024


def test_a_streaming_read_is_answered_then_every_later_byte_is_pushed_in_order(host: HostClient,
                                                                              peer: socket.socket) -> None:
    sid, conn = connect(host, peer)
    stream, first = start_stream(host, sid, conn, b"hello")
    assert first == b"hello"
    payload = bytes(range(256)) * 300  # 76,800 bytes: more than one 64 KiB event frame
    conn.sendall(payload)
    evs = events(host)
    assert pushed_bytes(evs, stream) == payload
    assert all(ev["event"] == "socket.data" and ev["args"][0]["socketId"] == sid for ev in evs)
    assert all(len(base64.b64decode(ev["args"][0]["data"])) <= 64 * 1024 for ev in evs)  # < 90 KB frames
    host.call("destroy", socketId=sid)
    conn.close()


def test_the_host_stops_at_the_window_and_goes_on_when_acknowledged(host: HostClient,
                                                                    peer: socket.socket) -> None:
    window = host.hello_result["readAhead"]["window"]
    sid, conn, stream = streaming(host, peer)
    payload = bytes(range(256)) * (window * 3 // 256)
    conn.setblocking(False)
    sent = acked = stalls = 0
    got = b""
    deadline = time.monotonic() + TIMEOUT
    while len(got) < len(payload) and time.monotonic() < deadline:
        try:
            sent += conn.send(payload[sent:]) if sent < len(payload) else 0
        except BlockingIOError:
            pass
        more = pushed_bytes(events(host, 0.3), stream)
        got += more
        assert len(got) - acked <= window + 64 * 1024, "pushed past the window without an ack"
        if not more:  # stalled at the window: acknowledge everything received
            stalls += 1
            acked = len(got)
            ack(host, sid, stream, acked)
    assert got == payload
    assert stalls >= 2  # it did stop at the window, more than once, and went on after each ack
    host.call("destroy", socketId=sid)
    conn.close()


def test_the_end_is_pushed_and_the_socket_stays_connected_until_a_read_collects_it(
        host: HostClient, peer: socket.socket) -> None:
    sid, conn, stream = streaming(host, peer)
    conn.sendall(b"last words")
    conn.close()
    evs = events(host)
    assert pushed_bytes(evs, stream) == b"last words"
    assert evs[-1] == {"event": "socket.end", "args": [{"socketId": sid, "stream": stream, "resultCode": 0}]}
    assert host.call("getInfo", socketId=sid).value["connected"] is True  # Chrome: until a read returns 0
    assert host.call("write", socketId=sid, data=b64(b"x")).value == {"bytesWritten": 1}  # half-closed peer
    assert host.call("read", socketId=sid).args == [{"resultCode": 0, "data": ""}]
    assert host.call("getInfo", socketId=sid).value["connected"] is False
    assert host.call("read", socketId=sid).value["resultCode"] == -15
    host.call("destroy", socketId=sid)


def test_disconnect_ends_the_stream_with_minus_100_and_pushes_nothing_more(host: HostClient,
                                                                         peer: socket.socket) -> None:
    sid, conn, stream = streaming(host, peer)
    host.call("disconnect", socketId=sid)
    assert events(host) == [{"event": "socket.end", "args": [{"socketId": sid, "stream": stream,
                                                               "resultCode": -100}]}]
    try:
        conn.sendall(b"too late")
    except OSError:
        pass  # the host's close may already have reset the connection
    assert events(host) == []
    assert host.call("read", socketId=sid).value["resultCode"] == -15
    host.call("destroy", socketId=sid)
    conn.close()


def test_a_read_request_during_read_ahead_ends_it_and_is_served_as_a_plain_read(host: HostClient,
                                                                               peer: socket.socket) -> None:
    sid, conn, stream = streaming(host, peer)
    conn.sendall(b"pushed")
    assert pushed_bytes(events(host), stream) == b"pushed"
    pending = host.start("read", socketId=sid, bufferSize=4)
    conn.sendall(b"pulled")
    result = pending.result()
    assert "stream" not in result.value and result.data() == b"pull"
    assert host.call("read", socketId=sid).data() == b"ed"
    assert events(host) == []  # no stream any more
    host.call("destroy", socketId=sid)
    conn.close()


def test_secure_with_the_clients_read_pending_fails_with_minus_2_and_destroys(host: HostClient,
                                                                              peer: socket.socket) -> None:
    sid, conn = connect(host, peer)
    start_stream(host, sid, conn)
    res = host.call("secure", socketId=sid, readPending=True)
    assert (res.args, res.last_error) == ([-2], "net::ERR_FAILED")
    assert host.call("getInfo", socketId=sid).last_error == "Socket not found"
    conn.close()


def test_secure_ends_the_stream_and_tls_streams_plaintext_after_it(host: HostClient, pki: Pki) -> None:
    with TlsEchoServer(pki.good.cert, pki.good.key) as server:
        sid = host.call("create", type="tcp").value["socketId"]
        assert host.call("connect", socketId=sid, hostname="localhost", port=server.port).args == [0]
        assert host.call("secure", socketId=sid).args == [0]
        payload = bytes(range(256)) * 400
        assert host.call("write", socketId=sid, data=b64(payload)).value == {"bytesWritten": len(payload)}
        reply = host.call("read", socketId=sid, bufferSize=1000, stream=True).raw
        stream = reply["args"][0]["stream"]
        got = base64.b64decode(reply["args"][0]["data"])
        deadline = time.monotonic() + TIMEOUT
        while len(got) < len(payload) and time.monotonic() < deadline:
            got += pushed_bytes(events(host, 0.3), stream)
            ack(host, sid, stream, len(got))
        assert got == payload
        host.call("destroy", socketId=sid)


def test_udp_reads_ignore_stream(host: HostClient) -> None:
    sid = host.call("create", type="udp").value["socketId"]
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))
    assert host.call("connect", socketId=sid, hostname="127.0.0.1", port=other.getsockname()[1]).args == [0]
    pending = host.start("read", socketId=sid, stream=True)
    info = host.call("getInfo", socketId=sid).value
    other.sendto(b"datagram", ("127.0.0.1", info["localPort"]))
    assert pending.result().value == {"resultCode": 8, "data": b64(b"datagram")}
    host.call("destroy", socketId=sid)
    other.close()


def test_bad_notices_get_errors_with_a_null_id_and_the_host_keeps_serving(host: HostClient,
                                                                          peer: socket.socket) -> None:
    sid, conn, stream = streaming(host, peer)
    for args, message in [
        ({"socketId": sid}, "socket.ack: stream is required"),
        ({"socketId": sid, "stream": stream, "consumed": -1}, "consumed must be an integer 0..2^53-1"),
        ({"socketId": sid, "stream": "x", "consumed": 1}, "stream must be a byte count, not a string"),
    ]:
        host.send({"op": "socket.ack", "args": args})
        ev = host.unsolicited.get(timeout=TIMEOUT)
        assert ev["id"] is None and ev["error"]["code"] == "bad_args" and message in ev["error"]["message"]
    with_id = host.request("socket.ack", socketId=sid, stream=stream, consumed=1)
    assert with_id["error"]["code"] == "bad_request" and "notice" in with_id["error"]["message"]
    ack(host, 999, 1, 5)  # an unknown socket or stream: nothing to do, nothing answered
    ack(host, sid, stream + 1000, 5)
    assert events(host) == []
    assert host.call("getInfo", socketId=sid).value["connected"] is True
    host.call("destroy", socketId=sid)
    conn.close()


def test_a_notice_before_hello_is_refused() -> None:
    client = HostClient(hello=False)
    try:
        client.send({"op": "socket.ack", "args": {"socketId": 1, "stream": 1, "consumed": 1}})
        ev = client.unsolicited.get(timeout=TIMEOUT)
        assert ev["id"] is None and ev["error"]["code"] == "hello_required"
    finally:
        client.close()


def test_tls_handshake_bytes_are_never_read_ahead(host: HostClient, pki: Pki) -> None:
    """A plaintext stream, then secure(): the server's handshake reaches OpenSSL, not the client's buffer."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.good.cert, pki.good.key)
    srv = socket.create_server(("127.0.0.1", 0))
    sid = host.call("create", type="tcp").value["socketId"]
    pending = host.start("connect", socketId=sid, hostname="localhost", port=srv.getsockname()[1])
    conn, _ = srv.accept()
    assert pending.result().args == [0]
    stream, _ = start_stream(host, sid, conn, b"220 go ahead\r\n")
    secure = host.start("secure", socketId=sid)
    tls = context.wrap_socket(conn, server_side=True)  # STARTTLS: the handshake follows the plaintext
    assert secure.result().args == [0]
    tls.sendall(b"secret")
    assert host.call("read", socketId=sid).data() == b"secret"
    assert pushed_bytes(events(host), stream) == b""
    host.call("destroy", socketId=sid)
    tls.close()
    srv.close()
