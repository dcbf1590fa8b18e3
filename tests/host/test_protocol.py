"""wire/protocol.py: the operation table, validation, hello, chunk assembly, reply shapes (pure)."""
from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from resocket import EXTENSION_ORIGIN, PROTOCOL_VERSION
from resocket.wire.framing import FrameError, encode_frame
from resocket.wire.protocol import (
    CHUNK_LIMIT,
    MAX_ID,
    OPERATIONS,
    SOCKET_OPERATIONS,
    Call,
    Hello,
    Send,
    Session,
    api_reply,
    data_reply_frames,
    error_reply,
    result_reply,
)

CALLER = "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def ready_session(caller: str = CALLER) -> Session:
    session = Session(caller)
    [hello] = session.receive({"id": 1, "op": "hello", "args": {"protocol": PROTOCOL_VERSION, "client": "t"}})
    assert isinstance(hello, Hello)
    session.accept_hello(hello, [])
    return session


def error_of(actions: list) -> tuple:
    [action] = actions
    assert isinstance(action, Send), action
    err = action.message["error"]
    return action.message["id"], err["code"], err["message"]


def call_of(actions: list) -> Call:
    [action] = actions
    assert isinstance(action, Call), action
    return action


def test_table_has_all_21_chrome_socket_methods_plus_hello_and_ping() -> None:
    assert len(SOCKET_OPERATIONS) == 21
    assert set(OPERATIONS) - set(SOCKET_OPERATIONS) == {"hello", "ping"}


def test_frame_error_becomes_an_error_reply_without_id() -> None:
    actions = Session(CALLER).receive(FrameError("bad_frame", "frame is not valid JSON"))
    assert error_of(actions) == (None, "bad_frame", "frame is not valid JSON")


@pytest.mark.parametrize("msg", [[1], "x", 3, None, True])
def test_non_object_is_bad_request(msg: object) -> None:
    assert error_of(ready_session().receive(msg))[:2] == (None, "bad_request")


@pytest.mark.parametrize("rid", [None, 0, -1, 1.5, "7", True, MAX_ID + 1, [1]])
def test_missing_or_invalid_id_is_bad_request_without_id(rid: object) -> None:
    msg = {"op": "ping"} if rid is None else {"id": rid, "op": "ping"}
    rid_out, code, message = error_of(ready_session().receive(msg))
    assert (rid_out, code) == (None, "bad_request")
    assert "ping: request id" in message


def test_largest_safe_integer_and_integral_floats_are_valid_ids() -> None:
    session = ready_session()
    assert session.receive({"id": MAX_ID, "op": "ping"}) == [Send({"id": MAX_ID, "result": {}})]
    assert session.receive({"id": 5.0, "op": "ping"}) == [Send({"id": 5, "result": {}})]


def test_op_not_a_string_is_bad_request_with_id() -> None:
    assert error_of(ready_session().receive({"id": 4, "op": 3}))[:2] == (4, "bad_request")


@pytest.mark.parametrize("op", [{}, {"op": "socket.ack"}, [], ["socket.ack"]])
def test_an_object_or_array_op_without_id_is_bad_request_not_a_crash(op: object) -> None:
    """Found by fuzz/fuzz_protocol.py: looking such an op up among the notices raised TypeError (unhashable)."""
    for session in (Session(CALLER), ready_session()):
        assert error_of(session.receive({"op": op}))[:2] == (None, "bad_request")


def test_unknown_op_names_it() -> None:
    rid, code, message = error_of(ready_session().receive({"id": 4, "op": "frobnicate", "args": {}}))
    assert (rid, code) == (4, "unknown_op") and "frobnicate" in message


def test_operation_before_hello_is_hello_required() -> None:
    session = Session(CALLER)
    assert error_of(session.receive({"id": 2, "op": "create", "args": {"type": "tcp"}}))[:2] == (2, "hello_required")
    assert error_of(session.receive({"id": 3, "op": "ping"}))[:2] == (3, "hello_required")


def test_hello_reports_version_origin_and_rules() -> None:
    session = Session(CALLER)
    [hello] = session.receive({"id": 1, "op": "hello", "args": {"protocol": 1, "client": "ext/1"}})
    assert hello == Hello(1, "ext/1", CALLER)
    reply = session.accept_hello(hello, ["tcp-connect:localhost:*"])
    assert reply["id"] == 1
    assert reply["result"]["protocol"] == PROTOCOL_VERSION
    assert reply["result"]["host"] == "resocket-host"
    assert reply["result"]["origin"] == CALLER
    assert reply["result"]["rules"] == ["tcp-connect:localhost:*"]
    assert session.receive({"id": 2, "op": "ping"}) == [Send({"id": 2, "result": {}})]


def test_second_hello_is_refused() -> None:
    session = ready_session()
    assert error_of(session.receive({"id": 9, "op": "hello", "args": {"protocol": 1, "client": "t"}}))[1] == "bad_request"


@pytest.mark.parametrize("theirs, fix", [(2, "pip install -U resocket"), (0, "update the resocket extension")])
def test_protocol_mismatch_names_both_versions_and_the_fix(theirs: int, fix: str) -> None:
    session = Session(CALLER)
    rid, code, message = error_of(session.receive(
        {"id": 1, "op": "hello", "args": {"protocol": theirs, "client": "ext/9"}}))
    assert (rid, code) == (1, "protocol_mismatch")
    assert f"protocol {theirs}" in message and f"protocol {PROTOCOL_VERSION}" in message
    assert fix in message and "ext/9" in message
    assert not session.ready


def test_origin_relay_is_refused_for_a_client_that_is_not_the_extension() -> None:
    rid, code, message = error_of(Session(CALLER).receive(
        {"id": 1, "op": "hello", "args": {"protocol": 1, "client": "t", "origin": "https://example.com"}}))
    assert (rid, code) == (1, "origin_not_allowed") and CALLER in message


def test_origin_relay_is_honoured_for_the_extension() -> None:
    [hello] = Session(EXTENSION_ORIGIN).receive(
        {"id": 1, "op": "hello", "args": {"protocol": 1, "client": "t", "origin": "https://example.com"}})
    assert hello == Hello(1, "t", "https://example.com")


def test_a_session_trusts_the_relay_origins_it_is_given_with_or_without_slash() -> None:
    fork = "chrome-extension://forkforkforkforkforkforkforkfork"
    origins = frozenset([EXTENSION_ORIGIN, fork])  # as fleet.relay_origins() gives them (the admin's list)
    [hello] = Session(fork + "/", origins).receive(
        {"id": 1, "op": "hello", "args": {"protocol": 1, "client": "t", "origin": "https://a.test"}})
    assert hello.origin == "https://a.test"
    assert Session(EXTENSION_ORIGIN, origins).may_relay
    assert not Session(CALLER, origins).may_relay


@pytest.mark.parametrize("op, args, message", [
    ("connect", {"socketId": 1, "hostname": "h"}, "connect: port is required"),
    ("connect", {"socketId": "1", "hostname": "h", "port": 1}, "connect: socketId must be an integer, not a string"),
    ("connect", {"socketId": True, "hostname": "h", "port": 1}, "connect: socketId must be an integer, not a boolean"),
    ("connect", {"socketId": 1.5, "hostname": "h", "port": 1}, "connect: socketId must be an integer"),
    ("connect", {"socketId": 1, "hostname": 5, "port": 1}, "connect: hostname must be a string, not a number"),
    ("setNoDelay", {"socketId": 1, "noDelay": 1}, "setNoDelay: noDelay must be a boolean"),
    ("create", {"type": "sctp"}, 'create: type must be "tcp" or "udp"'),
    ("create", {"type": "tcp", "options": []}, "create: options must be an object, not an array"),
    ("write", {"socketId": 1, "data": "%%%"}, "write: data is not valid base64"),
    ("write", {"socketId": 1, "data": "QQ"}, "write: data is not valid base64"),
    ("write", {"socketId": 1, "data": [1]}, "write: data must be a base64 string"),
    ("getInfo", [1], "getInfo: args must be an object, not an array"),
])
def test_wrong_or_missing_args_are_bad_args_naming_the_method(op: str, args: object, message: str) -> None:
    rid, code, got = error_of(ready_session().receive({"id": 5, "op": op, "args": args}))
    assert (rid, code) == (5, "bad_args")
    assert got.startswith(message), got


def test_valid_call_gets_only_its_args_with_ints_and_bytes() -> None:
    call = call_of(ready_session().receive({"id": 6, "op": "write", "args": {
        "socketId": 2.0, "data": b64(b"\x00hello"), "extra": 1}}))
    assert call == Call(6, "write", {"socketId": 2, "data": b"\x00hello"})
    assert type(call.args["socketId"]) is int


def test_null_or_absent_optional_args_are_left_out() -> None:
    session = ready_session()
    assert call_of(session.receive({"id": 7, "op": "read", "args": {"socketId": 1, "bufferSize": None}})).args == {
        "socketId": 1}
    assert call_of(session.receive({"id": 8, "op": "create", "args": {"type": "udp"}})).args == {"type": "udp"}
    assert call_of(session.receive({"id": 9, "op": "getNetworkList"})).args == {}


def test_range_checks_are_left_to_the_engine() -> None:
    call = call_of(ready_session().receive({"id": 7, "op": "connect", "args": {
        "socketId": 1, "hostname": "h", "port": 70000}}))
    assert call.args["port"] == 70000


def test_in_flight_id_is_duplicate_until_retired() -> None:
    session = ready_session()
    call_of(session.receive({"id": 10, "op": "accept", "args": {"socketId": 1}}))
    rid, code, _ = error_of(session.receive({"id": 10, "op": "getInfo", "args": {"socketId": 1}}))
    assert (rid, code) == (10, "duplicate_id")
    session.retire(10)
    call_of(session.receive({"id": 10, "op": "getInfo", "args": {"socketId": 1}}))


def test_chunks_are_joined_in_front_of_the_write_data() -> None:
    session = ready_session()
    assert session.receive({"id": 11, "chunk": b64(b"abc")}) == []
    assert session.receive({"id": 12, "chunk": b64(b"zz")}) == []
    assert session.receive({"id": 11, "chunk": b64(b"def")}) == []
    call = call_of(session.receive({"id": 11, "op": "write", "args": {"socketId": 1, "data": b64(b"gh")}}))
    assert call.args["data"] == b"abcdefgh"
    call = call_of(session.receive({"id": 12, "op": "sendTo", "args": {
        "socketId": 1, "data": "", "address": "127.0.0.1", "port": 1}}))
    assert call.args["data"] == b"zz"


def test_chunks_split_anywhere_in_the_base64_text_still_join() -> None:
    text = b64(bytes(range(256)) * 3)
    session = ready_session()
    for piece in (text[:7], text[7:100]):
        session.receive({"id": 13, "chunk": piece})
    call = call_of(session.receive({"id": 13, "op": "write", "args": {"socketId": 1, "data": text[100:]}}))
    assert call.args["data"] == bytes(range(256)) * 3


def test_chunks_before_an_op_without_data_are_bad_args() -> None:
    session = ready_session()
    session.receive({"id": 14, "chunk": "AAAA"})
    assert error_of(session.receive({"id": 14, "op": "getInfo", "args": {"socketId": 1}}))[1] == "bad_args"
    # the pieces are gone: the next write with that id has only its own data
    assert call_of(session.receive({"id": 14, "op": "write", "args": {"socketId": 1, "data": "QQ=="}})).args[
        "data"] == b"A"


def test_chunks_over_the_cap_fail_the_final_request_once_and_drop_the_rest_of_its_sequence(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("resocket.wire.protocol.CHUNK_LIMIT", 8)
    session = ready_session()
    assert session.receive({"id": 15, "chunk": "AAAA"}) == []
    assert session.receive({"id": 15, "chunk": "AAAAAAAA"}) == []  # over the cap: pieces freed at once
    assert session.receive({"id": 15, "chunk": "AAAA"}) == []  # the rest of the sequence is dropped
    rid, code, message = error_of(session.receive({"id": 15, "op": "write", "args": {"socketId": 1, "data": "QQ=="}}))
    assert (rid, code) == (15, "chunks_too_large") and "8 bytes" in message
    # the budget was released and the id is usable again
    assert session.receive({"id": 15, "chunk": "AAAAAAAA"}) == []
    assert call_of(session.receive({"id": 15, "op": "write", "args": {"socketId": 1, "data": ""}})).args[
        "data"] == bytes(6)


def test_a_failed_chunk_never_swallows_a_later_request_with_its_id() -> None:
    session = Session(CALLER)
    assert session.receive({"id": 1, "chunk": "AAAA"}) == []  # before hello: fails, answered with its final
    assert error_of(session.receive({"id": 1, "op": "hello", "args": {"protocol": 1, "client": "t"}}))[:2] == (
        1, "hello_required")
    hello = session.receive({"id": 1, "op": "hello", "args": {"protocol": 1, "client": "t"}})[0]
    assert isinstance(hello, Hello)
    session.accept_hello(hello, [])
    session.retire(1)
    assert session.receive({"id": 7, "chunk": "AAAA", "op": "write"}) == []
    assert error_of(session.receive({"id": 7, "op": "ping"}))[:2] == (7, "bad_request")
    assert session.receive({"id": 7, "op": "ping"}) == [Send(result_reply(7, {}))]


def test_client_text_quoted_in_errors_is_clipped_so_replies_stay_small() -> None:
    huge = "x" * 2_000_000
    for msg in ({"op": huge}, {"id": 1, "op": "hello", "args": {"protocol": 2, "client": huge}}):
        (action,) = Session(CALLER).receive(msg)
        assert isinstance(action, Send) and len(encode_frame(action.message)) < 1000


def test_chunk_cap_is_256_mib() -> None:
    assert CHUNK_LIMIT == 256 * 1024 * 1024


def test_chunk_before_hello_is_hello_required() -> None:
    session = Session(CALLER)
    assert session.receive({"id": 3, "chunk": "AAAA"}) == []
    assert error_of(session.receive({"id": 3, "op": "write", "args": {"socketId": 1, "data": ""}}))[:2] == (
        3, "hello_required")


def test_reply_builders_match_the_wire_contract() -> None:
    assert api_reply(7, [0]) == {"id": 7, "args": [0]}
    assert api_reply(8, [-1], "Socket not found") == {"id": 8, "args": [-1], "lastError": "Socket not found"}
    assert error_reply(None, "bad_frame", "m") == {"id": None, "error": {"code": "bad_frame", "message": "m"}}


@pytest.mark.parametrize("size", [0, 1, 48 * 1024, 48 * 1024 + 1, 200_000])
def test_data_reply_frames_split_large_reads_into_small_chunk_frames(size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    frames = data_reply_frames(21, data, {"address": "127.0.0.1", "port": 9})
    msgs = [json.loads(f.text) for f in frames]
    *chunks, final = msgs
    assert all(set(c) == {"id", "chunk"} and c["id"] == 21 for c in chunks)
    assert len(chunks) == max(0, (size - 1) // (48 * 1024))
    assert final["args"][0]["resultCode"] == size
    assert final["args"][0]["address"] == "127.0.0.1" and final["args"][0]["port"] == 9
    joined = b"".join(base64.b64decode(c["chunk"]) for c in chunks) + base64.b64decode(final["args"][0]["data"])
    assert joined == data
    assert [f.reply_to for f in frames] == [None] * len(chunks) + [21]
    assert all(len(encode_frame(f)) < 70_000 for f in frames)


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
requests = st.fixed_dictionaries(
    {}, optional={
        "id": st.integers(-2, 20) | json_scalars,
        "op": st.sampled_from(sorted(OPERATIONS)) | json_values,
        "args": st.dictionaries(st.sampled_from(["socketId", "data", "type", "port", "hostname", "address",
                                                 "protocol", "client", "origin", "bufferSize", "enable"]),
                                json_values, max_size=5) | json_values,
        "chunk": json_scalars,
    })


@settings(max_examples=500, deadline=None)
@given(st.lists(requests | json_values, max_size=12))
def test_random_messages_never_crash_and_every_error_names_a_known_code(msgs: list) -> None:
    codes = {"bad_frame", "frame_too_large", "bad_request", "unknown_op", "bad_args", "hello_required",
             "protocol_mismatch", "origin_not_allowed", "duplicate_id", "chunks_too_large"}
    for session in (Session(CALLER), ready_session()):
        for msg in msgs:
            for action in session.receive(msg):
                if isinstance(action, Send) and "error" in action.message:
                    assert action.message["error"]["code"] in codes
                    encode_frame(action.message)  # every reply is encodable
                elif isinstance(action, Hello):
                    session.accept_hello(action, [])


# -- base64 with and without pybase64 (the `fast` extra) ---------------------------------------------------
B64_TEXT = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n.é", max_size=24)


def _both(fn: Any, value: Any) -> list:
    """fn(value) with pybase64, then with binascii alone: (result or the error's type) for each."""
    from resocket.wire import protocol

    out = []
    saved = (protocol._Fast.module, protocol._Fast.loaded)
    try:
        for module in (pytest.importorskip("pybase64"), None):
            protocol._Fast.module, protocol._Fast.loaded = module, True
            try:
                out.append(fn(value))
            except Exception as exc:  # noqa: BLE001 - the error's type is compared
                out.append(type(exc))
    finally:
        protocol._Fast.module, protocol._Fast.loaded = saved
    return out


@settings(max_examples=3000)
@given(B64_TEXT)
def test_pybase64_accepts_and_refuses_exactly_what_binascii_strict_mode_does(text: str) -> None:
    from resocket.wire.protocol import decode_base64

    fast, plain = _both(decode_base64, text)
    assert fast == plain


def test_pybase64_keeps_binascii_answers_on_padding_it_alone_refuses() -> None:
    from resocket.wire.protocol import decode_base64

    # binascii's strict mode takes padding after a whole quantum; pybase64 refuses it, binascii then judges.
    for text in ("AAAA====", "jXIN=", "QUJD", "QQ==", "", "Q==="):
        fast, plain = _both(decode_base64, text)
        assert fast == plain, text


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_pybase64_encodes_as_binascii(data: bytes) -> None:
    from resocket.wire.protocol import encode_base64

    fast, plain = _both(encode_base64, data)
    assert fast == plain == base64.b64encode(data).decode()
