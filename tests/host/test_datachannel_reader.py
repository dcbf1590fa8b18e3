"""The data channel's frame reader (resocket.engine.datachannel._Reader with DataChannel._frames), fed as the transport
feeds it: client frames cut at any byte by the OS's reads arrive whole, byte for byte and in order, with NumPy's
unmasking and the stdlib's; a protocol error or a close frame ends the connection and nothing after it is taken.
Pure layer: no sockets, the reader is fed by hand.
"""
from __future__ import annotations

import asyncio
import os
import random
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from resocket.engine import datachannel
from resocket.engine.datachannel import READ_LIMIT, DataChannel, _ProtocolError, _Reader


def client_frame(payload: bytes, opcode: int = 0x2, fin: bool = True) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    first = (0x80 if fin else 0) | opcode
    if n < 126:
        header = struct.pack("!BB", first, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, n)
    key = (mask * (n // 4 + 1))[:n]
    return header + mask + bytes(a ^ b for a, b in zip(payload, key))


def channel_reader(got: list[tuple[int, bytes]]) -> tuple[DataChannel, _Reader]:
    """A DataChannel appending every (reference, data) message to `got`, and the reader its connection would
    get (call inside a running loop)."""
    channel = DataChannel("chrome-extension://abc/", on_data=lambda ref, data: got.append((ref, bytes(data))),
                          on_close=lambda: None)
    reader = _Reader(READ_LIMIT, asyncio.get_running_loop())
    channel._reader = reader
    return channel, reader


def run_reader(stream: bytes, cuts: list[int]) -> tuple[list[tuple[int, bytes]], Any]:
    """Feed `stream` in pieces of the sizes in `cuts` (cycled): (the messages taken, how it ended: "open",
    "closed" or the exception)."""
    got: list[tuple[int, bytes]] = []

    async def run() -> Any:
        channel, reader = channel_reader(got)
        ended = reader.frames(channel._frames)
        at = i = 0
        while at < len(stream):
            n = cuts[i % len(cuts)]
            reader.feed_data(stream[at:at + n])
            at, i = at + n, i + 1
        if not ended.done():
            return "open"
        exc = ended.exception()
        return exc if exc is not None else "closed"

    how = asyncio.run(run())
    return got, how


def messages(rng: random.Random) -> tuple[bytes, list[tuple[int, bytes]]]:
    """Client frames for messages of awkward sizes (header forms of 7, 16 and 64 bits), a fragmented one and
    pings between them; and the (reference, data) each message should arrive as."""
    stream, expected = b"", []
    for ref, size in enumerate([0, 1, 117, 118, 65527, 65528, 65536, 70000, 200_000, 3, 64 * 1024 + 8]):
        data = rng.randbytes(size)
        body = struct.pack("!Q", ref) + data
        if ref == 7:  # fragmented: three frames, a ping in the middle
            stream += (client_frame(body[:10], 0x2, fin=False) + client_frame(b"ping", 0x9)
                       + client_frame(body[10:5000], 0x0, fin=False) + client_frame(body[5000:], 0x0))
        else:
            stream += client_frame(body)
        stream += client_frame(b"", 0xA)  # an unsolicited pong: ignored
        expected.append((ref, data))
    return stream, expected


@pytest.mark.parametrize("numpy", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_frames_cut_anywhere_arrive_whole_byte_for_byte_and_in_order(seed: int, numpy: bool,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    if numpy:
        np = pytest.importorskip("numpy")  # the `fast` extra, installed by `make test`
        monkeypatch.setattr(datachannel, "_numpy", np)
    else:
        monkeypatch.setattr(datachannel, "_numpy", None)
    rng = random.Random(seed)
    stream, expected = messages(rng)
    cuts = [rng.choice([1, 2, 3, 5, 6, 13, 100, 4096, 65535, 65536, 65550, 262144]) for _ in range(64)]
    got, how = run_reader(stream, cuts)
    assert how == "open"
    assert [ref for ref, _ in got] == [ref for ref, _ in expected]
    assert got == expected


def test_one_read_holding_everything_and_one_byte_reads_give_the_same_messages() -> None:
    stream, expected = messages(random.Random(99))
    assert run_reader(stream, [len(stream)]) == (expected, "open")
    assert run_reader(stream, [1]) == (expected, "open")


def test_a_close_frame_ends_it_and_nothing_after_it_is_taken() -> None:
    stream = (client_frame(struct.pack("!Q", 1) + b"before") + client_frame(struct.pack("!H", 1000), 0x8)
              + client_frame(struct.pack("!Q", 2) + b"after"))
    for cuts in ([len(stream)], [1], [7, 3], [24, 1000]):  # 24: the close frame straddles two reads
        got, how = run_reader(stream, cuts)
        assert got == [(1, b"before")] and how == "closed", (cuts, got, how)


@pytest.mark.parametrize(("frame", "code", "words"), [
    (b"\xc2\x80" + b"\0" * 4, 1002, "reserved bits"),
    (b"\x82\x05hello", 1002, "not masked"),
    (client_frame(b"text", 0x1), 1003, "text messages"),
    (client_frame(b"x" * 200, 0x9), 1002, "bad control frame"),
    (client_frame(b"abc", 0x0), 1002, "continuation without"),
    (b"\x82\xff" + struct.pack("!Q", 2 ** 40) + b"\0" * 4, 1009, "message over"),
    (client_frame(b"short"), 1002, "shorter than its 8-byte reference"),
])
def test_protocol_errors_end_the_connection_with_their_close_code(frame: bytes, code: int, words: str) -> None:
    stream = client_frame(struct.pack("!Q", 5) + b"ok") + frame + client_frame(struct.pack("!Q", 6) + b"never")
    for cuts in ([len(stream)], [1]):
        got, how = run_reader(stream, cuts)
        assert got == [(5, b"ok")], got
        assert isinstance(how, _ProtocolError) and how.code == code and words in str(how), how


def test_bytes_that_came_with_the_upgrade_request_are_parsed_once_it_switches_then_eof_ends_it() -> None:
    """The client may send its first frames in the same read as the upgrade request: they wait in the
    StreamReader's buffer behind it and are parsed when the reader switches to frames; an EOF already seen
    then ends the connection as IncompleteReadError (the channel's "ended" log line)."""
    got: list[tuple[int, bytes]] = []

    async def run() -> Any:
        channel, reader = channel_reader(got)
        reader.feed_data(b"GET /token HTTP/1.1\r\n\r\n" + client_frame(struct.pack("!Q", 3) + b"early"))
        assert await reader.readuntil(b"\r\n\r\n") == b"GET /token HTTP/1.1\r\n\r\n"
        reader.feed_eof()
        ended = reader.frames(channel._frames)
        assert ended.done()
        return ended.exception()

    how = asyncio.run(run())
    assert got == [(3, b"early")]
    assert isinstance(how, asyncio.IncompleteReadError)


# -- arbitrary client bytes (the page is the only peer the token lets in, but a page can be hostile) ------------
def _outcome(how: Any) -> Any:
    return ("error", how.code) if isinstance(how, _ProtocolError) else how


_frame_parts = st.tuples(st.integers(0, 255), st.booleans(), st.sampled_from([0, 1, 125, 126, 127, 8, 9, 200]),
                         st.binary(max_size=300))


def _raw_frame(first: int, masked: bool, length_code: int, payload: bytes) -> bytes:
    """A frame header as a hostile client may write it: any first byte, mask or not, any length form (the
    extended length says the payload's real size, or lies when the payload is short)."""
    second = (0x80 if masked else 0) | length_code
    ext = (struct.pack("!H", len(payload)) if length_code == 126 else
           struct.pack("!Q", len(payload)) if length_code == 127 else b"")
    return bytes([first, second]) + ext + (os.urandom(4) if masked else b"") + payload


@settings(max_examples=200, deadline=None)
@given(frames=st.lists(st.one_of(_frame_parts.map(lambda p: _raw_frame(*p)),
                                 st.binary(min_size=8, max_size=64).map(client_frame),
                                 st.binary(max_size=40)), max_size=8),
       cuts=st.lists(st.integers(1, 300), min_size=1, max_size=8))
def test_any_client_bytes_end_in_messages_a_close_or_a_protocol_error_whatever_the_reads(
        frames: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(frames)
    whole_got, whole = run_reader(stream, [max(1, len(stream))])
    got, how = run_reader(stream, cuts)
    assert (got, _outcome(how)) == (whole_got, _outcome(whole))
    assert how in ("open", "closed") or isinstance(how, _ProtocolError), how
