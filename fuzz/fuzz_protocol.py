"""atheris harness: request validation against coverage-guided JSON (issue 7; `make fuzz`).

    .venv/bin/python fuzz/fuzz_protocol.py -runs=1000000 fuzz/corpus/protocol

Each input is a sequence of newline-separated messages decoded by the real frame decoder's JSON rules
and fed to a Session (before and after hello). Session.receive must never raise, every reply must be
encodable with a documented error code, and every request with a readable id must be answered with it.
"""
from __future__ import annotations

import math
import sys
from typing import Any

import atheris

with atheris.instrument_imports():
    from resocket.wire.framing import NEED_DATA, FrameDecoder, encode_frame
    from resocket.wire.protocol import MAX_ID, Admin, Call, Hello, Send, Session

CALLER = "chrome-extension://flgdmcpaemonpacjpigcafobmllikoco/"
CODES = {"bad_frame", "frame_too_large", "bad_request", "unknown_op", "bad_args", "hello_required",
         "protocol_mismatch", "origin_not_allowed", "duplicate_id", "chunks_too_large", "not_allowed"}


def readable_id(msg: Any) -> int | None:
    if not isinstance(msg, dict):
        return None
    rid = msg.get("id")
    if isinstance(rid, bool) or not isinstance(rid, (int, float)):
        return None
    if isinstance(rid, float) and not (math.isfinite(rid) and rid.is_integer()):
        return None
    return int(rid) if 1 <= rid <= MAX_ID else None


def messages(data: bytes) -> list:
    decoder = FrameDecoder()
    out = []
    for line in data.split(b"\n"):
        decoder.receive_data(len(line).to_bytes(4, sys.byteorder) + line)
        event = decoder.next_event()
        assert event is not NEED_DATA
        out.append(event)
    return out


def run(session: Session, msgs: list) -> None:
    failed_chunks: set[int] = set()
    for msg in msgs:
        actions = session.receive(msg)
        rid = readable_id(msg)
        is_chunk = isinstance(msg, dict) and "chunk" in msg
        for action in actions:
            if isinstance(action, Send):
                encode_frame(action.message)
                if action.message["id"] != rid:
                    raise AssertionError((msg, action))
                if "error" in action.message:
                    if action.message["error"]["code"] not in CODES:
                        raise AssertionError(action)
                    if is_chunk and rid is not None:
                        failed_chunks.add(rid)
            elif isinstance(action, Hello):
                session.accept_hello(action, [])
            elif isinstance(action, Admin):
                if not session.may_relay or session.relayed:
                    raise AssertionError(f"admin operation reached from {session.caller_origin}: {msg!r}")
            elif isinstance(action, Call):
                session.retire(action.id)
        if not actions and not is_chunk and not (rid is not None and rid in failed_chunks):
            raise AssertionError(f"no answer to {msg!r}")
        if rid is not None and not is_chunk:
            failed_chunks.discard(rid)


def test_one_input(data: bytes) -> None:
    msgs = messages(data)
    run(Session(CALLER), msgs)
    ready = Session("chrome-extension://abcdefghijklmnopabcdefghijklmnop/")
    ready.accept_hello(Hello(1, "fuzz", ready.caller_origin), [])
    run(ready, msgs)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
