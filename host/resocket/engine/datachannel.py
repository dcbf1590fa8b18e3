"""The optional data channel: a loopback WebSocket for bulk socket data (docs/protocol.md, "Data channel").

Native messaging carries JSON only, so every byte of socket data costs base64 both ways and a JSON
envelope; a WebSocket carries binary messages. The control path (every request and reply) stays on native
messaging; only payloads travel here, each tagged with a reference the control path names.

Design rules (model: a minimal RFC 6455 server; no extensions, no subprotocols):
- Started on demand (`datachannel.open`), on the engine's loop, bound to 127.0.0.1 on an ephemeral port.
- Exactly one connection is ever accepted: the first that presents the one-time token in the URL path
  (compared with `hmac.compare_digest`) *and* whose `Origin` is the client's own extension origin. The
  listener closes at that moment. Anything else (wrong token or path, wrong or missing Origin, not a
  WebSocket upgrade, too slow) gets an HTTP 403, is logged, and the listener keeps waiting for the real
  client; after MAX_REFUSED refusals it closes for good (the client then stays on native messaging).
- The token never leaves the native-messaging pipe, which only Chrome and this process hold: a local
  process cannot learn it, and a web page cannot forge the Origin header a browser sends.
- Client frames must be masked (RFC 6455 5.1); text frames, oversized messages and protocol errors close
  the channel. Frames are parsed from the transport's reads as they come (`_Reader`), not through a
  StreamReader's buffer. A closed channel never takes the host down: requests that were waiting for its data fail.
- Messages both ways: an 8-byte big-endian reference, then the payload (client -> host: the `dataRef` a
  write names; host -> client: the id of the read request whose data this is).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import os
import secrets
import struct
import threading
from typing import Any, Callable

from resocket.wire.protocol import BEHIND_WINDOW, LAZY_DELAY

log = logging.getLogger(__name__)

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: Connections refused before the listener gives up (someone is probing the port).
MAX_REFUSED = 16
#: Seconds a connection has to send its complete upgrade request.
HANDSHAKE_TIMEOUT = 5.0
MAX_REQUEST = 8 * 1024
READ_LIMIT = 1024 * 1024
#: Largest message accepted (a write bigger than this goes over native messaging).
MAX_MESSAGE = 64 * 1024 * 1024 + 8
REF = struct.Struct("!Q")
#: Bytes queued for the browser beyond which the channel counts as congested: read-ahead stops pushing until
#: the queue has drained (a client that acknowledges bytes it never reads cannot grow the host's memory).
CONGESTED = 4 * 1024 * 1024
#: The reference of a *request record* (both ways: a request, or the reply to one): `REQUEST_REF`, the JSON's
#: length and the payload's (4 bytes big-endian each), the JSON, the payload; one message holds one or more
#: records (docs/protocol.md, "Requests on the channel"). Above every dataRef a client may use (< 2^53).
REQUEST_REF = 2 ** 64 - 1
RECORD_HEAD = struct.Struct("!QII")
REQUEST_REF_BYTES = REF.pack(REQUEST_REF)
_XOR = [bytes(i ^ b for i in range(256)) for b in range(256)]

OnData = Callable[[int, bytes], None]


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")


def frame_header(opcode: int, length: int) -> bytes:
    """A server frame header (FIN set, unmasked)."""
    if length < 126:
        return struct.pack("!BB", 0x80 | opcode, length)
    if length < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, length)
    return struct.pack("!BBQ", 0x80 | opcode, 127, length)


def unmask_stdlib(mask: bytes, payload: bytes) -> bytes:
    """XOR with the 4-byte mask: one `translate` per mask byte over every 4th byte (C-level passes; 2x faster
    than big-integer XOR here: ~67 vs ~125 us per 64 KiB, docs/performance.md)."""
    if not payload:
        return b""
    out = bytearray(payload)
    for i in range(4):
        out[i::4] = payload[i::4].translate(_XOR[mask[i]])
    return bytes(out)


#: Payloads from this size are unmasked with NumPy when it is installed (`pip install resocket[fast]`):
#: one vectorized XOR, ~12x faster than unmask_stdlib at 64 KiB (docs/performance.md). Below it the
#: stdlib version is as fast (the call overhead dominates).
NUMPY_MIN = 2048
_numpy: Any = None


def unmask(mask: bytes, payload: bytes | memoryview) -> bytes:
    """The payload XORed with the 4-byte mask (RFC 6455 5.3), with NumPy once `load_numpy` has found it."""
    np = _numpy
    if np is None or len(payload) < NUMPY_MIN:
        return unmask_stdlib(mask, bytes(payload))
    words, tail = divmod(len(payload), 4)
    out = np.bitwise_xor(np.frombuffer(payload, dtype=np.uint32, count=words),
                         np.frombuffer(mask, dtype=np.uint32)).tobytes()
    if tail:
        out += unmask_stdlib(mask, bytes(payload[words * 4:]))
    return out


def load_numpy() -> None:
    """Import NumPy on a background thread (it takes ~100 ms; the channel works without it meanwhile).
    RESOCKET_NUMPY=0 keeps the stdlib path (benchmarks compare both; a broken NumPy can be switched off)."""
    def load() -> None:
        global _numpy
        try:
            import numpy
        except Exception:  # noqa: BLE001 - absent or broken: the stdlib path stays
            return
        _numpy = numpy

    if _numpy is None and os.environ.get("RESOCKET_NUMPY", "1") != "0":
        threading.Thread(target=load, name="resocket-numpy", daemon=True).start()


class _Reader(asyncio.StreamReader):
    """A connection's reader: a StreamReader for the upgrade request; then, once `frames` is called, every read
    of the transport goes straight to a frame parser. Frames are unmasked from the bytes the OS read; only a
    frame that straddles two reads is joined first. StreamReader copied every byte into its buffer and out
    again (`readexactly`): ~20% of the host's time in a data-channel echo (docs/performance.md, round 7)."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self._parse: Callable[[memoryview], tuple[int, int]] | None = None
        self._held: list[Any] = []  # the start of an incomplete frame (views into earlier reads)
        self._held_size = 0
        self._need = 0  # bytes that the held frame needs in all before it can be parsed further
        self.ended: asyncio.Future | None = None

    def frames(self, parse: Callable[[memoryview], tuple[int, int]]) -> asyncio.Future:
        """From now on every byte read goes to `parse(view)`, which takes the complete frames at the start of
        `view` and returns (bytes taken, bytes the next frame needs from there). The future ends with the
        connection: None after `end(None)`, else the exception (a protocol error, EOF, a reset)."""
        self.ended = asyncio.get_running_loop().create_future()
        self._parse = parse
        leftover = bytes(self._buffer)  # what came with the upgrade request
        self._buffer.clear()
        if leftover:
            self.feed_data(leftover)
        if self._exception is not None:
            self.end(self._exception)
        elif self._eof:
            self.end(asyncio.IncompleteReadError(b"", None))
        return self.ended

    def end(self, exc: BaseException | None) -> None:
        if self.ended is not None and not self.ended.done():
            if exc is None:
                self.ended.set_result(None)
            else:
                self.ended.set_exception(exc)

    def feed_data(self, data: bytes) -> None:
        if self._parse is None:
            return super().feed_data(data)
        if self.ended is None or self.ended.done():
            return  # after a close frame or an error nothing more is read
        try:
            self._take(memoryview(data))
        except Exception as exc:  # noqa: BLE001 - a protocol error or a failing handler ends the channel
            self.end(exc)

    def _take(self, view: memoryview) -> None:
        parse = self._parse
        while view:
            if self._held:
                missing = self._need - self._held_size
                if len(view) < missing:
                    self._held.append(view)
                    self._held_size += len(view)
                    return
                chunk = memoryview(b"".join([*self._held, view[:missing]]))
                view = view[missing:]
                self._held, self._held_size = [], 0
            else:
                chunk, view = view, view[:0]
            used, need = parse(chunk)
            if self.ended is None or self.ended.done():
                return
            if used < len(chunk):
                self._held, self._held_size, self._need = [chunk[used:]], len(chunk) - used, need

    def feed_eof(self) -> None:
        super().feed_eof()
        self.end(asyncio.IncompleteReadError(b"", None))

    def set_exception(self, exc: BaseException) -> None:
        super().set_exception(exc)
        self.end(exc)


class DataChannel:
    """One client's data channel. Create, `await start()`, hand `url` and `token` to the client."""

    def __init__(self, origin: str, on_data: OnData, on_close: Callable[[], None], implicit: bool = False) -> None:
        #: The only Origin accepted: the client's extension origin (or, for a relayed web page, the page's
        #: origin), without the trailing slash browsers omit.
        self.origin = origin.rstrip("/")
        self.token = secrets.token_urlsafe(32)
        self.url = ""
        self._on_data, self._on_close = on_data, on_close
        self._server: asyncio.AbstractServer | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._refused = 0
        self._out: list[Any] = []  # reply records waiting for the end of this loop iteration
        self._soon = False  # a flush at the end of this loop iteration is scheduled
        #: Implicit data (docs/protocol.md): unannounced messages are the bytes of the stream announced last.
        self.implicit = implicit
        self._announced: Any = None  # (socket id, stream) of the last announcement
        self._lazy_bytes = 0  # bytes answered by the lazy write replies in _out
        self._lazy_timer: asyncio.TimerHandle | None = None
        self._lazy_since = 0.0  # loop time the oldest lazy reply in _out was queued at
        self._drained: list[Callable[[], None]] = []  # who waits for the browser to catch up
        self._used = False
        self.closed = False
        #: Implicit writes (docs/protocol.md): while set, a message that is not a record goes here whole.
        self.bare: Callable[[bytes], None] | None = None
        self._reader: _Reader | None = None
        self._parts: list[bytes] = []  # the frames of a fragmented message so far
        self._size = 0

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self.closed

    def congested(self, on_drained: Callable[[], None]) -> bool:
        """True when more than CONGESTED bytes wait for the browser; `on_drained` then runs once they left."""
        writer = self._writer
        if writer is None or self.closed or writer.transport.get_write_buffer_size() <= CONGESTED:
            return False
        self._drained.append(on_drained)
        if len(self._drained) == 1:
            asyncio.get_running_loop().create_task(self._wait_drained(writer))
        return True

    async def _wait_drained(self, writer: asyncio.StreamWriter) -> None:
        try:
            await writer.drain()
        except (ConnectionError, OSError):
            pass  # closing: the streams on it are broken anyway
        waiting, self._drained = self._drained, []
        for callback in waiting:
            callback()

    async def start(self) -> None:
        # The limit only bounds the upgrade request's `readuntil` (its own cap, MAX_REQUEST, is checked
        # after it); frames then go straight to the parser (_Reader.frames), never into the reader's buffer.
        load_numpy()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: asyncio.StreamReaderProtocol(_Reader(READ_LIMIT, loop), self._connection, loop=loop),
            "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/"

    # -- handshake ------------------------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HANDSHAKE_TIMEOUT)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            return self._refuse(writer, peer, "no complete upgrade request")
        if len(request) > MAX_REQUEST:
            return self._refuse(writer, peer, f"upgrade request over {MAX_REQUEST} bytes")
        problem, key = self._check(request)
        if problem:
            return self._refuse(writer, peer, problem)
        self._used = True
        self._writer = writer
        if self._server is not None:
            self._server.close()  # exactly one connection, ever
            self._server = None
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode("ascii"))
        log.info("data channel connected from %s", peer)
        try:
            assert isinstance(reader, _Reader)
            self._reader = reader
            await reader.frames(self._frames)
        except (asyncio.IncompleteReadError, OSError) as exc:
            log.info("data channel ended: %s", exc)
        except asyncio.CancelledError:
            # The host is shutting down. Ended here, not re-raised: Python 3.11's stream callback asks a
            # cancelled task for its exception and logs the CancelledError that raises as an ERROR.
            log.info("data channel ended: the host is shutting down")
        except _ProtocolError as exc:
            log.warning("data channel closed: %s", exc)
            self._send_close(exc.code)
        finally:
            self.close()

    def _check(self, request: bytes) -> tuple[str, str]:
        """(problem, websocket key): problem is "" for the one request that may connect."""
        if self._used or self.closed:
            return "the data channel already has its connection", ""
        try:
            lines = request.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ")
        except ValueError:
            return "not an HTTP request", ""
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if method != "GET" or version != "HTTP/1.1":
            return f"{method} {version} is not a WebSocket upgrade", ""
        presented = target[1:] if target.startswith("/") else ""
        if not hmac.compare_digest(presented.encode("latin-1"), self.token.encode("ascii")):
            return "wrong token", ""
        if headers.get("origin", "") != self.origin:
            return f"origin {headers.get('origin', '(none)')!r} is not {self.origin!r}", ""
        if headers.get("upgrade", "").lower() != "websocket" or \
                "upgrade" not in headers.get("connection", "").lower():
            return "not a WebSocket upgrade", ""
        if headers.get("sec-websocket-version") != "13" or not headers.get("sec-websocket-key"):
            return "not a version 13 WebSocket handshake", ""
        return "", headers["sec-websocket-key"]

    def _refuse(self, writer: asyncio.StreamWriter, peer: Any, problem: str) -> None:
        log.warning("data channel refused a connection from %s: %s", peer, problem)
        try:
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            writer.close()
        except OSError:
            pass
        self._refused += 1
        if self._refused >= MAX_REFUSED and self._server is not None and not self._used:
            log.warning("data channel: %d connections refused; no longer listening", self._refused)
            self.close()

    # -- messages -------------------------------------------------------------------------------------
    def _frames(self, view: memoryview) -> tuple[int, int]:
        """The complete frames at the start of `view` (_Reader.frames): (bytes taken, bytes the next needs)."""
        at, end = 0, len(view)
        while True:
            if end - at < 2:
                return at, 2
            b0, b1 = view[at], view[at + 1]
            if b0 & 0x70:
                raise _ProtocolError(1002, "reserved bits set (no extension was negotiated)")
            if not b1 & 0x80:
                raise _ProtocolError(1002, "client frame not masked")
            length = b1 & 0x7F
            head = 8 if length == 126 else 14 if length == 127 else 6
            if end - at < head:
                return at, head
            if length == 126:
                (length,) = struct.unpack_from("!H", view, at + 2)
            elif length == 127:
                (length,) = struct.unpack_from("!Q", view, at + 2)
            fin, opcode = b0 & 0x80, b0 & 0x0F
            if opcode >= 0x8 and (length > 125 or not fin):
                raise _ProtocolError(1002, "bad control frame")
            if self._size + length > MAX_MESSAGE:
                raise _ProtocolError(1009, f"message over {MAX_MESSAGE} bytes")
            if end - at < head + length:
                return at, head + length
            payload = unmask(bytes(view[at + head - 4:at + head]), view[at + head:at + head + length])
            at += head + length
            if self._frame(fin, opcode, payload):
                return end, 0

    def _frame(self, fin: int, opcode: int, payload: bytes) -> bool:
        """One unmasked frame; True when it closed the channel (a close frame)."""
        if opcode == 0x8:
            self._send_close(1000)
            if self._reader is not None:
                self._reader.end(None)
            return True
        if opcode == 0x9:
            self._send(0xA, [payload])
            return False
        if opcode == 0xA:
            return False
        if opcode == 0x1:
            raise _ProtocolError(1003, "text messages are not part of this protocol")
        if opcode == 0x2:
            if self._parts:
                raise _ProtocolError(1002, "new message inside a fragmented one")
            self._parts = [payload]
        elif opcode == 0x0:
            if not self._parts:
                raise _ProtocolError(1002, "continuation without a message")
            self._parts.append(payload)
        else:
            raise _ProtocolError(1002, f"unknown opcode {opcode}")
        self._size += len(payload)
        if fin:
            message = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
            self._parts, self._size = [], 0
            if self.bare is not None and message[:8] != REQUEST_REF_BYTES:
                self.bare(message)
                return False
            if len(message) < REF.size:
                raise _ProtocolError(1002, "message shorter than its 8-byte reference")
            (ref,) = REF.unpack_from(message)
            self._on_data(ref, message[REF.size:])
        return False

    def send_data(self, ref: int, data: bytes | memoryview) -> bool:
        """One binary message: `ref` then `data`. False when the channel is not connected."""
        return self._send(0x2, [REF.pack(ref), data])

    def send_reply(self, text: bytes, data: bytes | memoryview = b"", lazy: int = 0) -> bool:
        """One reply record; the records of one loop iteration leave as one message (one browser event).
        A `lazy` one (the reply to a write of that many bytes the client already called back, docs/protocol.md
        "Write-behind") waits for the next message, at most LAZY_DELAY or a quarter of BEHIND_WINDOW."""
        if not self.connected:
            return False
        if not self._soon:
            loop = asyncio.get_running_loop()
            if lazy and not self._lazy_bytes:
                self._lazy_since = loop.time()
            self._lazy_bytes += lazy
            if not lazy or self._lazy_bytes >= BEHIND_WINDOW // 4:
                self._soon = True
                loop.call_soon(self._flush)
            elif self._lazy_timer is None:
                self._lazy_timer = loop.call_at(self._lazy_since + LAZY_DELAY, self._lazy_due)
        else:
            self._lazy_bytes += lazy
        self._out += [RECORD_HEAD.pack(REQUEST_REF, len(text), len(data)), text, data]
        return True

    def _lazy_due(self) -> None:
        """The timer of the oldest lazy reply waiting: the replies it was set for may have left with a message
        since, and those waiting now get their own LAZY_DELAY (as `Client._lazy_due`)."""
        self._lazy_timer = None
        if self._soon or not self._lazy_bytes:
            return  # nothing waits, or it leaves this loop turn anyway
        loop = asyncio.get_running_loop()
        due = self._lazy_since + LAZY_DELAY
        if loop.time() < due:
            self._lazy_timer = loop.call_at(due, self._lazy_due)
            return
        self._flush()

    def send_raw(self, text: bytes, data: bytes | memoryview, stream: Any = None) -> bool:
        """A record announcing `data`, which follows as a message of its own holding nothing else (docs/
        protocol.md, "Read-ahead"): the browser hands that message's buffer to the page as it is, so the
        shim can give it to a read without copying it. The announcement ends its batch.

        With implicit data (docs/protocol.md, "Implicit data") the bytes of the stream announced last go
        without an announcement (one browser event fewer per push), unless they could be taken for records;
        lazy replies waiting in the batch then wait on (only a record that must go now is sent first)."""
        if not self.connected:
            return False
        if (self.implicit and stream is not None and stream == self._announced
                and bytes(data[:8]) != REQUEST_REF_BYTES):
            if self._soon:
                self._flush()
            return self._send(0x2, [data])
        self._announced = stream
        self._out += [RECORD_HEAD.pack(REQUEST_REF, len(text), 0), text]
        self._flush()
        return self._send(0x2, [data])

    def _flush(self) -> None:
        self._soon = False
        self._lazy_bytes = 0
        parts, self._out = self._out, []
        if parts:
            self._send(0x2, parts)

    def _send(self, opcode: int, parts: list[Any]) -> bool:
        writer = self._writer
        if writer is None or self.closed or writer.is_closing():
            return False
        writer.writelines([frame_header(opcode, sum(len(p) for p in parts)), *parts])
        return True

    def _send_close(self, code: int) -> None:
        self._send(0x8, [struct.pack("!H", code)])

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._writer is not None:
            try:
                self._writer.close()
            except OSError:
                pass
        self._on_close()


class _ProtocolError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
