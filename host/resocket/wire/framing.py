"""Native-messaging frames: a 4-byte native-endian length, then that many bytes of UTF-8 JSON.

Design rules (model: websockets' `streams.py`, h11's `receive_data` / `next_event`):
- No I/O. `FrameDecoder.receive_data(bytes)` stores, `next_event()` hands back one decoded message, a
  `FrameError`, `NEED_DATA` or, after `receive_eof()` and once everything is drained, `END_OF_INPUT`.
- A peer error is a value (`FrameError`), never an exception: the caller answers it and keeps decoding.
- A frame that claims more than the inbound cap is reported once, then its bytes are dropped as they
  arrive. The claimed size is never allocated, so a lying length prefix costs nothing.
- Encoding is a plain function. Frames over Chrome's outbound cap raise: that is our bug, not the peer's.

Limits (docs/protocol.md, Chrome's native messaging documentation):
- browser -> host: 64 MiB per message (`INBOUND_LIMIT`);
- host -> browser: 1 MiB per message (`OUTBOUND_LIMIT`); Chrome closes the port on a bigger one.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any, Union

#: "=I": native byte order, standard 4-byte size, no alignment, as Chrome writes it.
HEADER = struct.Struct("=I")

#: Chrome refuses to send a browser->host message above 64 MiB, so a bigger claim is garbage or hostile.
INBOUND_LIMIT = 64 * 1024 * 1024

#: Chrome's cap on one host->browser message (kMaximumNativeMessageSize, 1 MiB of JSON).
OUTBOUND_LIMIT = 1024 * 1024


class _Sentinel:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


#: `next_event()`: no complete frame is buffered; feed more bytes.
NEED_DATA = _Sentinel("NEED_DATA")
#: `next_event()` after `receive_eof()`: every buffered frame was handed out; nothing more will come.
END_OF_INPUT = _Sentinel("END_OF_INPUT")

# Protocol error codes raised at this layer (docs/protocol.md, "Protocol errors").
BAD_FRAME = "bad_frame"
FRAME_TOO_LARGE = "frame_too_large"


@dataclass(frozen=True)
class FrameError:
    """The peer sent something that is not a frame we can use. Decoding goes on with the next frame."""

    code: str
    message: str


class OutboundFrameTooLarge(ValueError):
    """We tried to send a frame Chrome would refuse (and close the port for)."""


@dataclass(frozen=True)
class RawJSON:
    """An already serialized JSON message, written as is (see `encode_raw_json`).

    `reply_to` is the request id this frame finally answers, or None for a frame that answers nothing
    by itself (a `chunk` frame); the host uses it to retire request ids without parsing `text`.
    """

    text: str
    reply_to: int | None = None


@dataclass(frozen=True)
class RawJSONParts:
    """An already serialized JSON message as UTF-8 pieces, written as is: the frame's header and the pieces
    leave with one `writev` (`FrameWriter`), never joined. For read-ahead pushes: `'{"event":...,"data":"'`,
    the base64 bytes as the encoder returned them, `'"}]}'`. Building that frame as text copied its ~87 KB
    five times per 64 KiB pushed (docs/performance.md, round 9).

    `reply_to` as in `RawJSON`.
    """

    parts: tuple[bytes, ...]
    reply_to: int | None = None

    @property
    def size(self) -> int:
        return sum(len(part) for part in self.parts)

    @property
    def text(self) -> str:
        """The JSON as one string (a copy: for logs and the rare paths that need it whole)."""
        return b"".join(self.parts).decode("utf-8")


Event = Union[Any, FrameError, _Sentinel]


def _no_constants(name: str) -> Any:
    # NaN / Infinity are not JSON; Chrome never sends them, so they mark a corrupt frame.
    raise ValueError(f"{name} is not valid JSON")


class FrameDecoder:
    """Bytes in, messages out. Feed it with `receive_data`, drain it with `next_event` until NEED_DATA."""

    def __init__(self, max_frame: int = INBOUND_LIMIT) -> None:
        self._max_frame = max_frame
        self._buffer = bytearray()
        self._skip = 0  # bytes of an oversized frame still to drop
        self._eof = False

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Store `data` (copied: the caller may reuse its buffer, e.g. a memoryview of a read buffer)."""
        if self._eof:
            raise RuntimeError("receive_data() after receive_eof()")
        if self._skip:
            dropped = min(self._skip, len(data))
            self._skip -= dropped
            data = data[dropped:]
        self._buffer += data

    def receive_eof(self) -> None:
        self._eof = True

    def next_event(self) -> Event:
        buf = self._buffer
        if self._skip:
            # Only reachable when receive_data() stored bytes before the oversized header was parsed.
            dropped = min(self._skip, len(buf))
            del buf[:dropped]
            self._skip -= dropped
            if self._skip:
                return self._starved()
        if len(buf) < HEADER.size:
            return self._starved()
        (length,) = HEADER.unpack_from(buf)
        if length > self._max_frame:
            del buf[: HEADER.size]
            dropped = min(length, len(buf))
            del buf[:dropped]
            self._skip = length - dropped
            return FrameError(
                FRAME_TOO_LARGE,
                f"frame of {length} bytes is over the {self._max_frame}-byte limit; skipped",
            )
        if len(buf) < HEADER.size + length:
            return self._starved()
        if length >= DATA_SPLIT_MIN:
            event = _decode_with_data(buf, HEADER.size, HEADER.size + length)
            if event is not None:
                del buf[: HEADER.size + length]
                return event
        # Decode straight out of the buffer: a 64 MiB frame is not copied before it becomes text.
        with memoryview(buf) as view, view[HEADER.size: HEADER.size + length] as body:
            event = _decode_body(body)
        del buf[: HEADER.size + length]
        return event

    def _starved(self) -> _Sentinel | FrameError:
        if not self._eof:
            return NEED_DATA
        if self._buffer or self._skip:
            left = len(self._buffer)
            self._buffer.clear()
            missing = self._skip
            self._skip = 0
            if missing:
                return FrameError(BAD_FRAME, f"input ended {missing} bytes before the end of a skipped frame")
            return FrameError(BAD_FRAME, f"input ended inside a frame ({left} bytes of it received)")
        return END_OF_INPUT


def _no_constants_hook(name: str) -> Any:
    return _no_constants(name)


# One decoder for every frame: json.loads(text, parse_constant=...) builds a new JSONDecoder (and its C
# scanner) on each call, ~1.5 us of a 3 us small-frame decode.
_DECODER = json.JSONDecoder(parse_constant=_no_constants_hook)


def _decode_body(body: memoryview) -> Any:
    try:
        text = str(body, "utf-8")  # strict: json.loads(bytes) would also accept UTF-16/32
    except UnicodeDecodeError as exc:
        return FrameError(BAD_FRAME, f"frame is not valid UTF-8 ({exc.reason} at byte {exc.start})")
    try:
        return _DECODER.decode(text)
    except RecursionError:
        return FrameError(BAD_FRAME, "frame is not valid JSON (nested too deeply)")
    except ValueError as exc:  # JSONDecodeError, NaN, over-long integer literals
        return FrameError(BAD_FRAME, f"frame is not valid JSON ({exc})")


#: One frame body -> its JSON value, or a FrameError (for request messages on the data channel).
decode_body = _decode_body

#: Frames this big try `_decode_with_data` first (a 64 KiB write is ~87 KB of JSON).
DATA_SPLIT_MIN = 4096
_DATA_AT = b',"data":"'
_DATA_KEY = b'"data"'


def _decode_with_data(buf: bytearray, start: int, end: int) -> Any | None:
    """The frame in buf[start:end] when it is a request whose `args.data` string holds nearly all of it (a
    write: ~87 KB of base64); None to have `_decode_body` do it.

    json's scanner walks such a string byte by byte (~70 us for a 64 KiB write, the host's biggest single
    cost per write on native messaging); here the string is found with memchr-speed searches and only the
    JSON around it is parsed. The value is the one json.loads gives whenever this returns one:
    - no backslash anywhere, so no string in the frame has an escape, and every key is spelled as is;
    - `"data"` occurs once, right after a comma, followed by `:"`: so if that quote opens a token, it is
      the key "data" and its string runs to the next quote; if it were inside a string, that string
      would end at it and `data` would follow a string, which is not JSON: the rest fails to parse too;
    - the rest, with that string emptied, parses and has `args.data == ""`: the key was args' own.
    Chrome escapes control characters in strings; a non-Chrome peer's raw control character inside the
    data string is left to the base64 check (a request error) instead of failing the frame.
    """
    k = buf.find(_DATA_AT, start, end)
    if k < 0:
        return None
    s = k + len(_DATA_AT)
    e = buf.find(b'"', s, end)
    if (e < 0 or buf.find(b"\\", start, end) >= 0 or buf.find(_DATA_KEY, start, k) >= 0
            or buf.find(_DATA_KEY, e, end) >= 0):
        return None
    try:
        head = _DECODER.decode(str(buf[start:s], "utf-8") + str(buf[e:end], "utf-8"))
        with memoryview(buf) as view, view[s:e] as span:
            data = str(span, "utf-8")
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None  # _decode_body says what is wrong with it
    args = head.get("args") if isinstance(head, dict) else None
    if not isinstance(args, dict) or args.get("data") != "":
        return None
    args["data"] = data
    return head


def _frame(body: bytes) -> bytes:
    if len(body) > OUTBOUND_LIMIT:
        raise OutboundFrameTooLarge(
            f"outbound frame of {len(body)} bytes is over Chrome's {OUTBOUND_LIMIT}-byte limit"
        )
    return HEADER.pack(len(body)) + body


def encode_frame(obj: Any) -> bytes:
    """One frame for a JSON-serializable value (or a `RawJSON`). The length counts UTF-8 bytes."""
    if isinstance(obj, RawJSON):
        return encode_raw_json(obj.text)
    if isinstance(obj, RawJSONParts):
        return b"".join(frame_buffers(obj))
    # ensure_ascii: any string (even one with a lone surrogate taken from a request) stays encodable.
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    return _frame(text.encode("utf-8"))


def frame_buffers(obj: Any) -> list[bytes]:
    """One frame as buffers to write in order: [header, *parts] for a `RawJSONParts`, else [the frame]."""
    if isinstance(obj, RawJSONParts):
        size = obj.size
        if size > OUTBOUND_LIMIT:
            raise OutboundFrameTooLarge(f"outbound frame of {size} bytes is over Chrome's {OUTBOUND_LIMIT}-byte limit")
        return [HEADER.pack(size), *obj.parts]
    return [encode_frame(obj)]


def encode_raw_json(text: str) -> bytes:
    """One frame for text that already is JSON (the caller vouches for it).

    For read replies: building `'{"id":%d,"chunk":"' + b64 + '"}'` by hand is ~3x faster than
    json.dumps, which scans every character of a large base64 string for escapes.
    """
    return _frame(text.encode("utf-8"))
