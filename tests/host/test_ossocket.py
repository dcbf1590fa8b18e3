"""Receiver on real loopback socket pairs: the reader-callback form (a plain OsSocket) and the task form (what
TLS streams use) must hand out the same bytes and stop, pause and end the same way."""
from __future__ import annotations

import asyncio
import socket
import struct

import pytest
from resocket.engine.ossocket import OsSocket, OsSocketClosed, Receiver


def _tcp_pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        near = socket.create_connection(listener.getsockname())
        far, _ = listener.accept()
    return near, far


class Harness:
    def __init__(self, loop: asyncio.AbstractEventLoop, mode: str) -> None:
        self.loop = loop
        a, self.peer = _tcp_pair()
        self.os_socket = OsSocket(loop, a)
        self.chunks: list[bytes] = []
        self.ended: list[BaseException | None] = []
        self.on_chunk = None
        self.receiver = Receiver(loop, self.os_socket.recv, self._deliver, self.ended.append,
                                 os_socket=self.os_socket if mode == "watch" else None)

    def _deliver(self, data: bytes) -> None:
        self.chunks.append(data)
        if self.on_chunk is not None:
            self.on_chunk(data)

    async def settle(self, turns: int = 20) -> None:
        for _ in range(turns):
            await asyncio.sleep(0.001)

    async def start_run(self, size: int) -> None:
        """Push style, with the read started and waiting for bytes."""
        self.receiver.run(size)
        await self.settle(2)
        assert self.receiver.reading

    async def until_ended(self) -> None:
        for _ in range(200):
            if self.ended:
                return
            await asyncio.sleep(0.001)

    def close(self) -> None:
        self.receiver.stop()
        self.os_socket.close()
        self.peer.close()


@pytest.fixture(params=["watch", "task"])
def make(request):
    made: list[Harness] = []

    def _make(loop):
        h = Harness(loop, request.param)
        made.append(h)
        return h
    yield _make
    for h in made:
        h.close()


def run(coro_fn, make):
    async def main():
        await coro_fn(make(asyncio.get_running_loop()))
    asyncio.run(main())


def test_push_style_reads_everything_in_order_until_eof(make):
    async def body(h: Harness) -> None:
        h.receiver.run(4096)
        sent = bytes(range(256)) * 400
        h.peer.sendall(sent)
        h.peer.shutdown(socket.SHUT_WR)
        await h.until_ended()
        assert b"".join(h.chunks) == sent
        assert all(len(c) <= 4096 for c in h.chunks)
        assert h.ended == [None]
        assert not h.receiver.reading
    run(body, make)


def test_pull_style_delivers_one_chunk_of_what_is_buffered(make):
    async def body(h: Harness) -> None:
        h.peer.sendall(b"a" * 3000)
        await h.settle(2)
        h.receiver.demand(10000)
        await h.settle()
        assert h.chunks == [b"a" * 3000]
        h.peer.sendall(b"b" * 10)
        await h.settle()
        assert len(h.chunks) == 1, "no demand, no read"
        assert not h.receiver.reading
        h.receiver.demand(4)
        await h.settle()
        assert h.chunks[1:] == [b"bbbb"]
    run(body, make)


def test_pause_from_deliver_stops_at_once_and_resume_continues(make):
    async def body(h: Harness) -> None:
        h.on_chunk = lambda data: h.receiver.pause()
        h.receiver.run(100)
        h.peer.sendall(b"x" * 1000)
        await h.settle()
        assert h.chunks == [b"x" * 100], "paused in its own callback: no second chunk"
        assert not h.receiver.reading
        h.on_chunk = None
        h.receiver.resume()
        await h.settle()
        assert b"".join(h.chunks) == b"x" * 1000
    run(body, make)


def test_a_read_waiting_when_paused_still_delivers_its_chunk(make):
    """Chrome's onReceive: pausing leaves the read in progress; its bytes arrive, then reading stops."""
    async def body(h: Harness) -> None:
        await h.start_run(100)
        h.receiver.pause()
        assert h.receiver.reading, "the read in progress is not cancelled by pause"
        h.peer.sendall(b"y" * 250)
        await h.settle()
        assert h.chunks == [b"y" * 100]
        assert not h.receiver.reading
    run(body, make)


def test_pull_then_push_from_deliver_keeps_reading(make):
    """What read-ahead does: the first chunk answers a read, and from its callback the stream starts."""
    async def body(h: Harness) -> None:
        def first(data: bytes) -> None:
            h.on_chunk = None
            h.receiver.resume()
            h.receiver.run(64)
        h.on_chunk = first
        h.receiver.demand(10)
        h.peer.sendall(b"z" * 500)
        await h.settle()
        assert h.chunks[0] == b"z" * 10
        assert b"".join(h.chunks) == b"z" * 500
        assert h.receiver.reading, "still streaming, waiting for more"
    run(body, make)


def test_stop_delivers_nothing_more_and_the_socket_stays_usable(make):
    async def body(h: Harness) -> None:
        await h.start_run(100)
        h.receiver.stop()
        h.peer.sendall(b"late")
        await h.settle()
        assert h.chunks == [] and h.ended == []
        assert await asyncio.wait_for(h.os_socket.recv(100), 1) == b"late", "stop() let go of the socket"
    run(body, make)


@pytest.mark.parametrize("read_first", [True, False], ids=["closed-under-a-read", "closed-before-the-read"])
def test_a_read_on_a_closed_socket_ends_with_os_socket_closed(make, read_first: bool):
    async def body(h: Harness) -> None:
        if read_first:
            await h.start_run(100)
        h.os_socket.close()
        if not read_first:
            h.receiver.demand(100)
        await h.settle()
        assert len(h.ended) == 1 and isinstance(h.ended[0], OsSocketClosed)
        assert not h.receiver.reading
    run(body, make)


def test_a_read_error_ends_the_stream_with_it(make):
    async def body(h: Harness) -> None:
        await h.start_run(100)
        h.peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.peer.close()  # linger 0: a reset
        await h.until_ended()
        assert len(h.ended) == 1 and isinstance(h.ended[0], ConnectionResetError)
        assert not h.receiver.reading
    run(body, make)


def test_a_delivery_that_raises_is_logged_and_reading_goes_on(make, caplog):
    """A bug behind the delivery must neither stop the socket's reads nor turn the next bytes into an end."""
    async def body(h: Harness) -> None:
        def boom(data: bytes) -> None:
            h.on_chunk = None
            raise RuntimeError("engine bug")
        h.on_chunk = boom
        h.receiver.demand(5)
        h.peer.sendall(b"first")
        await h.settle()
        assert h.chunks == [b"first"]
        h.peer.sendall(b"second")
        await h.settle()
        assert h.ended == [] and h.chunks == [b"first"], "no demand, no read, no end"
        h.receiver.demand(100)
        await h.settle()
        assert h.chunks == [b"first", b"second"] and h.ended == []
        assert "delivering 5 bytes read failed" in caplog.text and "engine bug" in caplog.text
    run(body, make)
