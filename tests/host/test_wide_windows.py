"""Wide windows through a real resocket-host (docs/protocol.md, "Wide windows"): a client whose hello asks for them
gets a 4 MiB read-ahead window for its first two streams and a 4 MiB write-behind window for its first two
sockets, said in the replies that grant them; a third waits for one to end and meanwhile has the plain 512 KiB;
a wide socket's lazy write replies wait for 8x the bytes; a client that does not ask sees nothing new.
"""
from __future__ import annotations

import queue
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from resocket.wire.protocol import AHEAD_WINDOW, BEHIND_WINDOW, WIDE_GRANTS, WIDE_WINDOW

from tests.host.conftest import connect
from tests.host.test_read_ahead import ack, pushed_bytes
from tests.host.test_write_behind import frames_holding, open_host
from tests.support.hostclient import DEFAULT_ORIGIN, HostClient, b64
from tests.support.servers import ALL_RULES
from tests.support.wire import message

TIMEOUT = 10


@pytest.fixture()
def host(tmp_path: Path) -> Iterator[HostClient]:
    """A host whose client asked for batch frames, write-behind and wide windows, as the shim does."""
    client = open_host(tmp_path, batch=True, writeBehind=True, wideWindows=True)
    yield client
    client.close()


def start(host: HostClient, sid: int, conn: socket.socket) -> dict:
    """The first read of a socket, asking for read-ahead: its result (stream id, and window when granted)."""
    conn.sendall(b"hi")
    return host.call("read", socketId=sid, bufferSize=2, stream=True).args[0]


def drain(conn: socket.socket) -> threading.Thread:
    """Read and drop everything `conn` gets until it closes, with a receive buffer as big as the kernel allows
    (~400 KiB), so the host's writes are taken at once even while this thread waits for its turn."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    def run() -> None:
        try:
            while conn.recv(1 << 16):
                pass
        except OSError:
            pass
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_hello_announces_wide_windows_only_to_a_client_that_asks(tmp_path: Path, peer: socket.socket) -> None:
    plain = open_host(tmp_path, batch=True, writeBehind=True)
    try:
        assert plain.hello_result["readAhead"] == {"window": AHEAD_WINDOW}
        assert plain.hello_result["writeBehind"] == {"window": BEHIND_WINDOW}
        sid, conn = connect(plain, peer)
        result = start(plain, sid, conn)
        assert "window" not in result and result["stream"] > 0
        assert plain.call("write", socketId=sid, data=b64(b"abc")).args == [{"bytesWritten": 3, "behind": True}]
        conn.close()
    finally:
        plain.close()
    asking = open_host(tmp_path, batch=True, writeBehind=True, wideWindows=True)
    try:
        wide = {"wide": WIDE_WINDOW, "wideGrants": WIDE_GRANTS}
        assert asking.hello_result["readAhead"] == {"window": AHEAD_WINDOW, **wide}
        assert asking.hello_result["writeBehind"] == {"window": BEHIND_WINDOW, **wide}
    finally:
        asking.close()


def test_the_first_two_streams_get_the_wide_window_a_third_once_one_ended(host: HostClient,
                                                                          peer: socket.socket) -> None:
    socks = [connect(host, peer) for _ in range(4)]
    windows = [start(host, sid, conn).get("window") for sid, conn in socks[:3]]
    assert windows == [WIDE_WINDOW, WIDE_WINDOW, None]
    host.call("destroy", socketId=socks[0][0])  # its stream ends: the grant is free again
    assert start(host, *socks[3]).get("window") == WIDE_WINDOW
    for _, conn in socks:
        conn.close()


def test_a_wide_stream_pushes_past_the_plain_window_and_stops_at_its_own(host: HostClient,
                                                                         peer: socket.socket) -> None:
    sid, conn = connect(host, peer)
    result = start(host, sid, conn)
    stream = result["stream"]
    assert result["window"] == WIDE_WINDOW
    payload = bytes(range(256)) * (WIDE_WINDOW * 2 // 256)
    sender = threading.Thread(target=lambda: conn.sendall(payload), daemon=True)
    sender.start()
    got = b""
    deadline = time.monotonic() + TIMEOUT
    while len(got) < WIDE_WINDOW and time.monotonic() < deadline:
        try:
            got += pushed_bytes([host.unsolicited.get(timeout=1)], stream)
        except queue.Empty:  # stalled
            break
    assert len(got) >= WIDE_WINDOW, f"stalled at {len(got)} bytes, the plain window is {AHEAD_WINDOW}"
    time.sleep(0.3)
    while not host.unsolicited.empty():
        got += pushed_bytes([host.unsolicited.get()], stream)
    assert len(got) <= WIDE_WINDOW + 64 * 1024, "pushed past the wide window without an ack"
    ack(host, sid, stream, len(got))
    while len(got) < len(payload):
        got += pushed_bytes([host.unsolicited.get(timeout=TIMEOUT)], stream)
        ack(host, sid, stream, len(got))
    assert got == payload
    host.call("destroy", socketId=sid)
    conn.close()


def test_the_first_two_sockets_get_a_wide_write_behind_a_third_once_one_disconnected(
        host: HostClient, peer: socket.socket) -> None:
    socks = [connect(host, peer) for _ in range(3)]
    replies = [host.call("write", socketId=sid, data=b64(b"x")).args for sid, _ in socks]
    wide = [{"bytesWritten": 1, "behind": True, "window": WIDE_WINDOW}]
    assert replies == [wide, wide, [{"bytesWritten": 1, "behind": True}]]
    # Every later reply of a wide socket says so; the third gets a grant once socket 1's connection ended.
    assert host.call("write", socketId=socks[1][0], data=b64(b"y")).args == wide
    assert host.call("disconnect", socketId=socks[0][0]).args == []
    assert host.call("write", socketId=socks[2][0], data=b64(b"z")).args == wide
    for _, conn in socks:
        conn.close()


def test_lazy_replies_of_a_wide_socket_wait_for_eight_times_the_bytes(host: HostClient,
                                                                      peer: socket.socket) -> None:
    """Four early-called-back writes of 48 KiB each and a ping in one stdin read: a plain socket's replies leave
    after 128 KiB (a quarter of its window), a wide socket's all ride with the ping's reply."""
    socks = [connect(host, peer) for _ in range(3)]
    for sid, conn in socks:
        drain(conn)
        host.call("write", socketId=sid, data=b64(b"x"))  # the grants: sockets 1 and 2 wide, 3 plain
    data = b64(b"w" * 48 * 1024)
    written = {"bytesWritten": 48 * 1024, "behind": True}
    for sid, rid, expected, result in (
            (socks[0][0], 1000, [[1000, 1001, 1002, 1003, 1004]], {**written, "window": WIDE_WINDOW}),
            (socks[2][0], 2000, [[2000, 2001, 2002], [2003, 2004]], written)):
        start_at = len(host.raw_frames)
        waits = [host.expect(rid + k) for k in range(5)]
        host.send_raw(b"".join(message({"id": rid + k, "op": "write",
                                      "args": {"socketId": sid, "data": data, "behind": True}})
                               for k in range(4)) + message({"id": rid + 4, "op": "ping"}))
        assert [wait.wait()["args"] for wait in waits[:4]] == [[result]] * 4  # the held replies as sent alone
        waits[4].wait()
        assert frames_holding(host, start_at, {rid + k for k in range(5)}) == expected
    for _, conn in socks:
        conn.close()


def test_wide_windows_must_be_a_boolean_and_a_client_that_did_not_ask_gets_none(tmp_path: Path,
                                                                                 peer: socket.socket) -> None:
    from resocket.grants import GrantStore

    GrantStore.open(tmp_path).grant(DEFAULT_ORIGIN, ALL_RULES)
    client = HostClient(env={"RESOCKET_CONFIG_DIR": str(tmp_path)}, hello=False)
    try:
        reply = client.request("hello", protocol=1, client="tests/1", wideWindows="yes")
        assert reply["error"]["code"] == "bad_args" and "wideWindows" in reply["error"]["message"], reply
        # The hello that follows is served, and without wideWindows no socket gets a wide window.
        client.hello_result = client.request("hello", protocol=1, client="tests/1", writeBehind=True)["result"]
        sid, conn = connect(client, peer)
        assert "window" not in start(client, sid, conn)
        assert client.call("write", socketId=sid, data=b64(b"x")).args == [{"bytesWritten": 1, "behind": True}]
        conn.close()
    finally:
        client.close()
