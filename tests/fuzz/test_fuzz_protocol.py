"""Property tests of request validation against arbitrary JSON (issue 7).

Invariants, whatever the client sends:
- `Session.receive` never raises, and returns at most one action;
- every reply is encodable as a frame, every error names a documented code, and carries the request's
  id when the id could be read (null otherwise);
- every request with a readable id gets exactly one answer carrying that id (a reply, a Hello or a
  Call); a failed chunk sequence is answered when its final request arrives;
- a Call only ever carries the operation's own arguments, with the types the engine relies on;
- a well-formed call (built from the operation table) always becomes that Call, with its data decoded.
"""
from __future__ import annotations

import base64
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from resocket.wire.framing import FrameError, encode_frame
from resocket.wire.protocol import (
    ADMIN_OPERATIONS,
    BOOL,
    COUNT,
    DATA,
    DATACHANNEL_OPERATIONS,
    INT,
    MAX_ID,
    OBJECT,
    OPERATIONS,
    SOCKET_TYPE,
    SOCKETS_API,
    SOCKETS_OPERATIONS,
    STR,
    Admin,
    Call,
    Hello,
    Send,
    Session,
)

FUZZ = settings.get_profile("resocket-fuzz")
CALLER = "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"
EXTENSION = "chrome-extension://flgdmcpaemonpacjpigcafobmllikoco/"
#: docs/protocol.md, "Protocol errors" (config_error and internal come from the host, not the session).
CODES = {"bad_frame", "frame_too_large", "bad_request", "unknown_op", "bad_args", "hello_required",
         "protocol_mismatch", "origin_not_allowed", "duplicate_id", "chunks_too_large", "not_allowed"}
ALL_OPERATIONS = {**OPERATIONS, **ADMIN_OPERATIONS, **SOCKETS_OPERATIONS, **DATACHANNEL_OPERATIONS}
ARG_NAMES = sorted({a.name for op in ALL_OPERATIONS.values() for a in op.args})

scalars = (st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats() | st.text(max_size=10)
           | st.sampled_from(["tcp", "udp", "", "AAAA", "AA==", "A===", "====", "\ud800", "\x00"]))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)
ids = st.integers(1, 12) | st.sampled_from([0, -1, MAX_ID, MAX_ID + 1, 2.0, 2.5, True, "3", None, [1]]) | scalars
ops = st.sampled_from(sorted(ALL_OPERATIONS)) | st.sampled_from(["Hello", "__class__", "op_create", ""]) | scalars
args = st.dictionaries(st.sampled_from(ARG_NAMES), json_values, max_size=6) | json_values
requests = st.fixed_dictionaries({}, optional={"id": ids, "op": ops, "args": args, "chunk": scalars,
                                               "extra": json_values})
hellos = st.fixed_dictionaries({"id": st.integers(1, 12), "op": st.just("hello"), "args": st.fixed_dictionaries(
    {"protocol": st.sampled_from([1, 1.0, 2, 0]), "client": st.just("fuzz/1")},
    optional={"origin": st.text(max_size=30) | st.none()})})
frame_errors = st.builds(FrameError, st.sampled_from(["bad_frame", "frame_too_large"]), st.text(min_size=1, max_size=20))
messages = st.one_of(requests, hellos, json_values, frame_errors)


def readable_id(msg: Any) -> int | None:
    if not isinstance(msg, dict):
        return None
    rid = msg.get("id")
    if isinstance(rid, bool) or not isinstance(rid, (int, float)):
        return None
    if isinstance(rid, float) and not (math.isfinite(rid) and rid.is_integer()):
        return None
    return int(rid) if 1 <= rid <= MAX_ID else None


def check_call(call: Call) -> None:
    op = ALL_OPERATIONS[call.op]  # chrome.socket's, chrome.sockets.*'s or the data channel's
    allowed = {a.name: a.kind for a in op.args}
    if DATA in allowed.values():
        allowed["dataRef"] = COUNT  # the payload comes on the data channel (docs/protocol.md)
    assert set(call.args) <= set(allowed), call
    for arg in op.args:
        if arg.required:
            assert arg.name in call.args or (arg.kind == DATA and "dataRef" in call.args), call
    for name, value in call.args.items():
        kind = allowed[name]
        expected = {INT: int, COUNT: int, STR: str, BOOL: bool, OBJECT: dict, DATA: bytes, SOCKET_TYPE: str,
                    SOCKETS_API: str}[kind]
        assert isinstance(value, expected), (name, value)
        if kind in (INT, COUNT):
            assert not isinstance(value, bool)
        if kind == SOCKET_TYPE:
            assert value in ("tcp", "udp")


def run(session: Session, msgs: list) -> None:
    in_flight: set[int] = set()
    for msg in msgs:
        actions = session.receive(msg)
        assert len(actions) <= 1
        rid = readable_id(msg)
        is_chunk = isinstance(msg, dict) and "chunk" in msg
        for action in actions:
            if isinstance(action, Send):
                reply = action.message
                encode_frame(reply)
                assert reply["id"] == rid, (msg, reply)
                assert ("error" in reply) != ("result" in reply)
                if "error" in reply:
                    assert reply["error"]["code"] in CODES
                    assert isinstance(reply["error"]["message"], str) and reply["error"]["message"]
            elif isinstance(action, Hello):
                assert action.id == rid
                session.accept_hello(action, [])
            elif isinstance(action, Admin):
                assert action.id == rid and action.op in ADMIN_OPERATIONS
                assert session.may_relay and not session.relayed, "a relayed page reached an admin operation"
            else:
                assert isinstance(action, Call)
                assert action.id == rid and rid not in in_flight
                check_call(action)
                in_flight.add(rid)
                if len(in_flight) > 3:  # let some finish, as the engine would
                    session.retire(in_flight.pop())
        if rid is not None and not is_chunk:
            assert actions, f"request {msg!r} got no answer"
        if rid is None and not actions:
            raise AssertionError(f"{msg!r} got no answer")


def ready(session: Session) -> Session:
    hello = session.receive({"id": 99, "op": "hello", "args": {"protocol": 1, "client": "fuzz/1"}})[0]
    assert isinstance(hello, Hello)
    session.accept_hello(hello, [])
    session.retire(99)
    return session


@FUZZ
@given(st.lists(messages, max_size=16))
def test_arbitrary_messages_never_raise_and_every_readable_id_is_answered(msgs: list) -> None:
    for session in (Session(CALLER), ready(Session(CALLER)), Session(EXTENSION, [EXTENSION])):
        run(session, msgs)


def _valid_value(kind: str) -> st.SearchStrategy[Any]:
    return {
        INT: st.integers(-(2**31), 2**31 - 1) | st.integers(0, 65535).map(float),
        STR: st.text(max_size=20),
        BOOL: st.booleans(),
        OBJECT: st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
        DATA: st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
        SOCKET_TYPE: st.sampled_from(["tcp", "udp"]),
        SOCKETS_API: st.sampled_from(["tcp", "tcpServer", "udp"]),
    }[kind]


@st.composite
def valid_calls(draw: st.DrawFn) -> dict:
    name = draw(st.sampled_from([n for n in OPERATIONS if n != "hello"]))
    args: dict[str, Any] = {}
    for arg in OPERATIONS[name].args:
        if arg.required or draw(st.booleans()):
            args[arg.name] = draw(_valid_value(arg.kind) | (st.none() if not arg.required else st.nothing()))
    return {"id": draw(st.integers(1, MAX_ID)), "op": name, "args": args}


@FUZZ
@given(valid_calls())
def test_every_well_formed_call_becomes_that_call_with_its_data_decoded(msg: dict) -> None:
    actions = ready(Session(CALLER)).receive(msg)
    if msg["op"] == "ping":
        assert actions == [Send({"id": msg["id"], "result": {}})]
        return
    [call] = actions
    assert isinstance(call, Call) and (call.id, call.op) == (msg["id"], msg["op"])
    check_call(call)
    sent = {k: v for k, v in msg["args"].items() if v is not None}
    assert set(call.args) == set(sent)
    for name, value in sent.items():
        if name == "data":
            assert call.args[name] == base64.b64decode(value)
        else:
            assert call.args[name] == value


@FUZZ
@given(st.binary(max_size=200), st.lists(st.integers(0, 300), max_size=6), st.integers(1, MAX_ID))
def test_chunked_write_data_joins_whatever_the_cut_points(data: bytes, cuts: list, rid: int) -> None:
    text = base64.b64encode(data).decode()
    bounds = sorted({min(c, len(text)) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *bounds], [*bounds, len(text)])]
    session = ready(Session(CALLER))
    for piece in pieces[:-1]:
        assert session.receive({"id": rid, "chunk": piece}) == []
    [call] = session.receive({"id": rid, "op": "write", "args": {"socketId": 1, "data": pieces[-1]}})
    assert isinstance(call, Call) and call.args["data"] == data


@FUZZ
@given(st.integers(2**31, 2**63) | st.integers(-(2**63), -(2**31) - 1))
def test_integers_outside_int32_are_refused_as_chrome_bindings_refuse_them(value: int) -> None:
    session = ready(Session(CALLER))
    (action,) = session.receive({"id": 2, "op": "read", "args": {"socketId": 1, "bufferSize": value}})
    assert isinstance(action, Send) and action.message["error"]["code"] == "bad_args"
