"""Requests in, actions out: the operation table, request validation, chunk assembly, reply shapes.

Design rules (models: h11's state as data, webextension-polyfill's method metadata table):
- No I/O, no sockets, no threads of its own. `Session.receive(event)` takes what the frame decoder
  produced and returns a list of actions for the host to carry out: `Send` a reply now, answer a
  `Hello` (the host looks the grants up), or run a `Call` on the engine.
- Everything about an operation's arguments lives in `OPERATIONS`, exactly as docs/protocol.md lists
  them. Validation is generic over that table: no per-operation code here.
- The client is untrusted: every malformed request becomes an error reply (docs/protocol.md, "Protocol
  errors") carrying its id when one could be read. Nothing a client sends raises.
- Ungranted means refused: a session whose origin holds no grant (docs/grants.md) answers every chrome.socket,
  chrome.sockets and data-channel request `not_granted`, with a message naming the command that grants it; no
  Call is handed out, so the host never makes a socket for it.
- Session state: AWAITING_HELLO -> READY after a successful hello. Ids are "in flight" from the moment
  a Call is handed out until the host calls `retire(id)` as the final reply goes out; `retire` may run
  on any thread: every use of the in-flight set is one set operation (membership, add, discard, copy),
  each atomic on its own, so the session needs no lock (and imports no threads).

What the engine receives from a Call: only the operation's own arguments; optional ones that were
absent or null are left out; integers are `int`; `data` is `bytes` (chunks already joined).
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from resocket import EXTENSION_ORIGIN, PROTOCOL_VERSION, __version__
from resocket.chrome.permissions import suggest_rule
from resocket.wire.framing import FrameError, RawJSON, RawJSONParts

# -- error codes (docs/protocol.md: stable, only ever appended) -----------------------------------------
BAD_FRAME = "bad_frame"
FRAME_TOO_LARGE = "frame_too_large"
BAD_REQUEST = "bad_request"
UNKNOWN_OP = "unknown_op"
BAD_ARGS = "bad_args"
HELLO_REQUIRED = "hello_required"
PROTOCOL_MISMATCH = "protocol_mismatch"
ORIGIN_NOT_ALLOWED = "origin_not_allowed"
DUPLICATE_ID = "duplicate_id"
CHUNKS_TOO_LARGE = "chunks_too_large"
TOO_MANY_SOCKETS = "too_many_sockets"
INTERNAL = "internal"
CONFIG_ERROR = "config_error"
NOT_ALLOWED = "not_allowed"
NOT_GRANTED = "not_granted"

#: Request ids are JSON numbers the client can represent exactly: 1 .. Number.MAX_SAFE_INTEGER.
MAX_ID = 2**53 - 1

#: Bytes of base64 text held in unfinished chunk sequences per client (docs/protocol.md). Chrome's
#: write quota is 200 MiB; this leaves room for that much in flight plus base64 overhead on one piece.
CHUNK_LIMIT = 256 * 1024 * 1024

#: Raw bytes per `chunk` frame of a split read reply: 48 KiB -> 64 KiB of base64, so every frame stays
#: below 70 KB (64 KiB messages measured fastest on this channel; Chrome's cap is 1 MiB).
READ_PIECE = 48 * 1024

#: Read-ahead (docs/protocol.md, "Read-ahead"): bytes a client may hold unconsumed per socket before the host
#: stops reading the OS socket (then the kernel's buffers and TCP's window hold the rest, as Chrome's full
#: data pipe does). Chrome's pipe is smaller (mojo's default capacity) because its reader sits next to it;
#: ours must also cover the ack's trip through the browser and a busy renderer: measured (docs/performance.md)
#: 256 KiB capped the data channel echo at ~140 MB/s, 512 KiB and 1 MiB gave the same ~160-180 MB/s.
#: Announced in hello; the shim acknowledges every quarter of it.
AHEAD_WINDOW = 512 * 1024
#: The most one OS read of a read-ahead stream takes, i.e. one push: 64 KiB. On native messaging that is one
#: event frame of ~87 KB (messages of 64 KiB of data measured faster than 48 KiB ones, docs/performance.md);
#: on the data channel one message a read can take whole (as fast as 256 KiB, with smaller buffers).
AHEAD_STEP = 64 * 1024
#: Write-behind (docs/protocol.md, "Write-behind"): bytes of chrome.socket TCP writes a client may have called
#: back before the host answered them, per socket. Chrome calls a write back once its bytes are in the
#: socket's data pipe, before the network service hands them to the OS; the shim does the same with this much
#: room. Announced in hello to a client that asks for it; the host marks each write reply that allows it.
BEHIND_WINDOW = 512 * 1024
#: The reply to a write the client already called back waits for the next message to the client (a read-ahead
#: push, another reply) instead of costing a message of its own (~6% of a 64 KiB echo each on native
#: messaging, docs/performance.md): at most this long (seconds), and only while the bytes it answers with the
#: others waiting stay below a quarter of BEHIND_WINDOW, so the client's room for early callbacks never runs out.
LAZY_DELAY = 0.004
#: Wide windows (docs/protocol.md, "Wide windows"): a client that asks in hello may get this window instead of
#: AHEAD_WINDOW for a read-ahead stream, and instead of BEHIND_WINDOW for a socket's write-behind, while fewer
#: than WIDE_GRANTS of its streams (and, separately, of its sockets' write-behinds) hold one. Its acks and lazy
#: replies then come every quarter of 4 MiB instead of every 128 KiB: 2 small messages per MiB echoed instead
#: of 16, which cost every thread of a page's echo 12-15% of its CPU (docs/performance.md, rounds 6 and 7).
#: A budget per client rather than a bigger window for every socket: a page holds at most 512 KiB per socket
#: it does not read plus WIDE_GRANTS x 4 MiB, however many sockets it has.
WIDE_WINDOW = 4 * 1024 * 1024
WIDE_GRANTS = 2

#: What `hello` reports as the host's name.
HOST_PROGRAM = "resocket-host"

# Argument kinds, as Chrome's renderer checks them (docs/chrome-behaviour.md 1.2).
INT = "integer"
#: Failed chunk sequences remembered until their final request arrives (each holds one short message).
FAILED_SEQUENCES_LIMIT = 4096
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
STR = "string"
BOOL = "boolean"
OBJECT = "object"
DATA = "base64 string"
SOCKET_TYPE = '"tcp" or "udp"'
SOCKETS_API = '"tcp", "tcpServer" or "udp"'
#: A byte count that may pass 2^31 on a long connection: an integer 0 .. 2^53-1.
COUNT = "byte count"


@dataclass(frozen=True)
class Arg:
    name: str
    kind: str
    required: bool = True


@dataclass(frozen=True)
class Operation:
    name: str
    args: tuple[Arg, ...]

    @property
    def takes_data(self) -> bool:
        return any(arg.kind == DATA for arg in self.args)


def _req(name: str, kind: str) -> Arg:
    return Arg(name, kind, True)


def _opt(name: str, kind: str) -> Arg:
    return Arg(name, kind, False)


def _op(name: str, *args: Arg) -> Operation:
    return Operation(name, args)


_SID = _req("socketId", INT)

#: Every operation of docs/protocol.md, "Operations", with its arguments in Chrome's order.
OPERATIONS: dict[str, Operation] = {op.name: op for op in (
    _op("hello", _req("protocol", INT), _req("client", STR), _opt("origin", STR), _opt("batch", BOOL),
        _opt("writeBehind", BOOL), _opt("wideWindows", BOOL)),
    _op("ping"),
    _op("create", _req("type", SOCKET_TYPE), _opt("options", OBJECT)),
    _op("destroy", _SID),
    _op("connect", _SID, _req("hostname", STR), _req("port", INT)),
    _op("bind", _SID, _req("address", STR), _req("port", INT)),
    _op("disconnect", _SID),
    _op("read", _SID, _opt("bufferSize", INT), _opt("dataChannel", BOOL), _opt("stream", BOOL)),
    _op("write", _SID, _req("data", DATA), _opt("behind", BOOL)),
    _op("recvFrom", _SID, _opt("bufferSize", INT)),
    _op("sendTo", _SID, _req("data", DATA), _req("address", STR), _req("port", INT)),
    _op("listen", _SID, _req("address", STR), _req("port", INT), _opt("backlog", INT)),
    _op("accept", _SID),
    _op("setKeepAlive", _SID, _req("enable", BOOL), _opt("delay", INT)),
    _op("setNoDelay", _SID, _req("noDelay", BOOL)),
    _op("getInfo", _SID),
    _op("getNetworkList"),
    _op("joinGroup", _SID, _req("address", STR)),
    _op("leaveGroup", _SID, _req("address", STR)),
    _op("setMulticastTimeToLive", _SID, _req("ttl", INT)),
    _op("setMulticastLoopbackMode", _SID, _req("enabled", BOOL)),
    _op("getJoinedGroups", _SID),
    _op("secure", _SID, _opt("options", OBJECT), _opt("readPending", BOOL)),
)}

#: chrome.sockets.tcp / .tcpServer / .udp (docs/protocol.md, "chrome.sockets"): appended, never renamed.
#: A table of its own, so OPERATIONS stays exactly chrome.socket's; the engine routes "api.method" names.
SOCKETS_OPERATIONS: dict[str, Operation] = {op.name: op for op in (
    *(_op(f"{api}.{name}", *args) for api, name, args in (
        ("tcp", "create", (_opt("properties", OBJECT),)),
        ("tcp", "update", (_SID, _req("properties", OBJECT))),
        ("tcp", "setPaused", (_SID, _req("paused", BOOL))),
        ("tcp", "setKeepAlive", (_SID, _req("enable", BOOL), _opt("delay", INT))),
        ("tcp", "setNoDelay", (_SID, _req("noDelay", BOOL))),
        ("tcp", "connect", (_SID, _req("peerAddress", STR), _req("peerPort", INT), _opt("dnsQueryType", STR))),
        ("tcp", "disconnect", (_SID,)),
        ("tcp", "secure", (_SID, _opt("options", OBJECT))),
        ("tcp", "send", (_SID, _req("data", DATA))),
        ("tcp", "close", (_SID,)),
        ("tcp", "getInfo", (_SID,)),
        ("tcp", "getSockets", ()),
        ("tcpServer", "create", (_opt("properties", OBJECT),)),
        ("tcpServer", "update", (_SID, _req("properties", OBJECT))),
        ("tcpServer", "setPaused", (_SID, _req("paused", BOOL))),
        ("tcpServer", "listen", (_SID, _req("address", STR), _req("port", INT), _opt("backlog", INT))),
        ("tcpServer", "disconnect", (_SID,)),
        ("tcpServer", "close", (_SID,)),
        ("tcpServer", "getInfo", (_SID,)),
        ("tcpServer", "getSockets", ()),
        ("udp", "create", (_opt("properties", OBJECT),)),
        ("udp", "update", (_SID, _req("properties", OBJECT))),
        ("udp", "setPaused", (_SID, _req("paused", BOOL))),
        ("udp", "bind", (_SID, _req("address", STR), _req("port", INT))),
        ("udp", "send", (_SID, _req("data", DATA), _req("address", STR), _req("port", INT),
                         _opt("dnsQueryType", STR))),
        ("udp", "close", (_SID,)),
        ("udp", "getInfo", (_SID,)),
        ("udp", "getSockets", ()),
        ("udp", "joinGroup", (_SID, _req("address", STR))),
        ("udp", "leaveGroup", (_SID, _req("address", STR))),
        ("udp", "setMulticastTimeToLive", (_SID, _req("ttl", INT))),
        ("udp", "setMulticastLoopbackMode", (_SID, _req("enabled", BOOL))),
        ("udp", "getJoinedGroups", (_SID,)),
        ("udp", "setBroadcast", (_SID, _req("enabled", BOOL))),
        # Flow control: the client has dispatched `count` more events of this socket.
        ("sockets", "ack", (_req("api", SOCKETS_API), _SID, _req("count", INT))),
    )),
)}

#: The extension's own administration (docs/protocol.md, "Grants"): only for a session of a relay origin
#: that named no origin in hello (the extension's pages, not a page it relays for). Kept out of OPERATIONS:
#: they are not chrome.socket calls and never reach the engine.
ADMIN_OPERATIONS: dict[str, Operation] = {op.name: op for op in (
    _op("grants.list"),
    _op("grants.revoke", _req("origin", STR)),
)}

#: The data channel (docs/protocol.md, "Data channel"): a loopback WebSocket for bulk data, opened on demand.
DATACHANNEL_OPERATIONS: dict[str, Operation] = {op.name: op for op in (
    _op("datachannel.open", _opt("implicit", BOOL), _opt("implicitWrites", BOOL), _opt("origin", STR)),
)}

#: Notices (docs/protocol.md, "Read-ahead"): requests with no id that get no reply. A bad one is answered
#: with an error whose id is null, like a request whose id could not be read.
NOTICE_OPERATIONS: dict[str, Operation] = {op.name: op for op in (
    # Flow control of a read-ahead stream: the client has consumed `consumed` bytes of it in all.
    _op("socket.ack", _SID, _req("stream", COUNT), _req("consumed", COUNT)),
)}

#: The chrome.socket methods (everything but the session's own hello and ping).
SOCKET_OPERATIONS = tuple(name for name in OPERATIONS if name not in ("hello", "ping"))


# -- replies --------------------------------------------------------------------------------------------
def api_reply(req_id: int, args: list, last_error: str | None = None) -> dict:
    """What the Chrome callback receives: its argument list, and runtime.lastError while it runs."""
    reply: dict[str, Any] = {"id": req_id, "args": args}
    if last_error is not None:
        reply["lastError"] = last_error
    return reply


def error_reply(req_id: int | None, code: str, message: str) -> dict:
    """A protocol error: the request was not a valid API call (id None when none could be read)."""
    return {"id": req_id, "error": {"code": code, "message": message}}


def result_reply(req_id: int, result: dict) -> dict:
    """The reply to the session's own requests (hello, ping)."""
    return {"id": req_id, "result": result}


def chunk_reply(req_id: int, piece: bytes) -> RawJSON:
    return RawJSON(f'{{"id":{int(req_id)},"chunk":"{encode_base64(piece)}"}}', None)


def data_reply_frames(req_id: int, data: bytes, extra: Mapping[str, Any] | None = None,
                      piece: int = READ_PIECE) -> list[RawJSON]:
    """The frames answering a read / recvFrom that got `data`: `chunk` frames, then the final reply
    `{"id":N,"args":[{"resultCode":len(data),"data":<last piece>, **extra}]}` (docs/protocol.md,
    "Split reads"). Built by hand: json.dumps would scan every base64 character for escapes."""
    req_id = int(req_id)
    cut = max(0, (len(data) - 1) // piece * piece)  # the last piece is 1..piece bytes (or empty)
    view = memoryview(data)
    frames = [chunk_reply(req_id, view[i: i + piece]) for i in range(0, cut, piece)]
    tail = "".join(f",{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in (extra or {}).items())
    last = encode_base64(view[cut:])
    frames.append(RawJSON(
        f'{{"id":{req_id},"args":[{{"resultCode":{len(data)},"data":"{last}"{tail}}}]}}', req_id))
    return frames


def _ahead_head(event: str, sid: int, stream: int) -> str:
    return f'{{"event":"{event}","args":[{{"socketId":{int(sid)},"stream":{int(stream)}'


def ahead_event_json(sid: int, stream: int, code: int | None = None, size: int | None = None) -> str:
    """A read-ahead event (docs/protocol.md, "Read-ahead") without its bytes: `socket.data` with `size` (on the
    data channel: that many bytes follow as a message of their own), or `socket.end` with `code`. On native
    messaging the bytes travel inside the event: `ahead_data_frames`."""
    if code is not None:
        return _ahead_head("socket.end", sid, stream) + f',"resultCode":{int(code)}}}]}}'
    tail = f',"size":{int(size)}' if size is not None else ""
    return _ahead_head("socket.data", sid, stream) + tail + "}]}"


def ahead_data_frames(sid: int, stream: int, data: bytes, piece: int = AHEAD_STEP) -> list[RawJSONParts]:
    """Read-ahead bytes as native-messaging `socket.data` events of at most `piece` bytes each (< 90 KB of JSON),
    each in three pieces: the JSON before the base64, the base64 bytes as encoded, the JSON after it."""
    view = memoryview(data)
    head = (_ahead_head("socket.data", sid, stream) + ',"data":"').encode()
    return [RawJSONParts((head, encode_base64_bytes(view[i: i + piece]), b'"}]}'), None)
            for i in range(0, len(data), piece)]


def not_granted_message(origin: str, op: str, args: Mapping[str, Any], grantable: bool = True,
                        page: bool = False) -> str:
    """The lastError of every call of an origin that holds no grant: what is refused and the command that fixes
    it, with a rule for this very call where its arguments say one (permissions.suggest_rule)."""
    if not grantable:
        return (f"resocket: {_clip(origin)} cannot be granted socket access (only the resocket extension, the "
                "web pages it serves and Chrome extensions can be), so its socket calls are refused")
    # Chrome starts the host for an extension (a converted app) only once the host manifests list it, which
    # `resocket install` does for every granted extension.
    then = "then reload the page" if page else "then `resocket install` and reload the app"
    return (f"resocket: {origin} holds no grant, so its socket calls are refused: run `resocket grant {origin} "
            f"{suggest_rule(op, dict(args))}` (the rules it needs), {then}")


# -- actions --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Send:
    """Write this reply now."""

    message: dict


@dataclass(frozen=True)
class Hello:
    """A valid hello: look up the rules for `origin` (the effective origin), then `Session.accept_hello`."""

    id: int
    client: str
    origin: str
    relayed: bool = field(default=False, compare=False)  # hello named the origin: it relays for a web page
    batch: bool = field(default=False, compare=False)  # the client reads batch frames (docs/protocol.md)
    write_behind: bool = field(default=False, compare=False)  # the client calls TCP writes back early
    wide: bool = field(default=False, compare=False)  # the client takes wide windows (docs/protocol.md)


@dataclass(frozen=True)
class Admin:
    """Run one of ADMIN_OPERATIONS (the session already checked the client may); reply at once."""

    id: int
    op: str
    args: dict


@dataclass(frozen=True)
class Call:
    """Run a chrome.socket operation; its id is in flight until `Session.retire(id)`."""

    id: int
    op: str
    args: dict


@dataclass(frozen=True)
class Notice:
    """Apply one of NOTICE_OPERATIONS; nothing is answered."""

    op: str
    args: dict


Action = Union[Send, Hello, Admin, Call, Notice]


def _origin_key(origin: str) -> str:
    # Chrome passes "chrome-extension://<id>/"; people write it with or without the slash.
    return origin.strip().rstrip("/").lower()


def _as_int(value: Any) -> int | None:
    """A JSON number with no fractional part (JS has one number type: 5.0 is the integer 5)."""
    if isinstance(value, bool):  # bool is an int subclass in Python; in JSON it is not a number
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def _read_id(value: Any) -> int | None:
    req_id = _as_int(value)
    return req_id if req_id is not None and 1 <= req_id <= MAX_ID else None


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


class BadArgs(Exception):
    pass


def _check_args(op: Operation, raw: Any, chunks: list[str]) -> dict:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise BadArgs(f"{op.name}: args must be an object, not {_describe(raw)}")
    args: dict[str, Any] = {}
    for arg in op.args:
        value = raw.get(arg.name)
        if value is None and arg.kind == DATA and "dataRef" in raw:
            # The payload travels on the data channel; the host swaps it in before the engine runs.
            ref = _as_int(raw["dataRef"])
            if ref is None or not 0 <= ref <= MAX_ID or chunks:
                raise BadArgs(f"{op.name}: dataRef must be an integer 0..2^53-1 (and no chunk frames)")
            args["dataRef"] = ref
            continue
        if value is None:
            if arg.required:
                raise BadArgs(f"{op.name}: {arg.name} is required")
            continue
        args[arg.name] = _check_value(op.name, arg, value, chunks)
    if chunks and not op.takes_data:
        raise BadArgs(f"{op.name}: chunk frames were sent for an operation that takes no data")
    return args


def _clip(text: str, limit: int = 80) -> str:
    """Client text quoted in an error message, kept short: every reply must stay far below Chrome's 1 MiB."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _check_value(op_name: str, arg: Arg, value: Any, chunks: list[str]) -> Any:
    try:
        return _checked(arg, value, chunks)
    except _Wrong:
        raise BadArgs(f"{op_name}: {arg.name} must be {_article(arg.kind)}, not {_describe(value)}") from None
    except BadArgs as exc:
        raise BadArgs(f"{op_name}: {exc}") from None


class _Wrong(Exception):
    """A value of the wrong type; the message is only built when this happens (not for every argument)."""


def _checked(arg: Arg, value: Any, chunks: list[str]) -> Any:
    kind = arg.kind
    if kind == INT:
        number = _as_int(value)
        if number is None:
            raise _Wrong
        if not INT32_MIN <= number <= INT32_MAX:
            # Chrome's bindings accept only int32 for IDL `integer` (argument_spec.cc, IsInt32): such a
            # call never reaches the browser process, and here never reaches the engine.
            raise BadArgs(f"{arg.name} must be a 32-bit integer, not {number}")
        return number
    if kind == COUNT:
        number = _as_int(value)
        if number is None:
            raise _Wrong
        if not 0 <= number <= MAX_ID:
            raise BadArgs(f"{arg.name} must be an integer 0..2^53-1, not {number}")
        return number
    if kind == STR:
        if not isinstance(value, str):
            raise _Wrong
        return value
    if kind == BOOL:
        if not isinstance(value, bool):
            raise _Wrong
        return value
    if kind == OBJECT:
        if not isinstance(value, dict):
            raise _Wrong
        return value
    if kind == SOCKET_TYPE:
        if value not in ("tcp", "udp"):
            raise BadArgs(f'{arg.name} must be "tcp" or "udp", not {json.dumps(value)[:40]}')
        return value
    if kind == SOCKETS_API:
        if value not in ("tcp", "tcpServer", "udp"):
            raise BadArgs(f'{arg.name} must be {SOCKETS_API}, not {json.dumps(value)[:40]}')
        return value
    if kind == DATA:
        if not isinstance(value, str):
            raise _Wrong
        try:
            return decode_base64("".join([*chunks, value]) if chunks else value)
        except (binascii.Error, ValueError):
            raise BadArgs(f"{arg.name} is not valid base64") from None
    raise AssertionError(f"unknown argument kind {kind}")


class _Fast:
    """pybase64 (the `fast` extra: SIMD base64, ~50x binascii's speed on 64 KiB, docs/performance.md), imported
    on first use (~2 ms); None when absent, broken or switched off (`use_fast_base64(False)`: the host's
    RESOCKET_PYBASE64=0)."""

    module: Any = None
    loaded = False
    allowed = True

    @classmethod
    def get(cls) -> Any:
        if not cls.loaded:
            cls.loaded = True
            if cls.allowed:
                try:
                    import pybase64
                except Exception:  # noqa: BLE001 - absent or broken: binascii stays
                    pybase64 = None
                cls.module = pybase64
        return cls.module


def use_fast_base64(allowed: bool) -> None:
    """Whether base64 may use pybase64 where it is installed (before the first use; the host reads
    RESOCKET_PYBASE64, this module reads no environment)."""
    _Fast.allowed = allowed


if sys.version_info >= (3, 11):
    def _decode_strict(text: str) -> bytes:
        # `a2b_base64(strict_mode=True)` checks and decodes in one pass over the text; `b64decode(validate=
        # True)` runs a regular expression over it first, then the same (non-strict) decoder.
        return binascii.a2b_base64(text, strict_mode=True)
else:  # pragma: no cover - Python 3.9 / 3.10: no strict_mode
    def _decode_strict(text: str) -> bytes:
        return base64.b64decode(text, validate=True)


def decode_base64(text: str) -> bytes:
    """Standard alphabet and padding only (RFC 4648), as the shim sends it; raises binascii.Error.

    pybase64's validating decoder, where installed, accepts a subset of what binascii's strict mode accepts
    and decodes it the same (tests/host/test_protocol.py compares them); whatever it refuses is judged by
    binascii, so the host accepts and refuses exactly the same texts with or without it."""
    fast = _Fast.get()
    if fast is not None:
        try:
            return fast.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            pass
    return _decode_strict(text)


def encode_base64_bytes(data: bytes | memoryview) -> bytes:
    """Standard base64 as ASCII bytes, no newline (pybase64 where installed; else one binascii call)."""
    fast = _Fast.get()
    if fast is not None:
        return fast.b64encode(data)
    return binascii.b2a_base64(data, newline=False)


def encode_base64(data: bytes | memoryview) -> str:
    """Standard base64 text, no newline."""
    return encode_base64_bytes(data).decode("ascii")


def _article(kind: str) -> str:
    return kind if kind.startswith('"') else ("an " if kind[0] in "aeiou" else "a ") + kind


class Session:
    """One client's protocol state: hello, ids in flight, unfinished chunk sequences."""

    def __init__(self, caller_origin: str, relay_origins: Iterable[str] = (EXTENSION_ORIGIN,)) -> None:
        self.caller_origin = caller_origin
        self.may_relay = _origin_key(caller_origin) in {_origin_key(o) for o in relay_origins}
        self.ready = False
        self.origin: str | None = None  # the effective origin, once hello succeeded
        self.relayed = False  # hello named an origin (a page relayed by the extension)
        self.batch = False  # hello said the client reads batch frames
        self.write_behind = False  # hello said the client calls TCP writes back early (docs/protocol.md)
        self.wide = False  # hello said the client takes wide windows (docs/protocol.md)
        self.granted = False  # the origin holds a grant: its calls reach the engine
        self.grantable = True  # an origin `resocket grant` accepts (the refusal names that command then)
        self._in_flight: set[int] = set()
        self._chunks: dict[int, list[str]] = {}
        self._chunk_bytes = 0
        # Ids whose chunk sequence already got its one (error) reply: the rest of the sequence,
        # final request included, is dropped so it cannot run with half its data. The error is kept until
        # that final request (the next non-chunk frame with the id) arrives and is its one reply, so every
        # request is answered exactly once and an id is never left swallowing a later request.
        self._failed: dict[int, tuple[str, str]] = {}

    # -- called by the host --------------------------------------------------------------------------
    def receive(self, event: Any) -> list[Action]:
        """One event from the frame decoder (a message or a FrameError) -> what to do about it."""
        if isinstance(event, FrameError):
            return [Send(error_reply(None, event.code, event.message))]
        if not isinstance(event, dict):
            return self._error(None, BAD_REQUEST, f"a request must be a JSON object, not {_describe(event)}")
        op_name = event.get("op")
        if "id" not in event and isinstance(op_name, str) and op_name in NOTICE_OPERATIONS:
            return self._notice(event)
        req_id = _read_id(event.get("id"))
        if req_id is None:
            where = f"{_clip(op_name)}: " if isinstance(op_name, str) else ""
            what = "missing" if event.get("id") is None else f"{json.dumps(event.get('id'))[:40]} is not valid"
            return self._error(None, BAD_REQUEST, f"{where}request id {what}: it must be an integer 1..2^53-1")
        if "chunk" in event:
            return self._receive_chunk(req_id, event)
        if req_id in self._failed:
            code, message = self._failed.pop(req_id)
            return self._error(req_id, code, message)
        chunks = self._take_chunks(req_id)
        name = event.get("op")
        if not isinstance(name, str):
            return self._error(req_id, BAD_REQUEST, f"op must be a string, not {_describe(name)}")
        op = (OPERATIONS.get(name) or ADMIN_OPERATIONS.get(name) or SOCKETS_OPERATIONS.get(name)
              or DATACHANNEL_OPERATIONS.get(name))
        if op is None and name in NOTICE_OPERATIONS:
            return self._error(req_id, BAD_REQUEST, f"{name} is a notice: it is sent without an id and never "
                                                    "answered")
        if op is None:
            return self._error(req_id, UNKNOWN_OP, f"unknown operation {json.dumps(name)[:60]}")
        if not self.ready and name != "hello":
            return self._error(req_id, HELLO_REQUIRED, f"{name}: the first request must be hello")
        if self.ready and name == "hello":
            return self._error(req_id, BAD_REQUEST,
                               f"hello: this port already said hello for {self.origin}; open a new port")
        if name in ADMIN_OPERATIONS and (not self.may_relay or self.relayed):
            return self._error(req_id, NOT_ALLOWED, f"{name}: only the resocket extension's own pages may "
                               f"manage grants; this client is {self.origin}")
        if req_id in self._in_flight:
            return self._error(req_id, DUPLICATE_ID, f"{name}: request id {req_id} is still in flight")
        try:
            args = _check_args(op, event.get("args"), chunks)
        except BadArgs as exc:
            return self._error(req_id, BAD_ARGS, str(exc))
        if name == "hello":
            return self._hello(req_id, args)
        if name == "ping":
            return [Send(result_reply(req_id, {}))]
        if name in ADMIN_OPERATIONS:
            return [Admin(req_id, name, args)]
        if not self.granted:
            return self._error(req_id, NOT_GRANTED, not_granted_message(self.origin or "", name, args,
                                                                       self.grantable, self.relayed))
        self._in_flight.add(req_id)
        return [Call(req_id, name, args)]

    def _notice(self, event: dict) -> list[Action]:
        name = event["op"]
        if not self.ready:
            return self._error(None, HELLO_REQUIRED, f"{name}: the first request must be hello")
        try:
            args = _check_args(NOTICE_OPERATIONS[name], event.get("args"), [])
        except BadArgs as exc:
            return self._error(None, BAD_ARGS, str(exc))
        return [Notice(name, args)]

    def accept_hello(self, hello: Hello, rules: list[str], *, granted: bool = True, grantable: bool = True) -> dict:
        """The host found the rules for `hello.origin`: the session is ready; returns the reply. `granted` False:
        the origin holds no grant, and every call is refused (`grantable`: `resocket grant` could grant it)."""
        self.ready = True
        self.granted = granted
        self.grantable = grantable
        self.origin = hello.origin
        self.relayed = hello.relayed
        self.batch = hello.batch
        self.write_behind = hello.write_behind
        self.wide = hello.wide
        wide = {"wide": WIDE_WINDOW, "wideGrants": WIDE_GRANTS} if hello.wide else {}
        result = {
            "protocol": PROTOCOL_VERSION, "host": HOST_PROGRAM, "version": __version__,
            "origin": hello.origin, "rules": list(rules), "granted": granted, "readAhead": {"window": AHEAD_WINDOW, **wide},
        }
        if hello.write_behind:
            result["writeBehind"] = {"window": BEHIND_WINDOW, **wide}
        return result_reply(hello.id, result)

    def retire(self, req_id: Any) -> None:
        """The final reply to `req_id` is going out: the id may be used again. Thread-safe."""
        self._in_flight.discard(req_id)

    def in_flight(self) -> frozenset[int]:
        return frozenset(self._in_flight)

    # -- internals -----------------------------------------------------------------------------------
    def _error(self, req_id: int | None, code: str, message: str) -> list[Action]:
        return [Send(error_reply(req_id, code, message))]

    def _hello(self, req_id: int, args: dict) -> list[Action]:
        theirs = args["protocol"]
        if theirs != PROTOCOL_VERSION:
            fix = ("update the resocket host: pip install -U resocket && resocket install"
                   if theirs > PROTOCOL_VERSION else
                   "update the resocket extension (or the app's copy of chrome-socket.js)")
            return self._error(req_id, PROTOCOL_MISMATCH,
                               f"{_clip(args['client'])} speaks resocket protocol {theirs} but {HOST_PROGRAM} "
                               f"{__version__} speaks protocol {PROTOCOL_VERSION}: {fix}")
        origin = self.caller_origin
        if "origin" in args:
            if not self.may_relay:
                return self._error(req_id, ORIGIN_NOT_ALLOWED,
                                   f"hello: only the resocket extension may name an origin; this client "
                                   f"is {self.caller_origin} (an administrator trusts a fleet's own build with "
                                   f"`resocket install --scope system --relay-id ID`)")
            origin = args["origin"]
        return [Hello(req_id, args["client"], origin, "origin" in args, bool(args.get("batch")),
                      bool(args.get("writeBehind")), bool(args.get("wideWindows")))]

    def _receive_chunk(self, req_id: int, event: dict) -> list[Action]:
        if req_id in self._failed:
            return []
        piece = event["chunk"]
        if "op" in event:
            return self._fail_chunks(req_id, BAD_REQUEST, "a chunk frame carries no op")
        if not self.ready:
            return self._fail_chunks(req_id, HELLO_REQUIRED, "chunk: the first request must be hello")
        if req_id in self._in_flight:
            return self._fail_chunks(req_id, DUPLICATE_ID, f"chunk: request id {req_id} is still in flight")
        if not isinstance(piece, str):
            return self._fail_chunks(req_id, BAD_ARGS, f"chunk must be a base64 string, not {_describe(piece)}")
        if self._chunk_bytes + len(piece) > CHUNK_LIMIT:
            return self._fail_chunks(req_id, CHUNKS_TOO_LARGE,
                                     f"unfinished chunk sequences would hold more than {CHUNK_LIMIT} bytes")
        self._chunks.setdefault(req_id, []).append(piece)
        self._chunk_bytes += len(piece)
        return []

    def _take_chunks(self, req_id: int) -> list[str]:
        pieces = self._chunks.pop(req_id, [])
        self._chunk_bytes -= sum(len(p) for p in pieces)
        return pieces

    def _fail_chunks(self, req_id: int, code: str, message: str) -> list[Action]:
        """The sequence failed: free its pieces; the error answers its final request when that arrives."""
        self._take_chunks(req_id)
        if len(self._failed) >= FAILED_SEQUENCES_LIMIT:  # a client failing sequences it never finishes
            self._failed.pop(next(iter(self._failed)))
        self._failed[req_id] = (code, message)
        return []
