"""The engine's two written interfaces, and the one object that answers a request.

Design rules:
- `ClientOutput` is everything the engine sends to its client: given to the engine when it is built
  (client/serve.py's Client is one, with its batches, lazy replies and data channel; `NativeOutput` is
  the plain one: every frame to one function). The engine never learns how a frame travels.
- `SocketServices` is everything a socket object (engine/tcp.py, engine/udp.py, engine/sockets_api.py) may
  use of the engine: its loop, tasks, lookups, permission rules, write quota, socket table, TLS contexts,
  read-ahead and wide-window grants, and the client's output. Sockets import this module, never the loop
  (engine/loop.py imports them), so the import graph has no circle.
- `PendingCall` is one request in flight: it gets exactly one final reply, in one of Chrome's three
  error styles (value only, value + lastError, lastError only: `args: []`).
"""
from __future__ import annotations

import logging
from collections.abc import Coroutine
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Callable, Protocol

from resocket.wire.framing import RawJSON
from resocket.wire.protocol import (
    BEHIND_WINDOW,
    WIDE_WINDOW,
    ahead_data_frames,
    ahead_event_json,
    api_reply,
    data_reply_frames,
)

if TYPE_CHECKING:  # annotations only: the client imports this module before the engine, without asyncio
    import asyncio

log = logging.getLogger(__name__)

_WIDE_TAIL = f',"window":{WIDE_WINDOW}'


class ClientOutput(Protocol):
    """Where the engine's replies and events go (any thread may call `emit`)."""

    def emit(self, message: Any) -> None:
        """One frame: a reply (dict or RawJSON) or an event."""

    def emit_many(self, frames: list) -> None:
        """Several frames at once (a split read reply), in order."""

    def emit_lazy(self, reply: RawJSON, n: int) -> None:
        """The success reply to a write of `n` bytes the client already called back (write-behind): it may
        wait for the next message to the client, below the window's share, for a short while."""

    def data_reply(self, req_id: int, data: bytes, extra: dict) -> bool:
        """Send a read's data on the data channel and answer the request; False: send it as base64 frames."""

    def ahead_path(self, read_id: int) -> str:
        """Where the read-ahead stream started by read `read_id` travels: "native" or "channel"."""

    def push_ahead(self, path: str, sid: int, stream: int, data: bytes | None, code: int | None) -> None:
        """A read-ahead stream's bytes (`data`) or its end (`code`), on its path."""


def push_native(output: ClientOutput, sid: int, stream: int, data: bytes | None, code: int | None) -> None:
    """`push_ahead` on native messaging: event frames of at most AHEAD_STEP bytes each."""
    if data is not None:
        output.emit_many(ahead_data_frames(sid, stream, data))  # type: ignore[arg-type]
    else:
        output.emit(RawJSON(ahead_event_json(sid, stream, code=code), None))


class NativeOutput:
    """A `ClientOutput` over native messaging alone: every frame to `emit`, no data channel."""

    def __init__(self, emit: Callable[[Any], None]) -> None:
        self.emit = emit

    def emit_many(self, frames: list) -> None:
        for frame in frames:
            self.emit(frame)

    def emit_lazy(self, reply: RawJSON, n: int) -> None:
        self.emit(reply)

    def data_reply(self, req_id: int, data: bytes, extra: dict) -> bool:
        return False

    def ahead_path(self, read_id: int) -> str:
        return "native"

    def push_ahead(self, path: str, sid: int, stream: int, data: bytes | None, code: int | None) -> None:
        push_native(self, sid, stream, data, code)


class SocketServices(Protocol):
    """What a socket may use of its engine (all on the loop thread)."""

    loop: asyncio.AbstractEventLoop
    output: ClientOutput
    #: The client asked for write-behind in hello: chrome.socket TCP write replies say `behind: true`.
    write_behind: bool
    max_sockets: int

    def spawn(self, coro: Coroutine, call: PendingCall | None = None) -> asyncio.Task:
        """Run a coroutine on the loop; should it fail before answering `call`, `call` gets `internal`."""

    async def resolve(self, host: str, port: int, socktype: int,
                      family: int | None = None) -> list[tuple[int, Any]]:
        """engine/resolver.py: (family, sockaddr) in Chrome's order, or DnsError."""

    def offline(self) -> bool:
        """No interface up, as Chrome tells "offline" apart."""

    def allows(self, op: str, host: str, port: int) -> bool:
        """The client's permission rules (chrome/permissions.py)."""

    def quota_allows(self, size: int) -> bool:
        """Whether a write of `size` bytes fits the write quota now (checked, not taken)."""

    def take_quota(self, size: int) -> bool:
        """Reserve `size` bytes of the write quota; False when they do not fit."""

    def return_quota(self, size: int) -> None:
        """Give back what `take_quota` reserved, once written or dropped."""

    def room_for_socket(self) -> bool:
        """Whether the client may have one more socket (chrome.socket and chrome.sockets count together)."""

    def add_socket(self, factory: Callable[[int], Any]) -> Any:
        """A new chrome.socket socket with the next id, from `factory(id)`; None at the socket cap."""

    def socket(self, sid: int) -> Any:
        """The chrome.socket socket with id `sid`, or None."""

    def forget(self, sid: int) -> None:
        """Drop chrome.socket socket `sid` from the table."""

    def tls_context(self, key: Any, factory: Callable[[], Any]) -> Any:
        """One shared TLS context per key (TLS version range), made by `factory` on first use."""

    def wide_ahead(self, sock: Any, ahead: Any) -> bool:
        """Grant `sock`'s new read-ahead stream a wide window (docs/protocol.md, "Wide windows")?"""

    def wide_behind(self, sock: Any, grant: bool) -> bool:
        """Whether `sock`'s write-behind has a wide window; with `grant`, give it one if one is free."""


class PendingCall:
    """One request in flight: it gets exactly one final reply."""

    __slots__ = ("done", "engine", "id", "lazy")
    #: chrome.socket writes wait for the OS (or the shim's write-behind); chrome.sockets' tcp.send is called
    #: back once it fits in the pipe (sockets_api._Shaped sets both, TcpSocket._answer_in_pipe `early`).
    pipe = False
    early = False

    def __init__(self, engine: SocketServices, req_id: int) -> None:
        self.engine, self.id, self.done = engine, req_id, False
        self.lazy = False  # a write the client already called back (`behind`): its success reply may wait

    def reply(self, *args: Any, last_error: str | None = None) -> None:
        """Value (or values) for the callback; `last_error` sets chrome.runtime.lastError too."""
        if self._finish():
            self.engine.output.emit(api_reply(self.id, [_plain(arg) for arg in args], last_error))

    def reply_written(self, n: int, sock: Any = None) -> None:
        """A successful chrome.socket TCP/TLS write of `n` bytes (to `sock`). For a write-behind client the
        reply says `behind` (docs/protocol.md, "Write-behind"), and `window` when the socket holds a wide one
        ("Wide windows"); for a write it already called back, the reply may wait to leave with the next
        message the client gets anyway."""
        engine = self.engine
        if not engine.write_behind:
            return self.reply({"bytesWritten": n})
        # A grant starts only on a reply that leaves at once, so the client knows the window before the host
        # holds replies for a quarter of it.
        wide = sock is not None and engine.wide_behind(sock, grant=not self.lazy)
        if not self.lazy:
            return self.reply({"bytesWritten": n, "behind": True, "window": WIDE_WINDOW} if wide else {
                "bytesWritten": n, "behind": True})
        if self._finish():
            # Built by hand (one per 64 KiB write of an echo: json.dumps was ~6% of the host's time there).
            # Weighed against the window's share: a wide socket's replies may wait for 8x the bytes.
            text = (f'{{"id":{int(self.id)},"args":[{{"bytesWritten":{int(n)},"behind":true'
                    f'{_WIDE_TAIL if wide else ""}}}]}}')
            engine.output.emit_lazy(RawJSON(text, self.id), n * BEHIND_WINDOW // WIDE_WINDOW if wide else n)

    def answer(self, value: Any, quiet: bool) -> None:
        """`reply(value)`, or, when `quiet` (the socket is going away with no one waiting), only retire it."""
        if quiet:
            self.done = True
        else:
            self.reply(value)

    def error_only(self, last_error: str) -> None:
        """Chrome's "Error()" style: the callback gets no argument, lastError is set."""
        if self._finish():
            self.engine.output.emit(api_reply(self.id, [], last_error))

    def reply_data(self, data: bytes, **extra: Any) -> None:
        """A successful read / recvFrom: split into chunk frames when large (docs/protocol.md)."""
        if self._finish():
            output = self.engine.output
            if output.data_reply(self.id, data, extra):
                return
            output.emit_many(data_reply_frames(self.id, data, extra or None))

    def _finish(self) -> bool:
        if self.done:
            log.error("second reply to request %s dropped", self.id)
            return False
        self.done = True
        return True


def _plain(value: Any) -> Any:
    """NetError members -> plain ints, so any JSON encoder writes numbers."""
    if isinstance(value, IntEnum) or type(value) is bool:
        return value if type(value) is bool else int(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value
