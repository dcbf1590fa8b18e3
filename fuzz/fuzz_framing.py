"""atheris harness: the frame decoder against coverage-guided bytes (issue 7; `make fuzz`).

    .venv/bin/python fuzz/fuzz_framing.py -runs=1000000 [corpus_dir]

The first two input bytes choose where the stream is cut in two; the decoder must give the same events
for the whole stream and for the two pieces, never raise, and never hold more than one legal frame.
"""
from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from resocket.wire.framing import END_OF_INPUT, HEADER, NEED_DATA, FrameDecoder, FrameError

CAP = 4096  # small, so that oversized claims are reachable by the fuzzer


def events(pieces: list[bytes]) -> list:
    decoder = FrameDecoder(max_frame=CAP)
    out: list = []
    for piece in pieces:
        decoder.receive_data(piece)
        while (event := decoder.next_event()) is not NEED_DATA:
            out.append(event)
        if len(decoder._buffer) > HEADER.size + CAP:
            raise AssertionError(f"decoder holds {len(decoder._buffer)} bytes")
    decoder.receive_eof()
    while (event := decoder.next_event()) is not END_OF_INPUT:
        assert event is not NEED_DATA
        out.append(event)
    return out


def test_one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    cut = int.from_bytes(data[:2], "little") % (len(data) - 1)
    stream = data[2:]
    whole = events([stream])
    split = events([stream[:cut], stream[cut:]])
    if whole != split:
        raise AssertionError(f"split at {cut} changed the events: {whole!r} != {split!r}")
    for event in whole:
        if isinstance(event, FrameError) and event.code not in ("bad_frame", "frame_too_large"):
            raise AssertionError(event)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
