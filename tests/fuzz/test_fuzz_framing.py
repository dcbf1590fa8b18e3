"""Property tests of the frame decoder against random and adversarial byte streams (issue 7).

Invariants, whatever bytes arrive and however they are split:
- the decoder never raises; every event is a decoded JSON value or a FrameError with a known code;
- the same stream gives the same events whatever the split;
- the bytes it holds stay bounded: never more than one frame's header + body (at most the cap), and
  never any byte of a frame that claims more than the cap;
- after an oversized claim, the frames that follow its (skipped) body decode normally.
"""
from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st
from resocket.wire.framing import (
    BAD_FRAME,
    END_OF_INPUT,
    FRAME_TOO_LARGE,
    HEADER,
    NEED_DATA,
    FrameDecoder,
    FrameError,
    encode_frame,
)

from tests.support.wire import frame

FUZZ = settings.get_profile("resocket-fuzz")
#: A small cap so that "oversized" claims are cheap to send in full.
CAP = 4096


def buffered(decoder: FrameDecoder) -> int:
    # White-box on purpose: "bounded memory" is about what the decoder holds, which nothing public shows.
    return len(decoder._buffer)


def drain(decoder: FrameDecoder) -> list:
    events = []
    while True:
        event = decoder.next_event()
        if event is NEED_DATA or event is END_OF_INPUT:
            return events
        assert not isinstance(event, BaseException)
        if isinstance(event, FrameError):
            assert event.code in (BAD_FRAME, FRAME_TOO_LARGE), event
        events.append(event)


def decode_in_pieces(stream: bytes, cuts: list[int], cap: int = CAP) -> tuple[list, int]:
    """Events from `stream` fed in the pieces `cuts` makes, then EOF; and the most bytes ever held."""
    decoder = FrameDecoder(max_frame=cap)
    events: list = []
    most = 0
    for start, end in zip([0, *cuts], [*cuts, len(stream)]):
        decoder.receive_data(stream[start:end])
        events += drain(decoder)
        held = buffered(decoder)
        most = max(most, held)
        assert held <= HEADER.size + cap, f"decoder holds {held} bytes with a {cap}-byte cap"
    decoder.receive_eof()
    events += drain(decoder)
    assert decoder.next_event() is END_OF_INPUT
    assert buffered(decoder) == 0
    return events, most


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)


def adversarial_frames() -> st.SearchStrategy[bytes]:
    """One frame's worth of hostile bytes: a valid message, garbage, a lying length, or a truncation."""
    valid = json_values.map(lambda v: encode_frame(v)).filter(lambda b: len(b) <= HEADER.size + CAP)
    garbage_body = st.binary(max_size=CAP).map(frame)
    bad_utf8 = st.sampled_from([b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b'"\xe2\x82"', b"\x00"]).map(frame)
    bad_json = st.sampled_from([b"", b"{", b"[1,", b"NaN", b"Infinity", b"-Infinity", b"{'a':1}",
                                b"[" * 3000, b'"\\ud800"x', b"1e99999", b"\xef\xbb\xbf{}"]).map(frame)
    oversized = st.tuples(st.integers(CAP + 1, 2**32 - 1), st.binary(max_size=64)).map(
        lambda t: frame(t[1], claimed=t[0]))
    near_cap = st.integers(CAP - 2, CAP + 2).map(lambda n: frame(b'"' + b"a" * max(0, n - 2) + b'"'))
    return st.one_of(valid, garbage_body, bad_utf8, bad_json, oversized, near_cap, st.binary(max_size=12))


@FUZZ
@given(st.binary(max_size=2048), st.data())
def test_random_bytes_split_anywhere_never_raise_and_stay_bounded(stream: bytes, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    whole, _ = decode_in_pieces(stream, [])
    split, _ = decode_in_pieces(stream, cuts)
    assert split == whole


@FUZZ
@given(st.lists(adversarial_frames(), max_size=10), st.data())
def test_adversarial_frames_give_the_same_events_whatever_the_split(pieces: list, data: st.DataObject) -> None:
    stream = b"".join(pieces)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=16)))
    whole, _ = decode_in_pieces(stream, [])
    split, _ = decode_in_pieces(stream, cuts)
    one_by_one, _ = decode_in_pieces(stream, list(range(1, len(stream)))) if len(stream) < 1500 else (whole, 0)
    assert split == whole
    assert one_by_one == whole


@FUZZ
@given(st.lists(json_values, max_size=5), st.integers(CAP + 1, 2 * CAP), st.lists(json_values, max_size=5),
       st.data())
def test_oversized_frame_is_reported_once_never_stored_and_what_follows_decodes(
        before: list, claimed: int, after: list, data: st.DataObject) -> None:
    junk = random.Random(data.draw(st.integers(0, 2**32))).randbytes(claimed)  # big but cheap to draw
    stream = (b"".join(encode_frame(v) for v in before) + frame(junk, claimed=claimed)
              + b"".join(encode_frame(v) for v in after))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=16)))
    decoder = FrameDecoder(max_frame=CAP)
    events: list = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)]):
        decoder.receive_data(stream[start:end])
        events += drain(decoder)
        # The oversized body is dropped as it arrives: never more than one legal frame is held.
        assert buffered(decoder) <= HEADER.size + CAP
    decoder.receive_eof()
    events += drain(decoder)
    errors = [e for e in events if isinstance(e, FrameError)]
    assert [e.code for e in errors] == [FRAME_TOO_LARGE]
    assert str(claimed) in errors[0].message
    assert [e for e in events if not isinstance(e, FrameError)] == [json.loads(json.dumps(v)) for v in before + after]


@FUZZ
@given(st.integers(1, 2**32 - 1), st.binary(max_size=512))
def test_a_claimed_but_absent_body_is_never_allocated(claimed: int, present: bytes) -> None:
    """A length prefix is a claim, not an allocation: only bytes that arrived are held."""
    decoder = FrameDecoder()  # the real 64 MiB cap
    decoder.receive_data(frame(present, claimed=claimed)[: HEADER.size + min(len(present), claimed - 1)])
    drain(decoder)
    assert buffered(decoder) <= HEADER.size + len(present)
    decoder.receive_eof()
    events = drain(decoder)
    assert events and all(isinstance(e, FrameError) for e in events)
    assert decoder.next_event() is END_OF_INPUT
