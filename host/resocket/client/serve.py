"""`resocket-host`: the program Chrome starts for each `connectNative` port.

    resocket-host chrome-extension://<id>/ [--parent-window=N] [--log-file PATH]

Wiring: stdin -> framing.FrameDecoder -> protocol.Session -> (hello: grants + permissions -> a new
engine.Engine) / (calls: Engine.handle) ; every reply -> transport.FrameWriter -> stdout.

Rules:
- stdout carries frames and nothing else. The real stdout fd is taken for the writer and fd 1 is
  pointed at stderr, so a stray print (ours, a library's, a child process's) lands in the log instead
  of corrupting the stream ("Error when communicating with the native messaging host").
- The host never dies of a request: protocol errors are replies; an exception in the engine becomes an
  `internal` error reply; a broken grants file answers hello with `config_error`.
- stdin EOF (the port closed) or SIGTERM: shut the engine down (it closes every socket) and exit 0.
  If the engine does not finish within SHUTDOWN_GRACE the process exits anyway.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import logging
import os
import re
import signal
import sys
import threading
import types
from collections.abc import Mapping
from typing import Any, BinaryIO

from resocket import EXTENSION_ORIGIN, FIREFOX_EXTENSION_ID, __version__
from resocket.client.transport import FrameWriter, StdinReader
from resocket.engine.services import push_native
from resocket.wire.framing import OutboundFrameTooLarge, RawJSON, RawJSONParts, decode_body
from resocket.wire.protocol import (
    BAD_ARGS,
    BAD_REQUEST,
    BEHIND_WINDOW,
    CONFIG_ERROR,
    DATACHANNEL_OPERATIONS,
    INTERNAL,
    LAZY_DELAY,
    MAX_ID,
    NOT_ALLOWED,
    Admin,
    Call,
    Hello,
    Notice,
    Send,
    Session,
    ahead_event_json,
    api_reply,
    error_reply,
    result_reply,
    use_fast_base64,
)

log = logging.getLogger("resocket.client.serve")
#: Every request and reply at DEBUG (RESOCKET_LOG=DEBUG), binary payloads shown as sizes: what crossed the wire.
wire = logging.getLogger("resocket.wire")
#: Longer than any scheme://host:port (a DNS name is at most 253 characters).
MAX_ORIGIN_LENGTH = 2048

#: Chrome's per-extension quota for chrome.socket writes in flight (200 MiB, socket_api.cc).
DEFAULT_WRITE_QUOTA = 200 * 1024 * 1024
#: Sockets per client; beyond this `create` answers too_many_sockets (docs/protocol.md).
DEFAULT_MAX_SOCKETS = 4096
#: docs/protocol.md promises exit within a second of stdin EOF; the engine gets most of it.
SHUTDOWN_GRACE = 0.8
#: Bytes of data-channel payloads held before their requests arrive (like the chunk cap, wire/protocol.py).
DATA_CHANNEL_LIMIT = 256 * 1024 * 1024
#: resocket.engine.datachannel.REQUEST_REF (not imported here: that module pulls asyncio in at start-up).
REQUEST_REF = 2 ** 64 - 1
#: Batch frames (docs/protocol.md, "Batch frames"): replies and events of one stdin read of up to this many
#: characters of JSON each are joined into one frame; every native-messaging message costs the browser ~6% of
#: a 64 KiB echo's time (docs/performance.md). A batch is closed at BATCH_LIMIT, far below Chrome's 1 MiB.
BATCH_ITEM_MAX = 4096
BATCH_LIMIT = 256 * 1024
#: Lazy write replies (protocol.LAZY_DELAY) waiting on native messaging leave at once past this much JSON.
LAZY_TEXT_MAX = 16 * 1024

#: Messages already serialized: written as they are, and they say the request they answer (`reply_to`).
_RAW = (RawJSON, RawJSONParts)


class Client:
    """One browser client of resocket-host: its session, and its engine once hello succeeded. It is the
    engine's output (engine/services.py ClientOutput): batch frames, lazy write replies, the data channel."""

    def __init__(self, caller_origin: str, writer: FrameWriter, environ: Mapping[str, str],
                 addon: str | None = None) -> None:
        from resocket.fleet import relay_origins  # the administrator's list (docs/deploy.md)

        self.session = Session(caller_origin, relay_origins())
        use_fast_base64(environ.get("RESOCKET_PYBASE64", "1") != "0")  # docs/protocol.md, environment
        #: Firefox: the caller's add-on ID (argv), which alone may name its pages' origin for the data channel
        self.addon = addon
        self.writer = writer
        self.write_quota = _env_int(environ, "RESOCKET_WRITE_QUOTA", DEFAULT_WRITE_QUOTA)
        self.max_sockets = _env_int(environ, "RESOCKET_MAX_SOCKETS", DEFAULT_MAX_SOCKETS)
        self.engine: Any = None
        self.engine_error = ""
        # The data channel (docs/protocol.md, "Data channel"); everything below lives on the engine's loop
        # thread once stdin is read there; `_order` guards it for the hosts that keep a reader thread.
        self.datachannel: Any = None
        self._order = threading.RLock()
        self._dc_data: dict[int, bytes] = {}  # write payloads that arrived before their request
        self._dc_bytes = 0
        self._dc_reads: set[int] = set()  # read requests whose data goes back on the data channel
        self._implicit_writes = False
        self._bare: dict[str, Any] | None = None
        self._dc_replies: set[int] = set()  # requests that came on the data channel: their replies go back there
        self._waiting: tuple[Call, int] | None = None  # a request whose payload has not arrived yet
        self._parked: collections.deque | None = None  # every event received after it, in order
        self._batch: list[str] | None = None  # small frames of this stdin read (loop thread), see begin_batch
        self._batch_size = 0
        self._lazy: list[str] = []  # lazy write replies for native messaging (loop thread), see emit_lazy
        self._lazy_bytes = self._lazy_text = 0
        self._lazy_timer: Any = None
        self._lazy_since = 0.0  # loop time the oldest waiting lazy reply was queued at

    def emit(self, message: dict | RawJSON | RawJSONParts) -> None:
        """Send one frame; thread-safe (the engine calls it from its workers). A final reply retires its id."""
        if isinstance(message, _RAW):
            final = message.reply_to
        else:
            final = None if "chunk" in message else message.get("id")
        if wire.isEnabledFor(logging.DEBUG):
            wire.debug("<- %s", _summarize(message))
        try:
            if final is not None:
                self.session.retire(final)
                self._dc_reads.discard(final)
                if final in self._dc_replies:
                    self._dc_replies.discard(final)
                    if self._on_loop() and self._dc_send_reply(message):
                        return
            self._write(message)
        except OutboundFrameTooLarge as exc:
            log.error("engine bug: %s", exc)
            if final is not None:
                self.writer.send(error_reply(final, INTERNAL, f"reply too large for Chrome: {exc}"))

    def emit_lazy(self, message: RawJSON, n: int) -> None:
        """ClientOutput: the success reply to a write of `n` bytes that the client already called back. It
        leaves with the next message to the client on its path, or after LAZY_DELAY (loop thread)."""
        if not self.session.batch or not self._on_loop():
            self.emit(message)
            return
        final = message.reply_to
        if wire.isEnabledFor(logging.DEBUG):
            wire.debug("<- (lazy) %s", _summarize(message))
        self.session.retire(final)
        text = message.text
        if final in self._dc_replies:
            self._dc_replies.discard(final)
            channel = self.datachannel
            if channel is not None and channel.send_reply(text.encode(), lazy=n):
                return
        loop = self.engine.loop
        if not self._lazy:
            self._lazy_since = loop.time()
        self._lazy.append(text)
        self._lazy_bytes += n
        self._lazy_text += len(text) + 1
        if self._lazy_bytes >= BEHIND_WINDOW // 4 or self._lazy_text >= LAZY_TEXT_MAX:
            self.flush_lazy()
        elif self._lazy_timer is None:
            self._lazy_timer = loop.call_at(self._lazy_since + LAZY_DELAY, self._lazy_due)

    def _lazy_due(self) -> None:
        """The timer of the oldest waiting lazy reply. The replies it was set for may have left with a message
        since; then those waiting now get their own LAZY_DELAY (flushing them at once made a third of an
        echo's write replies messages of their own)."""
        self._lazy_timer = None
        if not self._lazy:
            return
        due = self._lazy_since + LAZY_DELAY
        loop = self.engine.loop
        if loop.time() < due:
            self._lazy_timer = loop.call_at(due, self._lazy_due)
            return
        self.flush_lazy()

    def _take_lazy(self) -> list[str]:
        lazy, self._lazy = self._lazy, []
        self._lazy_bytes = self._lazy_text = 0
        return lazy

    def flush_lazy(self) -> None:
        """Send the waiting lazy replies now (loop thread)."""
        if self._lazy:
            lazy = self._take_lazy()
            self.writer.send(RawJSON(lazy[0] if len(lazy) == 1 else '{"batch":[' + ",".join(lazy) + "]}", None))

    def _with_lazy(self, messages: list) -> list:
        """`messages` about to be written on the loop thread: the waiting lazy replies ride in the first one
        (a batch frame), so they cost no message of their own."""
        if not self._lazy or not self._on_loop():
            return messages
        first = messages[0]
        if isinstance(first, RawJSONParts):  # a push: its pieces stay as they are
            head = ('{"batch":[' + ",".join(self._take_lazy()) + ",").encode()
            return [RawJSONParts((head, *first.parts, b"]}"), first.reply_to), *messages[1:]]
        text = first.text if isinstance(first, RawJSON) else json.dumps(first, separators=(",", ":"),
                                                                         allow_nan=False)
        merged = RawJSON('{"batch":[' + ",".join([*self._take_lazy(), text]) + "]}", None)
        return [merged, *messages[1:]]

    def _on_loop(self) -> bool:
        engine = self.engine
        return engine is not None and threading.get_ident() == engine._thread_id

    def emit_many(self, messages: list[dict | RawJSON | RawJSONParts]) -> None:
        """Send several frames with one write (thread-safe); the last one may retire its id."""
        if len(messages) == 1 or wire.isEnabledFor(logging.DEBUG):
            for message in messages:
                self.emit(message)
            return
        finals = [m.reply_to if isinstance(m, _RAW) else (None if "chunk" in m else m.get("id"))
                  for m in messages]
        try:
            for final in finals:
                if final is not None:
                    self.session.retire(final)
                    self._dc_replies.discard(final)
            self.flush_batch()
            self.writer.send_all(self._with_lazy(messages))
        except OutboundFrameTooLarge as exc:
            log.error("engine bug: %s", exc)
            for final in finals:
                if final is not None:
                    self.writer.send(error_reply(final, INTERNAL, f"reply too large for Chrome: {exc}"))

    def receive(self, event: Any) -> None:
        """One decoded frame (or frame error) from stdin."""
        with self._order:
            if self._parked is not None:  # requests keep their order behind one waiting for its data
                self._parked.append(event)
                return
            self._receive_now(event)

    # -- batch frames (docs/protocol.md, "Batch frames") ----------------------------------------------
    def begin_batch(self) -> None:
        """From now until `flush_batch`, small frames written on the loop thread join one batch frame (when
        the client's hello asked for them): the replies to one stdin read leave as one message."""
        if self.session.batch:
            self._batch = []

    def flush_batch(self) -> None:
        batch, self._batch = self._batch, ([] if self._batch is not None else None)
        self._batch_size = 0
        if not batch:
            return
        if self._lazy and self._on_loop():
            batch[:0] = self._take_lazy()
        self.writer.send(RawJSON(batch[0] if len(batch) == 1 else '{"batch":[' + ",".join(batch) + "]}", None))

    def end_batch(self) -> None:
        self.flush_batch()
        self._batch = None

    def _write(self, message: dict | RawJSON | RawJSONParts) -> None:
        """One frame now, or into the current batch when it is small (loop thread only)."""
        if self._batch is None or not self._on_loop():
            self.writer.send(self._with_lazy([message])[0])
            return
        if isinstance(message, RawJSONParts):  # pieces: a data frame, never small
            self.flush_batch()
            self.writer.send(self._with_lazy([message])[0])
            return
        text = message.text if isinstance(message, RawJSON) else json.dumps(
            message, separators=(",", ":"), allow_nan=False)
        if len(text) > BATCH_ITEM_MAX:
            self.flush_batch()
            self.writer.send(self._with_lazy([message])[0])
            return
        self._batch.append(text)
        self._batch_size += len(text) + 1
        if self._batch_size >= BATCH_LIMIT:
            self.flush_batch()

    def _send(self, message: dict) -> None:
        """A reply built from the session or the host itself. Whatever a client sent, it must not make a
        frame Chrome refuses (> 1 MiB) or end the host: such a reply becomes a short `internal` error."""
        try:
            self._write(message)
        except OutboundFrameTooLarge as exc:
            log.error("reply too large: %s", exc)
            self.writer.send(error_reply(message.get("id"), INTERNAL, f"reply too large for Chrome: {exc}"))

    def _receive_now(self, event: Any) -> None:
        for action in self.session.receive(event):
            if isinstance(action, Send):
                message = action.message
                if self._dc_replies and message.get("id") in self._dc_replies:
                    self._dc_replies.discard(message["id"])
                    if self._on_loop() and self._dc_send_reply(message):
                        continue
                self._send(message)
            elif isinstance(action, Hello):
                self._hello(action)
            elif isinstance(action, Call):
                self._call(action)
            elif isinstance(action, Admin):
                self._admin(action)
            elif isinstance(action, Notice) and self.engine is not None:
                self.engine.notice(action.op, action.args)

    def _call(self, call: Call) -> None:
        if "dataRef" in call.args or "dataChannel" in call.args or call.op in DATACHANNEL_OPERATIONS:
            call = self._data_channel_call(call)
            if call is None:
                return
        if wire.isEnabledFor(logging.DEBUG):
            wire.debug("-> #%s %s %s", call.id, call.op, _summarize(call.args))
        if self.engine is None:
            self.emit(error_reply(call.id, INTERNAL, f"{call.op}: {self.engine_error or 'no engine'}"))
            return
        try:
            self.engine.handle(call.id, call.op, call.args)
        except Exception as exc:  # a bug in the engine must not end every socket of this client
            log.exception("engine failed on %s (request %s)", call.op, call.id)
            self.emit(error_reply(call.id, INTERNAL, f"{call.op}: {type(exc).__name__}: {exc}"))

    # -- the data channel ------------------------------------------------------------------------------
    def _data_channel_call(self, call: Call) -> Call | None:
        """Resolve what a request says about the data channel; None when it is answered or must wait."""
        args = dict(call.args)
        if call.op == "datachannel.open":
            # A web page with no grant never gets here (the session answers it not_granted), so it can never
            # make the host listen on a port.
            if self.engine is None:
                self.emit(error_reply(call.id, INTERNAL, f"{call.op}: {self.engine_error or 'no engine'}"))
            elif "origin" in args and not self._may_name_origin(args["origin"]):
                self.emit(error_reply(call.id, NOT_ALLOWED, f"{call.op}: only an extension page of resocket's "
                                                            "Firefox add-on names its origin (moz-extension://"
                                                            f"<uuid>), not {json.dumps(args['origin'])[:80]}"))
            else:
                self.engine.loop.call_soon_threadsafe(self._open_data_channel, call.id, args.get("implicit") is True,
                                                      args.get("implicitWrites") is True, args.get("origin"))
            return None
        if args.pop("dataChannel", False) and self.datachannel is not None and self.datachannel.connected:
            self._dc_reads.add(call.id)
        if "dataRef" in args:
            ref = args.pop("dataRef")
            data = self._dc_data.pop(ref, None)
            if data is None:
                if self.datachannel is None or self.datachannel.closed:
                    self.emit(error_reply(call.id, BAD_ARGS, f"{call.op}: dataRef {ref} names no data and "
                                                             "the data channel is closed; send data instead"))
                    return None
                self._waiting, self._parked = (Call(call.id, call.op, args), ref), collections.deque()
                return None
            self._dc_bytes -= len(data)
            args["data"] = data
        return Call(call.id, call.op, args)

    def _may_name_origin(self, origin: str) -> bool:
        """Firefox gives an extension page a moz-extension://<uuid> origin of its own per profile, and tells the
        host only the add-on ID: that page names its origin in datachannel.open, which the host believes from
        the resocket add-on's own pages (not a relayed web page) and in that form only. The token still guards
        the channel; a web page cannot send such an Origin header."""
        return (self.addon == FIREFOX_EXTENSION_ID and not self.session.relayed
                and _MOZ_EXTENSION_ORIGIN.fullmatch(origin) is not None)

    def _open_data_channel(self, req_id: int, implicit: bool = False, implicit_writes: bool = False,
                           page_origin: str | None = None) -> None:
        from resocket.engine.datachannel import DataChannel

        if self.datachannel is not None and not self.datachannel.closed:
            self.emit(error_reply(req_id, BAD_REQUEST, "datachannel.open: this client's data channel is "
                                                       "already open"))
            return
        # The one Origin the channel accepts: the extension's (or app's) own, or, for a web page the
        # extension relays for, that page's origin (Chrome's sender info, checked by the service worker).
        origin = self.session.origin if self.session.relayed else page_origin or self.session.caller_origin
        channel = DataChannel(origin, self._dc_data_arrived, self._dc_closed, implicit=implicit)
        self.datachannel = channel
        self._implicit_writes = implicit_writes
        self._bare = None

        async def start() -> None:
            try:
                await channel.start()
            except OSError as exc:
                log.warning("data channel not available: %s", exc)
                self.emit(error_reply(req_id, INTERNAL, f"datachannel.open: {exc}"))
                return
            log.info("data channel listening on %s", channel.url)
            result = {"url": channel.url, "token": channel.token, "requests": True}
            if implicit:
                result["implicit"] = True
            if implicit_writes:
                result["implicitWrites"] = True
            self.emit(result_reply(req_id, result))

        self.engine.spawn(start())

    def _dc_data_arrived(self, ref: int, data: bytes) -> None:
        """A write payload from the data channel (loop thread): run its request now if it waits for it."""
        if ref == REQUEST_REF:
            self._dc_request(data)
            return
        with self._order:
            waiting = self._waiting
            if waiting is None or waiting[1] != ref:
                if self._dc_bytes + len(data) > DATA_CHANNEL_LIMIT:
                    log.warning("data channel: more than %d bytes sent ahead of their requests; closing it",
                                DATA_CHANNEL_LIMIT)
                    self.datachannel.close()
                    return
                self._dc_data[ref] = data
                self._dc_bytes += len(data)
                return
            call, _ = waiting
            self._waiting = None
            self._call(Call(call.id, call.op, {**call.args, "data": data}))
            self._replay()

    def _dc_request(self, message: bytes) -> None:
        """A request message (docs/protocol.md, "Requests on the channel"): records of JSON + payload.

        It joins the same queue as native-messaging requests (so it waits behind one waiting for its data);
        its payload is the data of its own `dataRef`, and its final reply goes back on the channel."""
        view = memoryview(message)
        at = 0
        while True:
            if len(view) - at < 8:
                return self._dc_bad_record()
            size, length = int.from_bytes(view[at:at + 4], "big"), int.from_bytes(view[at + 4:at + 8], "big")
            body, at = at + 8, at + 8 + size + length
            if at > len(view):
                return self._dc_bad_record()
            request = decode_body(view[body:body + size])
            args = request.get("args") if isinstance(request, dict) else None
            if self._implicit_writes and isinstance(request, dict) and self._bare_mode(request, args):
                pass  # the channel's own notice: nothing to answer
            else:
                if isinstance(args, dict) and isinstance(args.get("dataRef"), int):  # the payload may be empty
                    self._dc_data_arrived(args["dataRef"], bytes(view[body + size:at]))
                if isinstance(request, dict) and isinstance(request.get("id"), int):
                    self._dc_replies.add(request["id"])
                self.receive(request)
            if at == len(view):
                return None
            if len(view) - at < 8 or int.from_bytes(view[at:at + 8], "big") != REQUEST_REF:
                return self._dc_bad_record()
            at += 8

    def _bare_mode(self, request: dict, args: Any) -> bool:
        """Implicit writes (docs/protocol.md): a write record with `implicit` starts them, the notice
        `datachannel.explicit` ends them (True: the record was that notice)."""
        if request.get("op") == "datachannel.explicit" and "id" not in request:
            self._bare = None
            self.datachannel.bare = None
            return True
        if request.get("op") != "write" or not isinstance(args, dict) or "implicit" not in args:
            return False
        first = args.pop("implicit")
        if not (isinstance(first, int) and not isinstance(first, bool) and 1 <= first <= MAX_ID and
                isinstance(args.get("socketId"), int)):
            return False
        self._bare = {"next": first, "args": {"socketId": args["socketId"], **(
            {"behind": True} if args.get("behind") is True else {})}}
        self.datachannel.bare = self._dc_bare_write
        return False

    def _dc_bare_write(self, message: bytes) -> None:
        """A client -> host message that is no record while implicit writes are on: a write of its bytes."""
        bare = self._bare
        if bare is None or bare["next"] > MAX_ID:  # DataChannel calls this only while a mark holds
            log.warning("data channel: an implicit write past the last valid id (2^53-1); closing it")
            self.datachannel.close()
            return
        req_id = bare["next"]
        bare["next"] = req_id + 1
        # Its data goes by a reference equal to its id (the shim's references count from 1, its bare ids
        # from 2^52), so a bare write waits behind a request that waits for its data like any other.
        self._dc_data_arrived(req_id, message)
        self._dc_replies.add(req_id)
        self.receive({"id": req_id, "op": "write", "args": {**bare["args"], "dataRef": req_id}})

    def _dc_bad_record(self) -> None:
        log.warning("data channel: a request record's lengths run past its message; closing it")
        if self.datachannel is not None:
            self.datachannel.close()

    def _dc_send_reply(self, message: dict | RawJSON | RawJSONParts, data: bytes = b"") -> bool:
        """A final reply to a request that came on the channel goes back there (loop thread only)."""
        channel = self.datachannel
        if channel is None or not channel.connected:
            return False
        text = message.text.encode() if isinstance(message, _RAW) else json.dumps(
            message, separators=(",", ":")).encode()
        return channel.send_reply(text, data)

    def _replay(self) -> None:
        parked, self._parked = self._parked, None
        while parked:
            self._receive_now(parked.popleft())
            if self._parked is not None:  # the next one waits for its data in turn
                self._parked.extend(parked)
                return

    def _dc_closed(self) -> None:
        engine = self.engine
        if engine is not None and self._on_loop():
            engine.break_ahead("channel")  # bytes may be lost on it: those connections are broken
        with self._order:
            self._dc_data.clear()
            self._dc_bytes = 0
            if self._waiting is not None:
                call, ref = self._waiting
                self._waiting = None
                self.emit(error_reply(call.id, BAD_ARGS, f"{call.op}: the data channel closed before the data "
                                                         f"of dataRef {ref} arrived"))
                self._replay()

    def ahead_path(self, req_id: int) -> str:
        """ClientOutput: a read-ahead stream travels where the read that starts it came from (loop thread)."""
        channel = self.datachannel
        if req_id in self._dc_replies and channel is not None and channel.connected:
            return "channel"
        return "native"

    def push_ahead(self, path: str, sid: int, stream: int, data: bytes | None, code: int | None) -> None:
        """ClientOutput: read-ahead bytes or end, on the stream's path. A stream on a channel that has closed
        is being broken (`_dc_closed`): what is pushed meanwhile goes nowhere."""
        if path != "channel":
            push_native(self, sid, stream, data, code)
            return
        channel = self.datachannel
        if channel is None or not channel.connected:
            return
        if wire.isEnabledFor(logging.DEBUG):
            wire.debug("<= read-ahead of socket %s: %s", sid, f"{len(data)} bytes" if data is not None
                       else f"end {code}")
        if data is None:
            channel.send_reply(ahead_event_json(sid, stream, code=code).encode())
            return
        channel.send_raw(ahead_event_json(sid, stream, size=len(data)).encode(), data, (sid, stream))
        sock = self.engine.socket(sid)
        if sock is not None and channel.congested(lambda: sock.congestion_over(stream)):
            sock.congested(stream)

    def data_reply(self, req_id: int, data: bytes, extra: dict) -> bool:
        """ClientOutput: for a read's data (loop thread): on the data channel when the read asked for it."""
        if req_id not in self._dc_reads:
            return False
        self._dc_reads.discard(req_id)
        channel = self.datachannel
        reply = api_reply(req_id, [{"resultCode": len(data), "data": "", "dataRef": req_id, **extra}])
        if req_id in self._dc_replies and channel is not None and channel.connected:
            # One message: the reply and its bytes.
            self._dc_replies.discard(req_id)
            self.session.retire(req_id)
            if wire.isEnabledFor(logging.DEBUG):
                wire.debug("<= %s + %d bytes", _summarize(reply), len(data))
            return self._dc_send_reply(reply, data)
        if channel is None or channel.implicit or not channel.send_data(req_id, data):
            return False  # with implicit data the client takes unannounced messages as stream bytes: base64
        self.emit(reply)
        return True

    def _admin(self, admin: Admin) -> None:
        """grants.list / grants.revoke for the extension's options page (Session checked who may). Managed
        grants are listed as such and never revoked from here (grants.py)."""
        from resocket.grants import Grants, GrantsCorrupt

        try:
            store = Grants.open()
            if admin.op == "grants.list":
                managed, _, locked = store.layers()
                reply = result_reply(admin.id, {"origins": store.all(), "managed": managed, "locked": locked})
            else:
                try:
                    revoked = store.revoke(admin.args["origin"])
                    still = store.managed.rules_for(admin.args["origin"])
                except (ValueError, TypeError) as exc:
                    self._send(error_reply(admin.id, BAD_ARGS, f"{admin.op}: {exc}"))
                    return
                log.info("grants.revoke %s: %s", admin.args["origin"], revoked)
                reply = result_reply(admin.id, {"revoked": revoked, **({"managed": still} if still else {})})
        except GrantsCorrupt as exc:
            reply = error_reply(admin.id, CONFIG_ERROR, (
                f"cannot read the grants file {exc.path}: {exc.problem}. Fix or remove that file, "
                "then check the grants with `resocket grants`"))
        except Exception as exc:
            log.exception("%s failed", admin.op)
            reply = error_reply(admin.id, INTERNAL, f"{admin.op}: {type(exc).__name__}: {exc}")
        self._send(reply)

    def _hello(self, hello: Hello) -> None:
        try:
            from resocket.chrome.permissions import RuleSet
            from resocket.grants import Grants, GrantsCorrupt, normalize_origin

            grantable = True
            try:
                hello = dataclasses.replace(hello, origin=normalize_origin(hello.origin))
                granted = Grants.open().rules_for(hello.origin)
            except GrantsCorrupt as exc:
                log.error("grants file unreadable: %s", exc)
                self._send(error_reply(hello.id, CONFIG_ERROR, (
                    f"cannot read the grants file {exc.path}: {exc.problem}. Fix or remove that file, "
                    "then check the grants with `resocket grants`")))
                return
            except (ValueError, TypeError) as exc:  # an origin that cannot be granted has no grants
                if len(hello.origin) > MAX_ORIGIN_LENGTH:  # no origin is this long; don't echo it back
                    self._send(error_reply(hello.id, BAD_ARGS, f"hello: origin of {len(hello.origin)} "
                                                               f"characters is not an origin"))
                    return
                log.warning("no grants possible for origin %r: %s", hello.origin[:200], exc)
                granted, grantable = [], False
            rules, invalid = RuleSet.parse(granted)
            for rule in invalid:
                log.warning("ignoring invalid rule %r granted to %s", rule, hello.origin)
        except Exception as exc:
            log.exception("hello failed")
            self._send(error_reply(hello.id, INTERNAL, f"hello: {type(exc).__name__}: {exc}"))
            return
        # Ungranted means refused (docs/grants.md): an origin with no grant gets no engine, so no socket can
        # exist for it, and the session answers its every call `not_granted`. The resocket extension's own
        # pages (a relay origin not relaying: the options page's self-test) stand where a Chrome App with the
        # socket permission and no rules stood: sockets that reach nothing without a grant.
        own_pages = self.session.may_relay and not hello.relayed
        has_grant = bool(granted) or own_pages
        log.info("hello from %s for %s; rules %s%s", hello.client, hello.origin, rules.rules,
                 "" if has_grant else " (no grant: every call refused)")
        # The reply goes out before the engine is built: importing it (asyncio) and starting its thread is
        # most of the host's start-up, and the client's next request, read only after this returns,
        # waits for it anyway. An engine that fails to start answers every call with `internal`.
        self._send(self.session.accept_hello(hello, rules.rules, granted=has_grant, grantable=grantable))
        if not has_grant:
            return
        try:
            from resocket.engine.loop import Engine

            # This client is the engine's output (engine/services.py ClientOutput).
            self.engine = Engine(self, rules, write_quota=self.write_quota, max_sockets=self.max_sockets,
                                 write_behind=self.session.write_behind, wide=self.session.wide)
        except Exception as exc:
            log.exception("the socket engine failed to start")
            self.engine_error = f"the socket engine failed to start: {type(exc).__name__}: {exc}"

    def shutdown(self) -> None:
        """Close every socket; give up waiting after SHUTDOWN_GRACE (the process is about to exit)."""
        engine, self.engine = self.engine, None
        if engine is None:
            return
        channel = self.datachannel
        if channel is not None:
            try:
                engine.loop.call_soon_threadsafe(channel.close)
            except RuntimeError:
                pass
        done = threading.Thread(target=_shutdown_engine, args=(engine,), name="engine-shutdown", daemon=True)
        done.start()
        done.join(SHUTDOWN_GRACE)
        if done.is_alive():
            log.error("engine did not shut down within %.1fs; exiting anyway", SHUTDOWN_GRACE)


def _summarize(message: Any) -> str:
    """A log line for one message: JSON with each binary payload shown as its size, not its bytes."""
    import json

    if isinstance(message, RawJSONParts):
        if message.size > 4096:  # a read-ahead push: not joined and parsed just to log it
            return f"read-ahead event ({message.size} bytes of JSON)"
        message = RawJSON(message.text, message.reply_to)
    if isinstance(message, RawJSON):
        if len(message.text) > 4096:  # a pre-built data frame: don't parse big ones just to log them
            kind = "chunk" if message.reply_to is None else f"#{message.reply_to} data reply"
            return f"{kind} ({len(message.text)} chars of JSON)"
        message = json.loads(message.text)

    def short(value: Any) -> Any:
        if isinstance(value, (bytes, bytearray)):
            return f"<{len(value)} bytes>"
        if isinstance(value, dict):
            return {k: (f"<{len(v) * 3 // 4 - v.count('=')} bytes>" if k in ("data", "chunk") and isinstance(v, str)
                        else "<secret>" if k == "token" else short(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [short(v) for v in value]
        return value

    return json.dumps(short(message), default=str)[:500]


def _shutdown_engine(engine: Any) -> None:
    try:
        engine.shutdown()
    except Exception:
        log.exception("engine shutdown failed")


def _env_int(environ: Mapping[str, str], name: str, default: int) -> int:
    text = environ.get(name)
    if not text:
        return default
    try:
        value = int(text)
        if value < 0:
            raise ValueError("negative")
    except ValueError:
        log.warning("%s=%r is not a non-negative integer; using %d", name, text, default)
        return default
    return value


class _Terminated(BaseException):
    """SIGTERM: unwinds the reader loop like KeyboardInterrupt does for SIGINT."""


def _on_sigterm(signum: int, frame: types.FrameType | None) -> None:
    raise _Terminated()


def _parse_args(argv: list[str]) -> Any:
    """argv as Chrome passes it (`<origin> [--parent-window=N]`) or Firefox (`<manifest path> <add-on ID>`)
    without argparse, which costs ~8 ms of start-up; anything else (--help, --version, --log-file, mistakes)
    goes through argparse."""
    positional = [a for a in argv if not a.startswith("-")]
    if len(positional) == 1 and all(a == positional[0] or a.startswith("--parent-window") for a in argv):
        return types.SimpleNamespace(origin=positional[0], addon=None, log_file=None, ignored=[])
    if len(positional) == 2 and len(argv) == 2:
        return types.SimpleNamespace(origin=caller_origin(*positional), addon=positional[1], log_file=None, ignored=[])
    return _parse_args_fully(argv)


_MOZ_EXTENSION_ORIGIN = re.compile(r"moz-extension://[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def caller_origin(first: str, addon: str | None = None) -> str:
    """The caller as grants name it. Chrome gives its origin; Firefox the host manifest's path and the add-on
    ID: resocket's own add-on is the resocket extension (EXTENSION_ORIGIN). Another add-on gets a name no
    grant can have (`firefox-addon:<id>`): Firefox origins (moz-extension://<uuid>) differ per profile."""
    if addon is None:
        return first
    return EXTENSION_ORIGIN if addon == FIREFOX_EXTENSION_ID else f"firefox-addon:{addon}"


def _parse_args_fully(argv: list[str]) -> Any:
    import argparse

    parser = argparse.ArgumentParser(
        prog="resocket-host",
        description="Native messaging host for resocket (started by the browser, speaks frames on stdio).")
    parser.add_argument("origin", help="the caller origin Chrome passes, chrome-extension://<id>/ (Firefox: the path "
                                           "of the host manifest)")
    parser.add_argument("addon", nargs="?", help="Firefox: the caller's add-on ID")
    parser.add_argument("--log-file", metavar="PATH", help="append logs here instead of stderr")
    parser.add_argument("--version", action="version", version=f"resocket-host {__version__}")
    args, extra = parser.parse_known_args(argv)
    args.origin = caller_origin(args.origin, args.addon)
    # Chrome on Windows adds --parent-window=<HWND>. None of it concerns us.
    args.ignored = [a for a in extra if not a.startswith("--parent-window")]
    return args


def _setup_logging(log_file: str | None, level_name: str) -> None:
    level = logging.getLevelName(level_name.upper()) if level_name else logging.WARNING
    handler: logging.Handler
    problem = None
    if log_file:
        try:
            handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            handler, problem = logging.StreamHandler(sys.stderr), f"cannot open log file {log_file}: {exc}"
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s resocket-host[%(process)d] %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else logging.WARNING)
    if not isinstance(level, int):
        log.warning("RESOCKET_LOG=%r is not a log level; using WARNING", level_name)
    if problem:
        log.warning("%s", problem)


def _claim_stdout() -> BinaryIO:
    """The real stdout as a binary stream for frames; fd 1 and sys.stdout now go to stderr."""
    sys.stdout.flush()
    frames_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if sys.platform == "win32":  # text mode would turn \n into \r\n inside frames
        import msvcrt

        msvcrt.setmode(frames_fd, os.O_BINARY)
    _grow_pipe(frames_fd)
    return os.fdopen(frames_fd, "wb")  # buffered: write() retries short writes; flushed per frame


#: Pipe buffer asked for stdout and stdin (Linux F_SETPIPE_SZ; pipe-max-size is 1 MiB by default). With the
#: default 64 KiB, writing one 64 KiB data frame (~87 KB of JSON) blocked the host until Chrome had read it, and
#: meanwhile it read no request and no socket (docs/performance.md).
PIPE_SIZE = 1024 * 1024


def _grow_pipe(fd: int) -> None:
    if not sys.platform.startswith("linux"):
        return  # macOS grows pipe buffers by itself (up to 64 KiB); Windows pipes are Chrome's to size
    import fcntl

    set_size = getattr(fcntl, "F_SETPIPE_SZ", 1031)
    for size in (PIPE_SIZE, PIPE_SIZE // 4):
        try:
            fcntl.fcntl(fd, set_size, size)
            log.debug("pipe buffer of fd %s: %s bytes", fd, size)
            return
        except OSError as exc:  # not a pipe (a socket, a file, a tty), or above pipe-max-size
            log.debug("pipe buffer of fd %s unchanged (%s)", fd, exc)


def _stdin() -> BinaryIO:
    if sys.platform == "win32":
        import msvcrt

        msvcrt.setmode(sys.stdin.fileno(), os.O_BINARY)
    else:
        _grow_pipe(sys.stdin.fileno())
    return sys.stdin.buffer


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    _setup_logging(args.log_file, os.environ.get("RESOCKET_LOG", ""))
    if args.ignored:
        log.info("ignoring arguments %s", args.ignored)
    host = Client(args.origin, FrameWriter(_claim_stdout()), os.environ, addon=args.addon)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    reason = "stdin closed"
    try:
        _serve(host, StdinReader(_stdin()))
    except _Terminated:
        reason = "SIGTERM"
    except KeyboardInterrupt:
        reason = "SIGINT"
    finally:
        if in_main_thread:  # a second SIGTERM must not cut the shutdown short
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        log.info("%s: shutting down", reason)
        host.shutdown()
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    _exit_if_threads_linger()
    return 0


def _serve(host: Client, reader: StdinReader) -> None:
    """Read requests until stdin ends: on this thread until hello, then on the engine's loop thread.

    Once the engine exists its loop reads stdin itself (`Engine.watch_input`): each request is decoded
    and dispatched on the thread that runs it, with no hand-over per request (a self-pipe write, a loop
    wake-up and GIL hand-offs cost more than the request's own work). This thread then only waits, so
    signals still reach it. Without a pollable stdin (Windows pipes, in-memory streams) it keeps reading.
    """
    while not reader.at_end:
        reader.fill()
        for event in reader.events():
            host.receive(event)
        engine = host.engine
        if engine is not None and reader.fd is not None and not reader.at_end and _pollable(reader.fd):
            done = engine.watch_input(reader.fd, lambda: _pump(host, reader))
            while not done.wait(1.0):
                pass
            return


def _pump(host: Client, reader: StdinReader) -> bool:
    """One readable stdin on the loop thread: read once, handle every complete request (their immediate
    replies leave as one batch frame when the client reads them). False at EOF."""
    reader.fill()
    host.begin_batch()
    try:
        for event in reader.events():
            try:
                host.receive(event)
            except Exception:
                log.exception("request failed")
    finally:
        host.end_batch()
    return not reader.at_end


def _pollable(fd: int) -> bool:
    if sys.platform == "win32":
        return False  # the selector event loop cannot watch pipes on Windows
    import stat

    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


def _exit_if_threads_linger() -> None:
    """A worker the engine failed to stop would keep the interpreter alive after main returns."""
    lingering = [t for t in threading.enumerate()
                 if t is not threading.current_thread() and t.is_alive() and not t.daemon]
    if lingering:
        log.error("threads still running after shutdown: %s; exiting anyway", [t.name for t in lingering])
        logging.shutdown()
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
