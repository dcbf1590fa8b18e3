"""The wait of lazy write replies (docs/protocol.md, "Write-behind", "Lazy replies"), on a clock the test moves.

A lazy reply waits for the next message to the client, at most LAZY_DELAY. One timer serves the replies that
wait together; when they leave with a message, the timer stays armed, and the replies queued after them must
not leave when it fires: in an echo that made a third of the write replies messages of their own (in a
browser, ~4 extra native messages per MiB echoed). Pure: Client and DataChannel with a stand-in loop and output.
"""
from __future__ import annotations

import asyncio
import io
import json
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from resocket.client.serve import Client
from resocket.client.transport import FrameWriter, read_frames
from resocket.engine import datachannel as dc
from resocket.wire.framing import RawJSON
from resocket.wire.protocol import LAZY_DELAY, api_reply

ORIGIN = "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"


class ManualLoop:
    """`time`, `call_at`, `call_later` and `call_soon` of an event loop whose clock only the test moves."""

    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list[tuple[float, Any]] = []
        self.soon: list[Any] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Any) -> tuple[float, Any]:
        handle = (when, callback)
        self.timers.append(handle)
        return handle

    def call_later(self, delay: float, callback: Any) -> tuple[float, Any]:
        return self.call_at(self.now + delay, callback)

    def call_soon(self, callback: Any) -> None:
        self.soon.append(callback)

    def run_soon(self) -> None:
        while self.soon:
            self.soon.pop(0)()

    def advance(self, delay: float) -> None:
        """Move the clock `delay` seconds past its start, running what falls due on the way, in order."""
        self.run_soon()
        target = 100.0 + delay
        while True:
            due = [t for t in self.timers if t[0] <= target]
            if not due:
                break
            handle = min(due, key=lambda t: t[0])
            self.timers.remove(handle)
            self.now = max(self.now, handle[0])
            handle[1]()
            self.run_soon()
        self.now = target


def lazy_text(req_id: int) -> str:
    return f'{{"id":{req_id},"args":[{{"bytesWritten":4,"behind":true}}]}}'


def host_frames(out: io.BytesIO) -> list[list[Any]]:
    """The ids in each frame written so far (None for an event)."""
    return [[m.get("id") for m in msg.get("batch", [msg])] for msg in read_frames(io.BytesIO(out.getvalue()))]


def test_native_messaging_replies_queued_after_the_timers_own_left_wait_their_full_delay() -> None:
    loop, out = ManualLoop(), io.BytesIO()
    host = Client(ORIGIN, FrameWriter(out), {})
    host.engine = SimpleNamespace(loop=loop, _thread_id=threading.get_ident())
    host.session.batch = True
    push = RawJSON('{"event":"socket.data","args":[{"socketId":1,"stream":1,"data":"AA=="}]}', None)

    host.emit_lazy(RawJSON(lazy_text(1), 1), 4)  # its timer: due after LAZY_DELAY
    loop.advance(LAZY_DELAY * 0.25)
    host.emit(api_reply(50, []))  # reply 1 rides with it
    assert host_frames(out) == [[1, 50]]
    loop.advance(LAZY_DELAY * 0.75)
    host.emit_lazy(RawJSON(lazy_text(2), 2), 4)
    loop.advance(LAZY_DELAY * 1.5)  # the first timer fired half-way through reply 2's wait: it stays
    assert host_frames(out) == [[1, 50]]
    host.emit(push)  # the echo's push comes in time, and carries it
    assert host_frames(out) == [[1, 50], [2, None]]
    # Alone, a reply still leaves when its own wait is over.
    host.emit_lazy(RawJSON(lazy_text(3), 3), 4)
    loop.advance(LAZY_DELAY * 2.4)
    assert host_frames(out) == [[1, 50], [2, None]]
    loop.advance(LAZY_DELAY * 2.6)
    assert host_frames(out) == [[1, 50], [2, None], [3]]
    assert loop.timers == []


class CaptureWriter:
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.transport = SimpleNamespace(get_write_buffer_size=lambda: 0)

    def writelines(self, parts: list[Any]) -> None:
        self.messages.append(b"".join(bytes(p) for p in parts[1:]))  # parts[0] is the WebSocket frame header

    def is_closing(self) -> bool:
        return False


def channel_messages(writer: CaptureWriter) -> list[Any]:
    """The ids of the records in each message sent so far (None for an event); "bytes" for a data message."""
    got = []
    for message in writer.messages:
        if message[:8] != dc.REQUEST_REF_BYTES:
            got.append("bytes")
            continue
        ids, at = [], 0
        while at < len(message):
            _, size, length = dc.RECORD_HEAD.unpack_from(message, at)
            at += dc.RECORD_HEAD.size
            ids.append(json.loads(message[at: at + size]).get("id"))
            at += size + length
        got.append(ids)
    return got


def test_data_channel_replies_queued_after_the_timers_own_left_wait_their_full_delay(
        monkeypatch: pytest.MonkeyPatch) -> None:
    loop, writer = ManualLoop(), CaptureWriter()
    monkeypatch.setattr(asyncio, "get_running_loop", lambda: loop)
    channel = dc.DataChannel(ORIGIN, lambda ref, data: None, lambda: None)
    channel._writer = writer  # type: ignore[assignment]
    push = b'{"event":"socket.data","args":[{"socketId":1,"stream":1,"size":2}]}'

    channel.send_reply(lazy_text(1).encode(), lazy=4)
    loop.advance(LAZY_DELAY * 0.25)
    channel.send_reply(b'{"id":50,"result":{}}')  # leaves this loop turn, reply 1 with it
    loop.advance(LAZY_DELAY * 0.75)
    assert channel_messages(writer) == [[1, 50]]
    channel.send_reply(lazy_text(2).encode(), lazy=4)
    loop.advance(LAZY_DELAY * 1.5)  # the first timer fired half-way through reply 2's wait: it stays
    assert channel_messages(writer) == [[1, 50]]
    channel.send_raw(push, b"hi")  # the echo's push comes in time, and carries it
    assert channel_messages(writer)[1:] == [[2, None], "bytes"]  # the announcing records, then the bytes
    channel.send_reply(lazy_text(3).encode(), lazy=4)
    loop.advance(LAZY_DELAY * 2.4)
    assert len(writer.messages) == 3
    loop.advance(LAZY_DELAY * 2.6)
    assert channel_messages(writer)[3:] == [[3]]
    assert loop.timers == []
