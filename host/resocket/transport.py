"""Stdio for native messaging: the one writer of stdout and the stdin reader loop.

Design rules (model: websockets' sync send path, one lock around one write):
- Every frame is written with one `write` + `flush` under one lock, so frames from the reader thread
  and from every socket worker never interleave. Encoding happens before the lock is taken.
- Once the browser is gone (EPIPE), sends become no-ops: a worker finishing late must not crash; the
  host notices the closed port through stdin EOF.
- The reader blocks on stdin and nothing else, and hands every decoded event to the caller as soon as
  the bytes that complete it arrive (`os.read` returns what is there; it never waits for a full buffer).
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO

from resocket.framing import END_OF_INPUT, NEED_DATA, FrameDecoder, encode_frame

log = logging.getLogger(__name__)

#: Bytes asked of stdin per read. Pipes hand back what they hold (64 KiB on Linux by default), so this
#: only bounds one read's allocation while keeping the number of system calls low for big writes.
READ_SIZE = 256 * 1024


class FrameWriter:
    """Writes whole frames to a binary stream, one at a time, from any thread."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.closed = False

    def send(self, message: Any) -> bool:
        """Write one frame (a JSON value or a `RawJSON`). False when the reader end is gone."""
        data = encode_frame(message)
        with self._lock:
            if self.closed:
                return False
            try:
                self._stream.write(data)
                self._stream.flush()
            except (BrokenPipeError, ConnectionResetError, ValueError, OSError) as exc:
                # ValueError: the stream was closed under us during shutdown.
                self.closed = True
                log.info("stdout closed (%s); dropping further replies", exc)
                return False
        return True


def read_frames(stream: BinaryIO, decoder: FrameDecoder | None = None) -> Iterator[Any]:
    """Yield each event the decoder produces from `stream` (messages and FrameErrors) until EOF."""
    decoder = decoder or FrameDecoder()
    read = _reader(stream)
    while True:
        data = read()
        if data:
            decoder.receive_data(data)
        else:
            decoder.receive_eof()
        while True:
            event = decoder.next_event()
            if event is NEED_DATA:
                break
            if event is END_OF_INPUT:
                return
            yield event


def _reader(stream: BinaryIO) -> Any:
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        # An in-memory stream (tests): read1 returns what is buffered without waiting for more.
        read1 = getattr(stream, "read1", None) or stream.read
        return lambda: read1(READ_SIZE)
    return lambda: os.read(fd, READ_SIZE)
