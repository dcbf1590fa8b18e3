"""transport.FrameWriter on a real pipe: frames in pieces leave whole, in order, with none interleaved."""
from __future__ import annotations

import json
import os
import threading
from typing import Any

import pytest
from resocket.client import transport
from resocket.client.transport import FrameWriter, read_frames
from resocket.wire.framing import RawJSON, RawJSONParts


def piece_frame(n: int, size: int) -> RawJSONParts:
    return RawJSONParts((b'{"event":"e","args":[%d,"' % n, b"A" * size, b'"]}'))


@pytest.mark.skipif(not hasattr(os, "writev"), reason="no writev: frames in pieces are joined (tested below)")
def test_frames_in_pieces_reach_the_reader_whole_and_in_order_from_many_threads() -> None:
    rfd, wfd = os.pipe()  # 64 KiB of pipe buffer: every big frame blocks the writer part-way
    got: list[Any] = []
    reader = threading.Thread(target=lambda: got.extend(read_frames(os.fdopen(rfd, "rb", buffering=0))))
    reader.start()
    with os.fdopen(wfd, "wb") as stream:
        writer = FrameWriter(stream)

        def send(first: int) -> None:
            for n in range(first, first + 20):
                if n % 3 == 0:
                    assert writer.send_all([piece_frame(n, 100_000), {"id": n, "result": {}}])
                elif n % 3 == 1:
                    assert writer.send(piece_frame(n, 70_000))
                else:
                    assert writer.send(RawJSON(json.dumps({"id": n, "result": {"n": n}})))

        workers = [threading.Thread(target=send, args=(first,)) for first in (0, 100, 200)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    reader.join(timeout=30)
    seen = []
    for message in got:
        if "event" in message:
            n = message["args"][0]
            assert message["args"][1] == "A" * (100_000 if n % 3 == 0 else 70_000)
            seen.append(("event", n))
        else:
            seen.append(("reply", message["id"]))
    for first in (0, 100, 200):  # each thread's frames in its own order
        mine = [item for item in seen if first <= item[1] < first + 20]
        expected = []
        for n in range(first, first + 20):
            expected += [("event", n), ("reply", n)] if n % 3 == 0 else [("event", n)] if n % 3 == 1 else [("reply", n)]
        assert mine == expected


def test_a_writev_that_writes_only_part_is_carried_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """A signal can cut a write short; the rest follows, from the byte where it stopped."""
    out = bytearray()

    def short_writev(fd: int, buffers: list) -> int:
        data = b"".join(bytes(b) for b in buffers)[:7]  # at most 7 bytes per call
        out.extend(data)
        return len(data)

    monkeypatch.setattr(os, "writev", short_writev, raising=False)
    transport._writev_all(99, [b"0123", b"", b"456789abc", b"d", b"efghijklmnop"])
    assert bytes(out) == b"0123456789abcdefghijklmnop"


def test_without_a_file_descriptor_the_pieces_are_joined() -> None:
    import io

    stream = io.BytesIO()
    writer = FrameWriter(stream)
    assert writer.send_all([piece_frame(1, 10), {"id": 2, "result": {}}])
    assert list(read_frames(io.BytesIO(stream.getvalue()))) == [{"event": "e", "args": [1, "A" * 10]},
                                                                 {"id": 2, "result": {}}]


def test_a_closed_reader_makes_sends_return_false() -> None:
    rfd, wfd = os.pipe()
    os.close(rfd)
    with os.fdopen(wfd, "wb") as stream:
        writer = FrameWriter(stream)
        assert writer.send(piece_frame(1, 10)) is False
        assert writer.closed
        assert writer.send({"id": 1}) is False
