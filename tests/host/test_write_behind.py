"""Write-behind through a real resocket-host (docs/protocol.md, "Write-behind"): a client whose hello asks for it
learns the window, every successful chrome.socket TCP write reply says `behind: true` (UDP's and chrome.sockets'
never do), and the success reply to a write the client already called back (`behind: true` in its args) waits
for the next message to the client instead of costing one of its own; failures are never held back.
"""
from __future__ import annotations

import json
import socket
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from resocket.wire.protocol import BEHIND_WINDOW

from tests.host.conftest import connect
from tests.support.hostclient import DEFAULT_ORIGIN, HostClient, b64
from tests.support.servers import ALL_RULES
from tests.support.wire import message

TIMEOUT = 10


def open_host(tmp_path: Path, **hello: object) -> HostClient:
    from resocket.grants import GrantStore

    GrantStore.open(tmp_path).grant(DEFAULT_ORIGIN, ALL_RULES)
    client = HostClient(env={"RESOCKET_CONFIG_DIR": str(tmp_path)}, hello=False)
    client.hello_result = client.request("hello", protocol=1, client="tests/1", **hello)["result"]
    return client


@pytest.fixture()
def host(tmp_path: Path) -> Iterator[HostClient]:
    client = open_host(tmp_path, batch=True, writeBehind=True)
    yield client
    client.close()


def frames_holding(host: HostClient, start: int, ids: set[int]) -> list[list[int]]:
    """The ids of every frame from raw_frames[start:] on, until all of `ids` arrived."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        got = []
        for raw in host.raw_frames[start:]:
            msg = json.loads(raw)
            got.append([m.get("id") for m in msg.get("batch", [msg])])
        if ids <= {i for ids_ in got for i in ids_}:
            return got
        time.sleep(0.01)
    raise TimeoutError(f"replies {ids} never came")


def test_hello_announces_the_window_only_to_a_client_that_asks(tmp_path: Path, peer: socket.socket) -> None:
    plain = open_host(tmp_path)
    try:
        assert "writeBehind" not in plain.hello_result
        sid, conn = connect(plain, peer)
        assert plain.call("write", socketId=sid, data=b64(b"abc")).args == [{"bytesWritten": 3}]
        conn.close()
    finally:
        plain.close()
    asking = open_host(tmp_path, writeBehind=True)
    try:
        assert asking.hello_result["writeBehind"] == {"window": BEHIND_WINDOW}
    finally:
        asking.close()


def test_tcp_write_replies_say_behind_udp_and_sockets_tcp_send_do_not(host: HostClient,
                                                                      peer: socket.socket) -> None:
    sid, conn = connect(host, peer)
    assert host.call("write", socketId=sid, data=b64(b"hello")).args == [{"bytesWritten": 5, "behind": True}]
    assert conn.recv(16) == b"hello"
    # Failures never say it: the client goes back to waiting for the host.
    never = host.call("create", type="tcp").value["socketId"]
    assert host.call("write", socketId=never, data=b64(b"x")).args == [{"bytesWritten": -15}]
    udp = host.call("create", type="udp").value["socketId"]
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    try:
        assert host.call("connect", socketId=udp, hostname="127.0.0.1", port=rx.getsockname()[1]).args == [0]
        assert host.call("write", socketId=udp, data=b64(b"dgram")).args == [{"bytesWritten": 5}]
    finally:
        rx.close()
    tcp = host.call("tcp.create").value["socketId"]
    assert host.call("tcp.connect", socketId=tcp, peerAddress="127.0.0.1", peerPort=peer.getsockname()[1]).args == [0]
    assert host.call("tcp.send", socketId=tcp, data=b64(b"s")).args == [{"resultCode": 0, "bytesSent": 1}]
    conn.close()


def test_a_lazy_reply_rides_in_the_next_frame_and_is_never_lost(host: HostClient, peer: socket.socket) -> None:
    sid, conn = connect(host, peer)
    # A write the client already called back, then a ping in the same stdin read: one frame holds both
    # replies, the write's first.
    start = len(host.raw_frames)
    write, ping = host.expect(900), host.expect(901)
    host.send_raw(message({"id": 900, "op": "write", "args": {"socketId": sid, "data": b64(b"lazy"), "behind": True}})
                  + message({"id": 901, "op": "ping"}))
    assert write.wait()["args"] == [{"bytesWritten": 4, "behind": True}]
    assert ping.wait() == {"id": 901, "result": {}}
    assert frames_holding(host, start, {900, 901}) == [[900, 901]]
    # Alone, it still comes (after the host's short wait), as a frame of its own.
    start = len(host.raw_frames)
    lone = host.start("write", socketId=sid, data=b64(b"alone"), behind=True)
    assert lone.wait()["args"] == [{"bytesWritten": 5, "behind": True}]
    assert frames_holding(host, start, {lone.id}) == [[lone.id]]
    got = b""
    while len(got) < 9:
        got += conn.recv(64)
    assert got == b"lazyalone"
    conn.close()


def test_a_lazy_reply_rides_with_read_ahead_bytes(host: HostClient, peer: socket.socket) -> None:
    """The echo pattern: the peer answers each write; its bytes' push carries the write's reply."""
    sid, conn = connect(host, peer)
    conn.sendall(b"first")
    reply = host.call("read", socketId=sid, bufferSize=5, stream=True).raw
    stream = reply["args"][0]["stream"]
    start = len(host.raw_frames)
    write = host.start("write", socketId=sid, data=b64(b"ping"), behind=True)
    assert conn.recv(16) == b"ping"
    conn.sendall(b"pong")
    assert write.wait()["args"] == [{"bytesWritten": 4, "behind": True}]
    event = host.unsolicited.get(timeout=TIMEOUT)
    assert event["event"] == "socket.data" and event["args"][0]["stream"] == stream
    # Unless the peer took longer than the host's wait, reply and push came as one frame.
    frames = frames_holding(host, start, {write.id})
    assert frames in ([[write.id, None]], [[write.id], [None]]), frames
    conn.close()


def test_failures_are_never_held_and_keep_their_order_behind_lazy_replies(host: HostClient,
                                                                         peer: socket.socket) -> None:
    sid, conn = connect(host, peer)
    never = host.call("create", type="tcp").value["socketId"]
    start = len(host.raw_frames)
    ok, failed = host.expect(910), host.expect(911)
    host.send_raw(message({"id": 910, "op": "write", "args": {"socketId": sid, "data": b64(b"a"), "behind": True}})
                  + message({"id": 911, "op": "write", "args": {"socketId": never, "data": b64(b"b"), "behind": True}}))
    assert ok.wait()["args"] == [{"bytesWritten": 1, "behind": True}]
    assert failed.wait()["args"] == [{"bytesWritten": -15}]
    assert frames_holding(host, start, {910, 911}) == [[910, 911]]
    conn.close()


def write_until_it_fails(host: HostClient, sid: int, behind: bool) -> list[int]:
    codes = []
    for _ in range(20):
        codes.append(host.call("write", socketId=sid, data=b64(b"x" * 1024),
                               **({"behind": True} if behind else {})).value["bytesWritten"])
        if codes[-1] < 0:
            break
        time.sleep(0.05)
    assert codes[-1] == -2 and all(c == 1024 for c in codes[:-1]), codes
    return codes


def reset_peer(host: HostClient, peer: socket.socket) -> int:
    sid, conn = connect(host, peer)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # RST
    return sid


def test_a_behind_write_that_meets_a_reset_leaves_the_socket_connected_until_the_next_write(
        host: HostClient, peer: socket.socket) -> None:
    """Chrome 156 (oracle peer_close, B and F): a send error met after the write's callback closes the send pipe
    only; getInfo still says connected, with its addresses, and the options still apply, until the next write
    fails -2 and disconnects the socket. The shim answers the app's -2 to the write that met the reset."""
    sid = reset_peer(host, peer)
    write_until_it_fails(host, sid, behind=True)
    info = host.call("getInfo", socketId=sid).value
    assert info["connected"] is True and info["peerAddress"] == "127.0.0.1" and info["peerPort"] > 0, info
    assert host.call("setNoDelay", socketId=sid, noDelay=True).args == [True]
    assert host.call("write", socketId=sid, data=b64(b"x"), behind=True).args == [{"bytesWritten": -2}]
    assert host.call("getInfo", socketId=sid).value == {"socketType": "tcp", "connected": False}
    assert host.call("write", socketId=sid, data=b64(b"x")).args == [{"bytesWritten": -15}]
    assert host.call("read", socketId=sid).value["resultCode"] == -15


def test_after_a_failed_behind_write_a_read_reaches_the_end_and_disconnect_ends_it(
        host: HostClient, peer: socket.socket) -> None:
    """Chrome 156 (oracle peer_close, E and F): the receive side is still there, so a read gets 0 (the reset),
    then the socket is disconnected and writes get -15; disconnect ends the state too."""
    sid = reset_peer(host, peer)
    write_until_it_fails(host, sid, behind=True)
    assert host.call("read", socketId=sid).value == {"resultCode": 0, "data": ""}
    assert host.call("getInfo", socketId=sid).value["connected"] is False
    assert host.call("write", socketId=sid, data=b64(b"x"), behind=True).args == [{"bytesWritten": -15}]
    other = reset_peer(host, peer)
    write_until_it_fails(host, other, behind=True)
    host.call("disconnect", socketId=other)
    assert host.call("getInfo", socketId=other).value["connected"] is False
    assert host.call("write", socketId=other, data=b64(b"x"), behind=True).args == [{"bytesWritten": -15}]


def test_a_write_the_client_waits_for_that_meets_a_reset_disconnects_at_once(host: HostClient,
                                                                              peer: socket.socket) -> None:
    """Without `behind` the app gets this -2 itself: the socket is disconnected now (Chrome's -2, then -15)."""
    sid = reset_peer(host, peer)
    write_until_it_fails(host, sid, behind=False)
    assert host.call("getInfo", socketId=sid).value["connected"] is False
    assert host.call("write", socketId=sid, data=b64(b"x")).args == [{"bytesWritten": -15}]


def test_a_write_queued_behind_a_partly_sent_one_never_resends_its_bytes(host: HostClient,
                                                                       peer: socket.socket) -> None:
    """Two writes in one stdin read while the peer is slow: the OS takes part of the first at once, the
    second queues behind it. The peer gets each byte once, in order (the queued write used to reset the
    first one's progress, and its first part went out twice)."""
    sid, conn = connect(host, peer)
    first = bytes((i * 7 + (i >> 16) * 13) & 255 for i in range(8 * 1024 * 1024))
    second = b"the second write"
    start = len(host.raw_frames)
    a, b = host.expect(950), host.expect(951)
    host.send_raw(message({"id": 950, "op": "write", "args": {"socketId": sid, "data": b64(first)}})
                  + message({"id": 951, "op": "write", "args": {"socketId": sid, "data": b64(second)}}))
    got = bytearray()
    conn.settimeout(TIMEOUT)
    while len(got) < len(first) + len(second):
        more = conn.recv(1 << 20)
        assert more, "the host closed the connection"
        got += more
    assert a.wait()["args"][0]["bytesWritten"] == len(first)
    assert b.wait()["args"][0]["bytesWritten"] == len(second)
    assert bytes(got) == first + second
    assert len(host.raw_frames) > start
    conn.close()


def test_the_new_arguments_refuse_wrong_types_and_the_host_keeps_serving(tmp_path: Path) -> None:
    """writeBehind (hello), behind (write), implicit and implicitWrites (datachannel.open) are booleans; anything else is
    bad_args naming the argument, and the next request is served. A `behind` from a client that did not ask
    for write-behind changes nothing."""
    client = HostClient(env={"RESOCKET_CONFIG_DIR": str(tmp_path)}, hello=False)
    try:
        reply = client.request("hello", protocol=1, client="tests/1", writeBehind="yes")
        assert reply["error"]["code"] == "bad_args" and "writeBehind" in reply["error"]["message"], reply
    finally:
        client.close()
    plain = open_host(tmp_path)
    try:
        for op, args, name in (("write", {"socketId": 1, "data": b64(b"x"), "behind": 1}, "behind"),
                               ("datachannel.open", {"implicit": "on"}, "implicit"),
                               ("datachannel.open", {"implicitWrites": 1}, "implicitWrites")):
            reply = plain.request(op, **args)
            assert reply["error"]["code"] == "bad_args" and name in reply["error"]["message"], reply
        srv = socket.create_server(("127.0.0.1", 0))
        try:
            sid, conn = connect(plain, srv)
            assert plain.call("write", socketId=sid, data=b64(b"ab"), behind=True).args == [{"bytesWritten": 2}]
            assert conn.recv(8) == b"ab"
            conn.close()
        finally:
            srv.close()
    finally:
        plain.close()
