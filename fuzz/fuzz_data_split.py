"""atheris harness: a big request parsed around its `data` string decodes as json.loads does (`make fuzz`).

    .venv/bin/python fuzz/fuzz_data_split.py -runs=1000000 -max_len=4096 fuzz/corpus/data_split

`framing._decode_with_data` finds a write's base64 with byte searches and parses only the JSON around it
(docs/performance.md, round 8). Here the fuzzer writes that JSON: its input, cut in two where the first two
bytes say, goes around a 6,000-character base64 block (so every frame is over DATA_SPLIT_MIN), and the
decoder's event must be what json.loads makes of the same bytes: the same value, or a bad_frame error when
json.loads refuses them. The one difference allowed is documented: a raw control character inside the data
string, which json.loads refuses and the host leaves to the base64 check of the request.
"""
from __future__ import annotations

import json
import struct
import sys

import atheris

with atheris.instrument_imports():
    from resocket.wire.framing import NEED_DATA, FrameDecoder, FrameError

B64 = b"QUJD" * 1500


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _short(value: object) -> str:
    return repr(value).replace(B64.decode(), "<B64>")  # base64 has nothing repr escapes: bytes and str alike


def test_one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    rest = data[2:]
    cut = int.from_bytes(data[:2], "little") % (len(rest) + 1)
    body = rest[:cut] + B64 + rest[cut:]
    decoder = FrameDecoder()
    decoder.receive_data(struct.pack("=I", len(body)) + body)
    event = decoder.next_event()
    assert event is not NEED_DATA and decoder.next_event() is NEED_DATA
    try:
        want = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        if isinstance(event, FrameError):
            assert event.code == "bad_frame", event
            return
        # Accepted where json.loads refused: only for raw control characters in args.data, and then the value
        # must be json.loads' of the same bytes with those characters escaped.
        start = body.find(b',"data":"') + 9
        end = body.find(b'"', start)
        span = body[start:end]
        if start < 9 or end < 0 or not any(b < 0x20 for b in span):
            raise AssertionError(f"decoded {_short(body)} that json.loads refuses ({exc})") from None
        escaped = b"".join(b"\\u%04x" % b if b < 0x20 else bytes([b]) for b in span)
        want = json.loads((body[:start] + escaped + body[end:]).decode("utf-8"), parse_constant=_refuse_constant)
    if isinstance(event, FrameError) or event != want:
        raise AssertionError(f"{_short(body)}: decoder gave {_short(event)}, json.loads {_short(want)}")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
