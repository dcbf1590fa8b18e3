"""Stdio for native messaging: the one writer of stdout and the stdin reader loop.

Design rules (model: websockets' sync send path, one lock around one write):
- Every frame is written with one `write` + `flush` (or, for frames in pieces, one `writev`) under one
  lock, so frames from the reader thread and from every socket worker never interleave. Encoding happens
  before the lock is taken.
- Once the browser is gone (EPIPE), sends become no-ops: a worker finishing late must not crash; the
  host notices the closed port through stdin EOF.
- The reader hands every decoded event to the caller as soon as the bytes that complete it arrive (a
  read returns what is there; it never waits for a full buffer). Before hello it blocks on stdin on the
  main thread; after hello the host has the engine's event loop call `fill()` when stdin is readable,
  so a request reaches the engine without a thread hop (client/serve.py).
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO

from resocket.wire.framing import END_OF_INPUT, NEED_DATA, FrameDecoder, frame_buffers

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
        # Frames in pieces (`RawJSONParts`) go to the file descriptor with one writev; the stream is flushed
        # after every write, so nothing of it can wait in its buffer meanwhile.
        self._fd: int | None = None
        if hasattr(os, "writev"):  # not on Windows: the pieces are joined there
            try:
                self._fd = stream.fileno()
            except (AttributeError, OSError, ValueError):
                pass  # an in-memory stream (tests)

    def send(self, message: Any) -> bool:
        """Write one frame (a JSON value, a `RawJSON` or `RawJSONParts`). False when the reader end is gone."""
        return self._write(frame_buffers(message))

    def send_all(self, messages: list[Any]) -> bool:
        """Write several frames with one write (a split read reply). False when the reader end is gone."""
        buffers: list[bytes] = []
        for message in messages:
            buffers += frame_buffers(message)
        return self._write(buffers)

    def _write(self, buffers: list[bytes]) -> bool:
        with self._lock:
            if self.closed:
                return False
            try:
                if len(buffers) == 1 or self._fd is None:
                    self._stream.write(buffers[0] if len(buffers) == 1 else b"".join(buffers))
                    self._stream.flush()
                else:
                    _writev_all(self._fd, buffers)
            except (BrokenPipeError, ConnectionResetError, ValueError, OSError) as exc:
                # ValueError: the stream was closed under us during shutdown.
                self.closed = True
                log.info("stdout closed (%s); dropping further replies", exc)
                return False
        return True


#: Buffers per writev call (Linux's IOV_MAX is 1024).
_IOV_MAX = 1024


def _writev_all(fd: int, buffers: list[bytes]) -> None:
    """Write every buffer, in order, with as few `writev` calls as the pipe allows (a call may write only
    part when a signal interrupts it)."""
    pending: list[Any] = list(buffers)
    while pending:
        written = os.writev(fd, pending[:_IOV_MAX])
        done = 0
        while done < len(pending) and written >= len(pending[done]):
            written -= len(pending[done])
            done += 1
        del pending[:done]
        if written:
            pending[0] = memoryview(pending[0])[written:]


def read_frames(stream: BinaryIO, decoder: FrameDecoder | None = None) -> Iterator[Any]:
    """Yield each event the decoder produces from `stream` (messages and FrameErrors) until EOF."""
    reader = StdinReader(stream, decoder)
    while not reader.at_end:
        reader.fill()
        yield from reader.events()


class StdinReader:
    """Reads stdin into one reused buffer and feeds the frame decoder; the caller drains `events()`.

    `fill()` blocks for one read (or, from an event loop's reader callback, returns what is there).
    `os.readv` into a buffer allocated once: `os.read(fd, 256 KiB)` mmaps a fresh 256 KiB object per
    call and then mremaps / munmaps it (three extra system calls and page faults for every small
    request). The decoder copies what it is given, so the buffer is free again when `fill` returns.
    """

    def __init__(self, stream: BinaryIO, decoder: FrameDecoder | None = None) -> None:
        self.decoder = decoder or FrameDecoder()
        self.at_end = False
        try:
            self.fd: int | None = stream.fileno()
        except (AttributeError, OSError, ValueError):
            self.fd = None  # an in-memory stream (tests): read1 returns what is buffered
            self._read1 = getattr(stream, "read1", None) or stream.read
        self._buffer = bytearray(READ_SIZE)
        self._view = memoryview(self._buffer)

    def fill(self) -> None:
        """One read from the stream into the decoder; at EOF the decoder is told so."""
        if self.fd is None:
            data = self._read1(READ_SIZE)
            if data:
                self.decoder.receive_data(data)
            else:
                self.decoder.receive_eof()
            return
        n = os.readv(self.fd, [self._buffer])
        if n:
            self.decoder.receive_data(self._view[:n])
        else:
            self.decoder.receive_eof()

    def events(self) -> Iterator[Any]:
        """Every event buffered now; sets `at_end` once the input ended and everything was handed out."""
        decoder = self.decoder
        while True:
            event = decoder.next_event()
            if event is NEED_DATA:
                return
            if event is END_OF_INPUT:
                self.at_end = True
                return
            yield event
