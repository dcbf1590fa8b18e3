"""The data channel through a real resocket-host: who may connect (token, Origin, one connection only) and
bulk data both ways, byte for byte, with requests for one socket applied in order across both channels.

The WebSocket client is written here (RFC 6455, masked client frames), so the host is tested against the
wire format, not against a library that might share its assumptions.
"""
from __future__ import annotations

import base64
import json
import os
import socket
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.hostclient import DEFAULT_ORIGIN, HostClient, b64
from tests.support.servers import start_host
from tests.support.wsclient import WebSocketClient, WsRefused

ORIGIN = DEFAULT_ORIGIN.rstrip("/")


class Ws(WebSocketClient):
    """The data channel's client: the token as the path, the page's Origin, binary records."""

    def __init__(self, url: str, token: str, origin: str | None = ORIGIN, path: str | None = None) -> None:
        parts = urlparse(url)
        super().__init__(parts.hostname, parts.port, path if path is not None else "/" + token, origin=origin,
                         netloc=parts.netloc)

    def send_data(self, ref: int, data: bytes) -> None:
        self.send(struct.pack("!Q", ref) + data)

    def recv_data(self) -> tuple[int, bytes]:
        opcode, payload = self.recv()
        assert opcode == 0x2, (opcode, payload)
        return struct.unpack("!Q", payload[:8])[0], payload[8:]


class EchoServer:
    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            while True:
                data = conn.recv(1 << 16)
                if not data:
                    return
                conn.sendall(data)


@pytest.fixture()
def host(tmp_path: Path) -> Any:
    client = start_host(tmp_path)
    yield client
    client.close()


@pytest.fixture(scope="module")
def echo() -> EchoServer:
    return EchoServer()


def open_channel(host: HostClient) -> tuple[str, str]:
    reply = host.request("datachannel.open")
    assert "result" in reply, reply
    url, token = reply["result"]["url"], reply["result"]["token"]
    assert url.startswith("ws://127.0.0.1:") and len(token) >= 32
    return url, token


def connected_socket(host: HostClient, port: int) -> int:
    sid = host.call("create", type="tcp").value["socketId"]
    assert host.call("connect", socketId=sid, hostname="127.0.0.1", port=port).args == [0]
    return sid


def channel_and_socket(host: HostClient, port: int) -> tuple[Ws, int]:
    """The host's data channel, connected, and a TCP socket connected to `port`."""
    url, token = open_channel(host)
    return Ws(url, token), connected_socket(host, port)


def listening_sockets(pid: int) -> set[str]:
    """Inodes of the TCP sockets process `pid` listens on (Linux /proc)."""
    mine = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:  # closed meanwhile (the host opens and closes files while it starts)
            continue
        if target.startswith("socket:["):
            mine.add(target[8:-1])
    listening = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                listening.add(fields[9])
    return mine & listening


def test_channel_listens_on_loopback_only(host: HostClient) -> None:
    url, _ = open_channel(host)
    assert urlparse(url).hostname == "127.0.0.1"


def test_wrong_token_is_refused_and_the_right_one_still_connects(host: HostClient) -> None:
    url, token = open_channel(host)
    for wrong in ("", "x" * len(token), token[:-1], token + "x"):
        with pytest.raises(WsRefused, match="403"):
            Ws(url, wrong)
    Ws(url, token).close()
    host.close()
    assert host.stderr_text().count("wrong token") == 4  # every refusal is logged


def test_wrong_or_missing_origin_is_refused_even_with_the_token(host: HostClient) -> None:
    url, token = open_channel(host)
    for origin in ("chrome-extension://otherextensionotherextensionot", "https://example.com", "null", None):
        with pytest.raises(WsRefused, match="403"):
            Ws(url, token, origin=origin)
    Ws(url, token).close()


def test_exactly_one_connection_ever_even_with_the_token(host: HostClient) -> None:
    url, token = open_channel(host)
    first = Ws(url, token)
    with pytest.raises((WsRefused, ConnectionError, OSError)):
        Ws(url, token)
    first.close()
    with pytest.raises((WsRefused, ConnectionError, OSError)):
        Ws(url, token)


def test_plain_http_and_unmasked_frames_get_nothing(host: HostClient) -> None:
    url, token = open_channel(host)
    parts = urlparse(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as s:
        s.sendall(f"GET /{token} HTTP/1.1\r\nOrigin: {ORIGIN}\r\n\r\n".encode())
        assert s.recv(100).startswith(b"HTTP/1.1 403")
    ws = Ws(url, token)
    ws.sock.sendall(struct.pack("!BB", 0x82, 9) + struct.pack("!Q", 1) + b"x")  # unmasked: a protocol error
    opcode, payload = ws.recv()
    assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1002
    ws.close()


def test_writes_and_reads_over_the_channel_arrive_byte_for_byte_and_in_order(host: HostClient,
                                                                             echo: EchoServer) -> None:
    ws, sid = channel_and_socket(host, echo.port)
    sent = bytearray()
    got = bytearray()
    pending = []
    for ref in range(1, 201):
        data = os.urandom(1 + (ref * 7919) % 70000)
        sent += data
        ws.send_data(ref, data)
        pending.append((host.start("write", socketId=sid, dataRef=ref), len(data)))
    for p, n in pending:
        assert p.wait(20)["args"] == [{"bytesWritten": n}]
    while len(got) < len(sent):
        reply = host.request("read", socketId=sid, bufferSize=65536, dataChannel=True, timeout=20)
        result = reply["args"][0]
        assert result["resultCode"] > 0 and result["data"] == "", reply
        ref, data = ws.recv_data()
        assert ref == result["dataRef"] == reply["id"] and len(data) == result["resultCode"]
        got += data
    assert bytes(got) == bytes(sent)
    ws.close()


def test_a_request_waits_for_its_data_and_later_requests_wait_behind_it(host: HostClient,
                                                                          echo: EchoServer) -> None:
    ws, sid = channel_and_socket(host, echo.port)
    first = host.start("write", socketId=sid, dataRef=7)  # its data is not sent yet
    second = host.start("write", socketId=sid, data=b64(b"-second"))  # native data, sent after the first
    ws.send_data(7, b"first")
    assert first.wait(10)["args"] == [{"bytesWritten": 5}]
    assert second.wait(10)["args"] == [{"bytesWritten": 7}]
    got = b""
    while len(got) < 12:
        got += base64.b64decode(host.call("read", socketId=sid).value["data"])
    assert got == b"first-second"
    ws.close()


def test_a_write_waiting_for_data_fails_when_the_channel_closes_and_the_host_keeps_serving(
        host: HostClient, echo: EchoServer) -> None:
    ws, sid = channel_and_socket(host, echo.port)
    waiting = host.start("write", socketId=sid, dataRef=99)
    ws.close()
    reply = waiting.wait(10)
    assert reply["error"]["code"] == "bad_args" and "closed" in reply["error"]["message"]
    assert host.call("write", socketId=sid, data=b64(b"ok")).value == {"bytesWritten": 2}
    # Reads asked for the closed channel fall back to base64 data in the reply.
    assert base64.b64decode(host.call("read", socketId=sid, dataChannel=True).value["data"]) == b"ok"


def test_data_ref_without_a_channel_is_bad_args(host: HostClient, echo: EchoServer) -> None:
    sid = connected_socket(host, echo.port)
    reply = host.request("write", socketId=sid, dataRef=1)
    assert reply["error"]["code"] == "bad_args"


def test_a_relayed_web_page_with_no_grant_may_not_open_the_channel(tmp_path: Path) -> None:
    from resocket import EXTENSION_ORIGIN

    client = HostClient(EXTENSION_ORIGIN, env={"RESOCKET_CONFIG_DIR": str(tmp_path)}, hello=False)
    try:
        hello = client.request("hello", protocol=1, client="tests/1", origin="http://localhost:8080")
        assert "result" in hello and hello["result"]["rules"] == [], hello
        reply = client.request("datachannel.open")
        assert reply["error"]["code"] == "not_granted" and "result" not in reply
        assert "holds no grant" in reply["error"]["message"]
        assert not listening_sockets(client.proc.pid)
        # The extension's own page, same host program, gets the channel.
        own = HostClient(EXTENSION_ORIGIN, env={"RESOCKET_CONFIG_DIR": str(tmp_path)})
        try:
            open_channel(own)
            assert listening_sockets(own.proc.pid)  # what the check above would have seen
        finally:
            own.close()
    finally:
        client.close()


def test_a_granted_web_page_gets_a_channel_that_only_its_own_origin_may_use(tmp_path: Path,
                                                                            echo: EchoServer) -> None:
    from resocket import EXTENSION_ORIGIN
    from resocket.grants import GrantStore

    GrantStore.open(tmp_path).grant("http://127.0.0.1:8080", ["tcp-connect"])
    client = HostClient(EXTENSION_ORIGIN, env={"RESOCKET_CONFIG_DIR": str(tmp_path)}, hello=False)
    try:
        hello = client.request("hello", protocol=1, client="tests/1", origin="http://127.0.0.1:8080")
        assert hello["result"]["rules"], hello
        url, token = open_channel(client)
        for origin in (EXTENSION_ORIGIN.rstrip("/"), "http://127.0.0.1:8081", "http://localhost:8080", None):
            with pytest.raises(WsRefused, match="403"):
                Ws(url, token, origin=origin)
        ws = Ws(url, token, origin="http://127.0.0.1:8080")
        sid = connected_socket(client, echo.port)
        send_request(ws, {"id": 90, "op": "write", "args": {"socketId": sid, "dataRef": 1}}, b"from the page")
        assert recv_reply(ws)[0] == {"id": 90, "args": [{"bytesWritten": 13}]}
        ws.close()
    finally:
        client.close()


REQUEST_REF = 2 ** 64 - 1


def record(request: dict, payload: bytes = b"") -> bytes:
    text = json.dumps(request).encode()
    return struct.pack("!QII", REQUEST_REF, len(text), len(payload)) + text + payload


def send_request(ws: Ws, request: dict, payload: bytes = b"") -> None:
    ws.send(record(request, payload))


def recv_reply(ws: Ws) -> tuple[dict, bytes]:
    """The next reply or event record (the host sends the replies of one loop iteration as one message); a
    `socket.data` record that announces `size` bytes gets the next message, which holds only those bytes."""
    pending = getattr(ws, "records", [])
    if not pending:
        ref, message = ws.recv_data()
        assert ref == REQUEST_REF
        message = struct.pack("!Q", ref) + message
        at = 0
        while at < len(message):
            ref, size, length = struct.unpack_from("!QII", message, at)
            assert ref == REQUEST_REF
            at += 16
            record = json.loads(message[at:at + size])
            data = message[at + size:at + size + length]
            at += size + length
            announced = record.get("args", [{}])[0].get("size") if record.get("event") == "socket.data" else None
            if announced is not None:
                assert at == len(message), "an announcement ends its message"
                opcode, data = ws.recv()
                assert opcode == 0x2 and len(data) == announced, (opcode, len(data), announced)
                del record["args"][0]["size"]
            pending.append((record, data))
        ws.records = pending
    return pending.pop(0)


def test_requests_on_the_channel_are_answered_there_byte_for_byte_and_in_order(host: HostClient,
                                                                               echo: EchoServer) -> None:
    ws, sid = channel_and_socket(host, echo.port)
    sent = bytearray()
    for n in range(1, 101):
        data = os.urandom(1 + (n * 7919) % 70000)
        sent += data
        send_request(ws, {"id": 1000 + n, "op": "write", "args": {"socketId": sid, "dataRef": n}}, data)
    for n in range(1, 101):  # answered on the channel, in order, with nothing on native messaging
        reply, rest = recv_reply(ws)
        assert reply["id"] == 1000 + n and reply["args"][0]["bytesWritten"] > 0 and rest == b""
    got = bytearray()
    n = 5000
    while len(got) < len(sent):
        n += 1
        send_request(ws, {"id": n, "op": "read", "args": {"socketId": sid, "bufferSize": 65536,
                                                           "dataChannel": True}})
        reply, data = recv_reply(ws)
        assert reply["id"] == n and reply["args"][0]["resultCode"] == len(data) > 0, reply
        got += data
    assert bytes(got) == bytes(sent)
    # An empty write is a request message with no payload bytes.
    send_request(ws, {"id": 9998, "op": "write", "args": {"socketId": sid, "dataRef": 10 ** 6}})
    reply, _ = recv_reply(ws)
    assert reply["id"] == 9998 and reply["args"] == [{"bytesWritten": 0}], reply
    # A request the host refuses is answered on the channel too; native messaging still works.
    send_request(ws, {"id": 9999, "op": "write", "args": {"socketId": "x", "dataRef": 1}}, b"x")
    reply, _ = recv_reply(ws)
    assert reply["id"] == 9999 and reply["error"]["code"] == "bad_args"
    assert host.call("write", socketId=sid, data=b64(b"ok")).value == {"bytesWritten": 2}
    on_native = [json.loads(f).get("id") for f in host.raw_frames]
    assert not [i for i in on_native if isinstance(i, int) and i >= 1000]
    ws.close()


def test_several_request_records_in_one_message_run_in_order(host: HostClient, echo: EchoServer) -> None:
    ws, sid = channel_and_socket(host, echo.port)
    ws.send(b"".join(record({"id": 100 + i, "op": "write", "args": {"socketId": sid, "dataRef": i}}, b"%d," % i)
                     for i in range(10)))
    assert [recv_reply(ws)[0]["id"] for _ in range(10)] == list(range(100, 110))
    got = b""
    n = 200
    while len(got) < 20:
        n += 1
        send_request(ws, {"id": n, "op": "read", "args": {"socketId": sid, "dataChannel": True}})
        got += recv_reply(ws)[1]
    assert got == b"0,1,2,3,4,5,6,7,8,9,"
    # A record whose lengths run past its message closes the channel.
    ws.send(struct.pack("!QII", REQUEST_REF, 1000, 0) + b"{}")
    try:
        opcode, _ = ws.recv()
    except EOFError:
        opcode = 0x8
    assert opcode == 0x8, "the channel ends"
    ws.close()


def test_read_ahead_on_the_channel_pushes_records_in_order_within_the_window(host: HostClient,
                                                                             echo: EchoServer) -> None:
    """docs/protocol.md, "Read-ahead": a read that came on the channel streams there, bytes beside the JSON."""
    window = host.hello_result["readAhead"]["window"]
    ws, sid = channel_and_socket(host, echo.port)
    sent = os.urandom(3 * window)
    assert host.call("write", socketId=sid, data=b64(sent[:10])).value == {"bytesWritten": 10}
    send_request(ws, {"id": 500, "op": "read", "args": {"socketId": sid, "bufferSize": 10, "dataChannel": True,
                                                         "stream": True}})
    reply, got = recv_reply(ws)
    assert reply["id"] == 500 and reply["args"][0]["stream"] == 500 and got == sent[:10]
    got = bytearray(got)
    n = 600
    for at in range(10, len(sent), 60000):
        n += 1
        send_request(ws, {"id": n, "op": "write", "args": {"socketId": sid, "dataRef": n}}, sent[at:at + 60000])
    acked = 10
    while len(got) < len(sent):
        msg, data = recv_reply(ws)
        if "id" in msg:
            assert msg["args"][0]["bytesWritten"] > 0  # a write's reply, between the pushes
            continue
        assert msg == {"event": "socket.data", "args": [{"socketId": sid, "stream": 500}]} and data
        got += data
        assert len(got) - acked <= window + 64 * 1024
        if len(got) - acked >= window // 4:
            acked = len(got)
            send_request(ws, {"op": "socket.ack", "args": {"socketId": sid, "stream": 500, "consumed": acked}})
    assert bytes(got) == sent
    ws.close()


def test_when_the_channel_closes_its_read_ahead_connections_are_broken(host: HostClient,
                                                                        echo: EchoServer) -> None:
    """Bytes in flight on a closed channel are lost: the connection is unusable, not silently short."""
    ws, sid = channel_and_socket(host, echo.port)
    assert host.call("write", socketId=sid, data=b64(b"abc")).value == {"bytesWritten": 3}
    send_request(ws, {"id": 50, "op": "read", "args": {"socketId": sid, "dataChannel": True, "stream": True}})
    assert recv_reply(ws)[0]["args"][0]["stream"] == 50
    ws.close()
    deadline = time.monotonic() + 10
    while host.call("getInfo", socketId=sid).value["connected"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert host.call("getInfo", socketId=sid).value["connected"] is False
    assert host.call("read", socketId=sid).value["resultCode"] == -15
    assert host.call("write", socketId=sid, data=b64(b"x")).value == {"bytesWritten": -15}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_client_that_acks_but_never_reads_the_channel_cannot_grow_the_host(host: HostClient) -> None:
    """Read-ahead stops once 4 MiB wait for the browser on the channel, whatever the client acknowledges;
    the peer is then held back by TCP, and everything still arrives, in order, once the client reads."""
    _, ws, peer, srv, sid = streaming_channel(host)
    payload = os.urandom(256 << 20)
    sent = [0]

    def pump() -> None:
        view = memoryview(payload)
        try:
            while sent[0] < len(payload):
                sent[0] += peer.send(view[sent[0]:sent[0] + (1 << 20)])
        except OSError:
            pass

    before = rss_kib(host.proc.pid)
    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:  # acknowledge far more than could have been read, for 2 s
        send_request(ws, {"op": "socket.ack", "args": {"socketId": sid, "stream": 700, "consumed": 2 ** 40}})
        time.sleep(0.001)
    grown = rss_kib(host.proc.pid) - before
    assert sent[0] < len(payload), "the peer was never held back"
    assert grown < 48 * 1024, f"the host grew by {grown} KiB"
    got = bytearray()
    expected = len(payload)
    while len(got) < expected:
        msg, data = recv_reply(ws)
        if msg.get("event") == "socket.data":
            got += data
            send_request(ws, {"op": "socket.ack", "args": {"socketId": sid, "stream": 700, "consumed": len(got)}})
    assert got == payload
    ws.close()
    peer.close()
    srv.close()


def streaming_channel(host: HostClient, **open_args: object) -> tuple[dict, Ws, socket.socket, socket.socket, int]:
    """A channel opened with `open_args`, and a socket whose first read there (id 700) started read-ahead:
    (the open result, the channel, the peer's end, the listener, the socket id)."""
    result = host.request("datachannel.open", **open_args)["result"]
    ws = Ws(result["url"], result["token"])
    srv = socket.create_server(("127.0.0.1", 0))
    sid = host.call("create", type="tcp").value["socketId"]
    pending = host.start("connect", socketId=sid, hostname="127.0.0.1", port=srv.getsockname()[1])
    conn, _ = srv.accept()
    assert pending.result().args == [0]
    conn.sendall(b"first")
    send_request(ws, {"id": 700, "op": "read", "args": {"socketId": sid, "bufferSize": 5, "dataChannel": True,
                                                         "stream": True}})
    assert recv_reply(ws) == ({"id": 700, "args": [{"resultCode": 5, "data": "", "dataRef": 700,
                                                     "stream": 700}]}, b"first")
    return result, ws, conn, srv, sid


def test_implicit_data_sends_a_streams_later_bytes_without_announcements(host: HostClient) -> None:
    """docs/protocol.md, "Implicit data": asked for in datachannel.open, the host announces a stream's bytes
    once; later pushes of the same stream are bare messages, except bytes that could be taken for records
    (8 bytes 0xFF first), which are announced again. No byte is lost or reordered."""
    result, ws, conn, srv, _ = streaming_channel(host, implicit=True)
    assert result["implicit"] is True
    pieces = [os.urandom(1000), os.urandom(2000), b"\xff" * 8 + os.urandom(100), os.urandom(300)]
    messages = []
    announced = False
    for piece in pieces:
        conn.sendall(piece)
        deadline = time.monotonic() + 10
        got = b""
        while len(got) < len(piece) and time.monotonic() < deadline:
            opcode, data = ws.recv()
            assert opcode == 0x2
            if not announced and data[:8] == struct.pack("!Q", REQUEST_REF):
                (size,) = struct.unpack_from("!I", data, 8)
                messages.append(("announce", json.loads(data[16:16 + size])["args"][0]["size"]))
                announced = True  # the next message is those bytes, whatever they start with
            else:
                announced = False
                messages.append(("bytes", len(data)))
                got += data
        assert got == piece
    assert messages == [("announce", 1000), ("bytes", 1000), ("bytes", 2000), ("announce", 108), ("bytes", 108),
                        ("bytes", 300)], messages
    for sock in (ws, conn, srv):
        sock.close()


def test_without_implicit_data_every_push_is_announced(host: HostClient) -> None:
    result, ws, conn, srv, _ = streaming_channel(host)
    assert "implicit" not in result
    for piece in (os.urandom(1000), os.urandom(2000)):
        conn.sendall(piece)
        record, data = recv_reply(ws)  # asserts that an announcement precedes the bytes
        assert record["event"] == "socket.data" and data == piece
    for sock in (ws, conn, srv):
        sock.close()


BARE = 2 ** 52  # where the shim starts the ids of its implicit writes (any id the client does not use will do)


def peer_socket(host: HostClient) -> tuple[int, socket.socket, socket.socket]:
    """A host socket connected to a listener here: (its id, the peer's end, the listener)."""
    srv = socket.create_server(("127.0.0.1", 0))
    created = host.call("create", type="tcp")
    assert "socketId" in created.value, created
    sid = created.value["socketId"]
    pending = host.start("connect", socketId=sid, hostname="127.0.0.1", port=srv.getsockname()[1])
    conn, _ = srv.accept()
    assert pending.result().args == [0]
    conn.settimeout(10)
    return sid, conn, srv


def received(conn: socket.socket, size: int) -> bytes:
    got = b""
    while len(got) < size:
        more = conn.recv(1 << 20)
        assert more, f"connection closed after {len(got)} of {size} bytes"
        got += more
    return got


def test_implicit_writes_take_bare_messages_as_writes_to_the_marked_socket(host: HostClient) -> None:
    """docs/protocol.md, "Implicit writes": a write record marked `implicit: B` makes every later message that
    is no record a write of its bytes to that socket, with ids B, B+1, ..., answered on the channel; a marked
    record of another socket moves them there; `datachannel.explicit` makes such messages references again."""
    result = host.request("datachannel.open", implicitWrites=True)["result"]
    assert result["implicitWrites"] is True
    ws = Ws(result["url"], result["token"])
    first, conn1, srv1 = peer_socket(host)
    second, conn2, srv2 = peer_socket(host)
    head = os.urandom(70000)
    send_request(ws, {"id": 10, "op": "write", "args": {"socketId": first, "dataRef": 1, "implicit": BARE}}, head)
    bare = [os.urandom(n) for n in (65536, 1, 7, 100000)]
    for data in bare:
        ws.send(data)
    assert [recv_reply(ws)[0] for _ in range(5)] == [
        {"id": i, "args": [{"bytesWritten": len(d)}]} for i, d in zip([10, BARE, BARE + 1, BARE + 2, BARE + 3],
                                                                      [head, *bare])]
    assert received(conn1, len(head) + sum(map(len, bare))) == head + b"".join(bare)
    # A marked record of the second socket: bare messages now write there, their ids counting on from its mark.
    send_request(ws, {"id": 11, "op": "write", "args": {"socketId": second, "dataRef": 2, "implicit": BARE + 10}},
                 b"to second ")
    ws.send(b"and more")
    assert [recv_reply(ws)[0]["id"] for _ in range(2)] == [11, BARE + 10]
    assert received(conn2, 18) == b"to second and more"
    # An unmarked write record leaves them where they are.
    send_request(ws, {"id": 12, "op": "write", "args": {"socketId": first, "dataRef": 3}}, b"plain ")
    ws.send(b"bare")
    assert [recv_reply(ws)[0]["id"] for _ in range(2)] == [12, BARE + 11]
    assert received(conn1, 6) == b"plain "
    assert received(conn2, 4) == b"bare"
    # datachannel.explicit (a notice: no reply): a message that is no record names its request by reference.
    send_request(ws, {"op": "datachannel.explicit"})
    ws.send_data(77, b"by reference")
    assert host.call("write", socketId=first, dataRef=77).value == {"bytesWritten": 12}
    assert received(conn1, 12) == b"by reference"
    on_native = [json.loads(f).get("id") for f in host.raw_frames]
    assert not [i for i in on_native if isinstance(i, int) and i >= BARE], "bare writes are answered on the channel"
    for sock in (ws, conn1, srv1, conn2, srv2):
        sock.close()


def test_behind_rides_along_with_implicit_writes(tmp_path: Path) -> None:
    """A marked write with `behind: true` (write-behind) makes the bare writes behind ones too: their replies
    say `behind` (and may wait, lazy, for the host's next message)."""
    from resocket.grants import GrantStore

    from tests.support.servers import ALL_RULES

    GrantStore.open(tmp_path).grant(DEFAULT_ORIGIN, ALL_RULES)
    host = HostClient(env={"RESOCKET_CONFIG_DIR": str(tmp_path)}, hello=False)
    host.hello_result = host.request("hello", protocol=1, client="tests/1", batch=True, writeBehind=True)["result"]
    result = host.request("datachannel.open", implicitWrites=True)["result"]
    ws = Ws(result["url"], result["token"])
    sid, conn, srv = peer_socket(host)
    send_request(ws, {"id": 10, "op": "write", "args": {"socketId": sid, "dataRef": 1, "behind": True,
                                                         "implicit": BARE}}, b"x" * 1000)
    ws.send(b"y" * 1000)
    replies = [recv_reply(ws)[0] for _ in range(2)]
    assert replies == [{"id": 10, "args": [{"bytesWritten": 1000, "behind": True}]},
                       {"id": BARE, "args": [{"bytesWritten": 1000, "behind": True}]}]
    assert received(conn, 2000) == b"x" * 1000 + b"y" * 1000
    for sock in (ws, conn, srv):
        sock.close()
    host.close()


@pytest.mark.parametrize("mark", ["1", True, 0, -5, 2 ** 53, None])
def test_a_bad_implicit_mark_starts_nothing_and_the_write_still_runs(host: HostClient, mark: object) -> None:
    result = host.request("datachannel.open", implicitWrites=True)["result"]
    ws = Ws(result["url"], result["token"])
    sid, conn, srv = peer_socket(host)
    send_request(ws, {"id": 10, "op": "write", "args": {"socketId": sid, "dataRef": 1, "implicit": mark}}, b"abc")
    assert recv_reply(ws)[0] == {"id": 10, "args": [{"bytesWritten": 3}]}
    ws.send_data(5, b"a reference, not a write")  # no implicit writes: the message waits for its request
    assert host.call("write", socketId=sid, dataRef=5).value == {"bytesWritten": 24}
    assert received(conn, 27) == b"abca reference, not a write"
    for sock in (ws, conn, srv):
        sock.close()


def test_implicit_marks_mean_nothing_unless_asked_for_at_open(host: HostClient) -> None:
    result = host.request("datachannel.open")["result"]
    assert "implicitWrites" not in result
    ws = Ws(result["url"], result["token"])
    sid, conn, srv = peer_socket(host)
    send_request(ws, {"id": 10, "op": "write", "args": {"socketId": sid, "dataRef": 1, "implicit": BARE}}, b"abc")
    assert recv_reply(ws)[0] == {"id": 10, "args": [{"bytesWritten": 3}]}
    ws.send_data(5, b"by reference")
    assert host.call("write", socketId=sid, dataRef=5).value == {"bytesWritten": 12}
    assert received(conn, 15) == b"abcby reference"
    for sock in (ws, conn, srv):
        sock.close()


def test_ids_past_the_protocols_range_close_the_channel_and_the_host_keeps_serving(host: HostClient) -> None:
    result = host.request("datachannel.open", implicitWrites=True)["result"]
    ws = Ws(result["url"], result["token"])
    sid, conn, srv = peer_socket(host)
    last = 2 ** 53 - 1
    send_request(ws, {"id": 10, "op": "write", "args": {"socketId": sid, "dataRef": 1, "implicit": last}}, b"a")
    ws.send(b"b")
    assert [recv_reply(ws)[0]["id"] for _ in range(2)] == [10, last]
    ws.send(b"c")  # its id would be 2^53: no valid id is left, so the channel ends
    try:
        while True:
            opcode, _ = ws.recv()
            if opcode == 0x8:
                break
    except EOFError:
        pass
    assert received(conn, 2) == b"ab"
    assert host.call("write", socketId=sid, data=b64(b"d")).value == {"bytesWritten": 1}
    assert received(conn, 1) == b"d"
    for sock in (ws, conn, srv):
        sock.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seeded_hostile_channel_traffic_never_ends_the_host(host: HostClient, seed: int) -> None:
    """Records, marked and unmarked writes, bare messages, references, `datachannel.explicit`, JSON that does not
    parse or is no request, and hostile marks, in a seeded random order on a channel with implicit writes: the channel keeps
    serving through all of it and closes on lengths that lie; the host never ends, no reply is an `internal`
    error, and native messaging still serves."""
    import random

    rng = random.Random(seed)
    result = host.request("datachannel.open", implicitWrites=True)["result"]
    ws = Ws(result["url"], result["token"])
    sid, conn, srv = peer_socket(host)
    conn.setblocking(False)
    # Ids are the client's to keep apart: the marks here never reach the few ids native messaging uses.
    marks: list[object] = [BARE, BARE + 5, 10 ** 6, 0, -1, 2 ** 53, "x", 1.5, None, True, [1]]
    kinds = ["marked", "plain", "bare", "bare", "bare", "explicit", "reference", "garbage", "odd"]
    # JSON that parses but is no request: what took the host down through the channel before (`{"op":{}}`).
    odd: list[object] = [{"op": {}}, {"op": ["datachannel.explicit"]}, {"id": 7, "op": {"x": 1}}, {"id": [1]},
                         {"op": "socket.ack", "args": []}, {"op": "datachannel.explicit", "args": 5}, [1], "x", None]
    next_id = 100
    for _ in range(300):
        kind = rng.choice(kinds)
        data = os.urandom(rng.choice([0, 1, 8, 100, 9000, 70000]))
        if kind in ("marked", "plain"):
            args: dict = {"socketId": rng.choice([sid, sid, 999, "s"]), "dataRef": rng.randrange(1, 50)}
            if kind == "marked":
                args["implicit"] = rng.choice(marks)
            if rng.random() < 0.3:
                args["behind"] = rng.choice([True, False, 1])
            next_id += 1
            ws.send(record({"id": next_id, "op": "write", "args": args}, data))
        elif kind == "bare":  # 8 bytes at least: a shorter message closes the channel while no mark holds
            ws.send(os.urandom(8) + data)
        elif kind == "explicit":
            ws.send(record({"op": "datachannel.explicit"}))
        elif kind == "reference":
            ws.send_data(rng.randrange(0, 2 ** 64), data)
        elif kind == "odd":
            ws.send(record(rng.choice(odd)))  # type: ignore[arg-type]
        else:
            ws.send(struct.pack("!QII", REQUEST_REF, 5, 0) + b"{nope")
        try:
            conn.recv(1 << 20)  # keep the peer's window open
        except BlockingIOError:
            pass
    # Still open after all of it: a write answered on the channel.
    send_request(ws, {"id": 99, "op": "write", "args": {"socketId": sid, "dataRef": 1}}, b"end")
    while (reply := recv_reply(ws)[0]).get("id") != 99:
        pass
    assert reply["args"] == [{"bytesWritten": 3}], reply
    ws.send(struct.pack("!QII", REQUEST_REF, 2 ** 31, 0) + b"{}")  # lengths that lie: the channel ends
    try:
        while ws.recv()[0] != 0x8:
            pass
    except EOFError:
        pass  # closed without a close frame: allowed too
    ws.close()
    assert host.proc.poll() is None, "the host is still running"
    # Native messaging still serves: a new socket, and every reply so far well-formed and never `internal`.
    sid2, conn2, srv2 = peer_socket(host)
    assert host.call("write", socketId=sid2, data=b64(b"still here")).value == {"bytesWritten": 10}
    assert received(conn2, 10) == b"still here"
    for body in host.raw_frames:
        reply = json.loads(body)
        for one in reply.get("batch", [reply]):
            assert (one.get("error") or {}).get("code") != "internal", one
    for sock in (conn, srv, conn2, srv2):
        sock.close()


MOZ_PAGE = "moz-extension://0b7e0c55-5d1e-4d6b-9a62-6b6e2f7b1c3d"
FIREFOX_MANIFEST = "/home/user/.mozilla/native-messaging-hosts/org.resocket.host.json"


def test_a_firefox_extension_page_names_its_origin_and_only_that_origin_may_use_the_channel(tmp_path: Path) -> None:
    """Firefox tells the host only the add-on ID; resocket's own add-on's pages name their moz-extension origin
    in datachannel.open, and the channel then takes that Origin and no other (the token still needed)."""
    client = HostClient(FIREFOX_MANIFEST, env={"RESOCKET_CONFIG_DIR": str(tmp_path)}, args=["resocket@resocket.org"])
    try:
        for bad in ("moz-extension://not-a-uuid", MOZ_PAGE + "/", "https://example.com", "chrome-extension://x"):
            reply = client.request("datachannel.open", origin=bad)
            assert reply["error"]["code"] == "not_allowed", reply
        result = client.request("datachannel.open", origin=MOZ_PAGE)["result"]
        another_page = "moz-extension://0b7e0c55-5d1e-4d6b-9a62-6b6e2f7b1c3e"
        for other in (another_page, "chrome-extension://flgdmcpaemonpacjpigcafobmllikoco", None):
            with pytest.raises(WsRefused, match="403"):
                Ws(result["url"], result["token"], origin=other)
        Ws(result["url"], result["token"], origin=MOZ_PAGE).close()
    finally:
        client.close()


@pytest.mark.parametrize("who", ["chrome", "another add-on", "a relayed page"])
def test_no_other_client_may_name_an_origin_for_its_channel(tmp_path: Path, who: str) -> None:
    from resocket import EXTENSION_ORIGIN

    config = {"RESOCKET_CONFIG_DIR": str(tmp_path)}
    if who == "chrome":
        client = HostClient(EXTENSION_ORIGIN, env=config)
    elif who == "another add-on":
        client = HostClient(FIREFOX_MANIFEST, env=config, args=["other@example.org"])
    else:
        from resocket.grants import GrantStore

        GrantStore.open(str(tmp_path)).grant("http://localhost:8080", ["tcp-connect"])
        client = HostClient(FIREFOX_MANIFEST, env=config, args=["resocket@resocket.org"], hello=False)
        assert "result" in client.request("hello", protocol=1, client="tests/1", origin="http://localhost:8080")
    try:
        reply = client.request("datachannel.open", origin=MOZ_PAGE)
        # Another add-on can hold no grant at all, so it is refused before its origin is even looked at.
        refused = "not_granted" if who == "another add-on" else "not_allowed"
        assert reply["error"]["code"] == refused and "result" not in reply, reply
        assert not listening_sockets(client.proc.pid)
    finally:
        client.close()
