"""wire/framing.py: bytes <-> messages, Chrome's size limits, errors as values."""
from __future__ import annotations

import json
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from resocket.wire.framing import (
    END_OF_INPUT,
    INBOUND_LIMIT,
    NEED_DATA,
    OUTBOUND_LIMIT,
    FrameDecoder,
    FrameError,
    OutboundFrameTooLarge,
    RawJSON,
    RawJSONParts,
    encode_frame,
    encode_raw_json,
    frame_buffers,
)

from tests.support.wire import frame


def drain(decoder: FrameDecoder) -> list:
    events = []
    while True:
        event = decoder.next_event()
        if event is NEED_DATA or event is END_OF_INPUT:
            return events
        events.append(event)


def decode_all(data: bytes, *, eof: bool = True) -> list:
    decoder = FrameDecoder()
    decoder.receive_data(data)
    if eof:
        decoder.receive_eof()
    return drain(decoder)


def test_decodes_consecutive_frames_in_one_buffer() -> None:
    data = frame(b'{"id":1}') + frame(b"[1,2]") + frame(b'"x"')
    assert decode_all(data) == [{"id": 1}, [1, 2], "x"]


def test_partial_frame_needs_data_until_complete() -> None:
    decoder = FrameDecoder()
    data = frame(b'{"a":"b"}')
    decoder.receive_data(data[:3])
    assert decoder.next_event() is NEED_DATA
    decoder.receive_data(data[3:7])
    assert decoder.next_event() is NEED_DATA
    decoder.receive_data(data[7:])
    assert decoder.next_event() == {"a": "b"}
    assert decoder.next_event() is NEED_DATA


def test_length_counts_utf8_bytes_not_characters() -> None:
    body = json.dumps({"s": "héllo €"}, ensure_ascii=False).encode()
    assert decode_all(frame(body)) == [{"s": "héllo €"}]


def test_invalid_utf8_is_bad_frame_and_decoding_continues() -> None:
    events = decode_all(frame(b'"\xff\xfe"') + frame(b"1"))
    assert isinstance(events[0], FrameError) and events[0].code == "bad_frame"
    assert "UTF-8" in events[0].message
    assert events[1] == 1


def test_utf16_json_is_refused_as_not_utf8() -> None:
    events = decode_all(frame('{"a":1}'.encode("utf-16")))
    assert isinstance(events[0], FrameError) and events[0].code == "bad_frame"


@pytest.mark.parametrize("body", [b"{", b"", b"NaN", b"[Infinity]", b"{'a':1}", b"1 2", b"[" * 100000])
def test_invalid_json_is_bad_frame_and_decoding_continues(body: bytes) -> None:
    events = decode_all(frame(body) + frame(b'{"ok":true}'))
    assert isinstance(events[0], FrameError) and events[0].code == "bad_frame", events[0]
    assert "JSON" in events[0].message
    assert events[1] == {"ok": True}


def test_oversized_claim_is_reported_at_once_then_skipped_as_bytes_arrive() -> None:
    decoder = FrameDecoder(max_frame=100)
    decoder.receive_data(frame(b"x" * 10, claimed=1000))
    event = decoder.next_event()
    assert isinstance(event, FrameError) and event.code == "frame_too_large"
    assert "1000" in event.message
    assert decoder.next_event() is NEED_DATA
    for _ in range(99):
        decoder.receive_data(b"y" * 10)
        assert decoder.next_event() is NEED_DATA
    decoder.receive_data(frame(b'{"after":1}'))
    assert decoder.next_event() == {"after": 1}


def test_oversized_frame_bytes_are_never_stored() -> None:
    decoder = FrameDecoder()
    decoder.receive_data(frame(b"", claimed=2**32 - 1))
    assert isinstance(decoder.next_event(), FrameError)
    for _ in range(64):
        decoder.receive_data(bytes(1 << 20))
        assert decoder.next_event() is NEED_DATA
    assert len(decoder._buffer) == 0


def test_frame_of_exactly_the_inbound_limit_is_accepted() -> None:
    body = b'"' + b"a" * (INBOUND_LIMIT - 2) + b'"'
    events = decode_all(frame(body))
    assert len(events) == 1 and len(events[0]) == INBOUND_LIMIT - 2


def test_frame_one_byte_over_the_limit_is_too_large() -> None:
    events = decode_all(frame(bytes(INBOUND_LIMIT + 1)) + frame(b"2"))
    assert [getattr(e, "code", e) for e in events] == ["frame_too_large", 2]


def test_truncated_frame_at_eof_is_bad_frame_then_end() -> None:
    decoder = FrameDecoder()
    decoder.receive_data(frame(b'{"id":1}') + frame(b'{"id":2}')[:6])
    decoder.receive_eof()
    assert decoder.next_event() == {"id": 1}
    event = decoder.next_event()
    assert isinstance(event, FrameError) and event.code == "bad_frame"
    assert "ended inside a frame" in event.message
    assert decoder.next_event() is END_OF_INPUT


def test_truncated_length_prefix_at_eof_is_bad_frame() -> None:
    events = decode_all(b"\x01\x00")
    assert [e.code for e in events] == ["bad_frame"]


def test_clean_eof_is_end_of_input() -> None:
    decoder = FrameDecoder()
    decoder.receive_eof()
    assert decoder.next_event() is END_OF_INPUT


def test_encode_frame_is_compact_json_with_utf8_length() -> None:
    data = encode_frame({"id": 1, "args": [0, "é"]})
    (length,) = struct.unpack("=I", data[:4])
    assert length == len(data) - 4
    assert json.loads(data[4:].decode()) == {"id": 1, "args": [0, "é"]}
    assert b" " not in data[4:]


def test_encode_frame_keeps_lone_surrogates_encodable() -> None:
    data = encode_frame({"hostname": "\ud800"})
    assert json.loads(data[4:]) == {"hostname": "\ud800"}


def test_encode_frame_refuses_more_than_chromes_outbound_cap() -> None:
    encode_frame("a" * (OUTBOUND_LIMIT - 2))
    with pytest.raises(OutboundFrameTooLarge):
        encode_frame("a" * (OUTBOUND_LIMIT - 1))


def test_raw_json_is_written_as_is() -> None:
    text = '{"id":3,"chunk":"AAAA"}'
    assert encode_raw_json(text) == frame(text.encode())
    assert encode_frame(RawJSON(text, reply_to=None)) == frame(text.encode())
    with pytest.raises(OutboundFrameTooLarge):
        encode_raw_json('"' + "A" * OUTBOUND_LIMIT + '"')


def test_raw_json_parts_are_the_frame_of_their_joined_text_without_joining_them() -> None:
    parts = (b'{"event":"socket.data","args":[{"socketId":1,"stream":2,"data":"', b"QUJD", b'"}]}')
    text = b"".join(parts).decode()
    message = RawJSONParts(parts)
    assert frame_buffers(message) == [struct.pack("=I", len(text)), *parts]  # the pieces themselves
    assert frame_buffers(message)[2] is parts[1]
    assert encode_frame(message) == encode_frame(RawJSON(text)) == frame(text.encode())
    assert message.text == text and message.size == len(text)
    assert frame_buffers({"id": 1}) == [encode_frame({"id": 1})]
    with pytest.raises(OutboundFrameTooLarge):
        frame_buffers(RawJSONParts((b'"', b"A" * OUTBOUND_LIMIT, b'"')))


def test_encoded_frames_decode_back() -> None:
    msgs = [{"id": 1, "result": {}}, {"id": None, "error": {"code": "bad_frame", "message": "m"}}]
    assert decode_all(b"".join(encode_frame(m) for m in msgs)) == msgs


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(json_values, max_size=6), st.data())
def test_byte_by_byte_and_random_splits_give_the_same_messages(values: list, data: st.DataObject) -> None:
    stream = b"".join(encode_frame(v) for v in values)
    assert decode_all(stream) == values

    byte_by_byte = FrameDecoder()
    got: list = []
    for i in range(len(stream)):
        byte_by_byte.receive_data(stream[i: i + 1])
        got += drain(byte_by_byte)
    assert got == values

    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    split = FrameDecoder()
    got = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)]):
        split.receive_data(stream[start:end])
        got += drain(split)
    split.receive_eof()
    got += drain(split)
    assert got == values


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_random_bytes_never_crash_the_decoder(pieces: list) -> None:
    decoder = FrameDecoder(max_frame=64)
    for piece in pieces:
        decoder.receive_data(piece)
        for event in drain(decoder):
            assert not isinstance(event, BaseException)
    decoder.receive_eof()
    drain(decoder)
    assert decoder.next_event() is END_OF_INPUT


# -- requests carrying a big `data` string: parsed around the string (framing._decode_with_data) --------------
B64 = "QUJD" * 1500  # 6,000 characters: over DATA_SPLIT_MIN, as a 4.5 KiB write


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def reference(body: bytes):
    """What json.loads makes of a frame body: the value, or FrameError when it is not JSON."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except ValueError:
        return FrameError


@pytest.mark.parametrize("text", [
    '{"id":1,"op":"write","args":{"socketId":1,"data":"%s","behind":true}}',
    '{"id":1,"op":"write","args":{"socketId":1,"data":"%s"}}',
    '{"id":1,"op":"write","args":{"data":"%s","socketId":1}}',  # no comma before the key
    '{"id":1,"op":"data","args":{"socketId":1,"data":"%s"}}',  # "data" elsewhere too
    '{"id":1,"op":"write","args":{"socketId":1,"data":"%s","data":""}}',  # duplicate key: the last wins
    '{"id":1,"op":"write","args":{"socketId":1,"data":"%s","data" : "QQ=="}}',
    '{"id":1,"op":"write","args":{"socketId":1,"data":"%s","d\\u0061ta":"QQ=="}}',  # the key spelled escaped
    '{"id":1,"op":"wr\\u0069te","args":{"socketId":1,"data":"%s"}}',  # an escape elsewhere
    '{"id":1,"op":"write","args":{"socketId":1,"data":"%s\\n"}}',  # an escape in the data
    '{"id":1,"op":"write","args":{"socketId":1,"x":"a,"data":"%s"}}',  # the key inside a string: not JSON
    '{"id":1,"op":"write","args":{"socketId":1,"x":"a\\",\\"data\\":\\"%s"}}',  # and escaped: one string
    '{"id":1,"op":"write","args":{"socketId":1,"opts":{"z":1,"data":"%s"}}}',  # not args' own key
    '{"id":1,"data":"%s","args":{"socketId":1}}',
    '["x","data":"%s"]',
    '{"id":1,"op":"write","args":{"socketId":1,"data":"%s}}',  # unterminated
    '{"id":1,"op":"write","args":{"socketId":1,"data":"%s"}',  # truncated
    '{"id":1,"op":"write","args":{"socketId":1,"data":"%s"}}}',  # trailing garbage
    '{"id":1,"op":"write", "args": {"socketId": 1, "data": "%s"}}',  # spaced out
    '{"id":NaN,"op":"write","args":{"socketId":1,"data":"%s"}}',
    '{"id":1,"op":"write","args":{"socketId":1,"data":"","pad":"%s"}}',
    '{"id":1,"op":"write","args":{"socketId":1,"data":"%s","pad":"\u00e9\u4e2d"}}',
])
def test_a_frame_with_big_data_decodes_as_json_loads_does(text: str) -> None:
    body = (text % B64).encode()
    (event,) = decode_all(frame(body))
    want = reference(body)
    if want is FrameError:
        assert isinstance(event, FrameError) and event.code == "bad_frame"
    else:
        assert event == want


def test_big_data_that_is_not_utf8_is_a_bad_frame_and_decoding_continues() -> None:
    body = b'{"id":1,"op":"write","args":{"socketId":1,"data":"' + B64.encode() + b'\xff"}}'
    events = decode_all(frame(body) + frame(b'{"id":2}'))
    assert isinstance(events[0], FrameError) and "UTF-8" in events[0].message
    assert events[1] == {"id": 2}


def test_a_raw_control_character_in_big_data_is_left_to_the_base64_check() -> None:
    """Chrome escapes control characters; a peer that does not gets its request, whose data is no base64."""
    body = ('{"id":1,"op":"write","args":{"socketId":1,"data":"' + B64 + '\x01"}}').encode()
    (event,) = decode_all(frame(body))
    assert event["args"]["data"] == B64 + "\x01"


_edge = st.one_of(st.text(alphabet="ABCxyz019+/=", max_size=6), st.text(max_size=6))


@settings(max_examples=150, deadline=None)
@given(before=_edge, after=_edge, extra=st.dictionaries(st.sampled_from(["data", "x", "d\u0061ta", "socketId"]),
                                              st.one_of(st.text(max_size=8), st.integers()), max_size=3),
       first=st.booleans(), ascii_only=st.booleans(), spaced=st.booleans())
def test_random_requests_with_big_data_decode_as_json_loads_does(before: str, after: str, extra: dict, first: bool,
                                                                  ascii_only: bool, spaced: bool) -> None:
    data = before + B64 + after
    args = {"data": data, "socketId": 3, **extra} if first else {"socketId": 3, "data": data, **extra}
    text = json.dumps({"id": 7, "op": "write", "args": args}, ensure_ascii=ascii_only,
                      separators=(", ", ": ") if spaced else (",", ":"))
    body = text.encode("utf-8", "surrogatepass")
    (event,) = decode_all(frame(body))
    want = reference(body)
    if want is FrameError:
        assert isinstance(event, FrameError)
    else:
        assert event == want
