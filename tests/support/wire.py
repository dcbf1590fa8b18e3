"""Native-messaging bytes as a test writes and checks them by hand (docs/protocol.md), and a bare host process.

The one place tests build and read frames: written here independently of resocket.wire.framing (4-byte native-endian
length, then the body), so a framing bug cannot hide behind the same bug in the test. For tests that must control
every byte (bad frames, fuzzing, a host killed mid-stream); everything else talks through
tests/support/hostclient.py, which frames with these too.
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, BinaryIO

#: The origin test hosts are started for unless a test says otherwise.
DEFAULT_ORIGIN = "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"
#: Chrome's frame header: the body's length, 32 bits, native byte order.
HEADER = struct.Struct("=I")
HELLO = {"id": 1, "op": "hello", "args": {"protocol": 1, "client": "tests/1"}}


def frame(body: bytes, claimed: int | None = None) -> bytes:
    """`body` behind its 4-byte native-endian length (or a false `claimed` one)."""
    return HEADER.pack(len(body) if claimed is None else claimed) + body


def message(msg: Any, *, compact: bool = False) -> bytes:
    """One frame holding `msg` as JSON; `compact`: without spaces, byte for byte as Chrome's JSON.stringify
    writes it (for peers that find `"data":"` by its bytes)."""
    return frame(json.dumps(msg, separators=(",", ":") if compact else None).encode())


def messages(msgs: list[Any]) -> bytes:
    """Frames holding each of `msgs`, back to back, as one write."""
    return b"".join(message(m) for m in msgs)


def read_message(stream: BinaryIO) -> Any:
    """The next frame's JSON from a blocking binary stream (a host's stdout); fails if the stream ends first."""
    head = stream.read(HEADER.size)
    assert len(head) == HEADER.size, f"the stream ended before a frame header: {head!r}"
    (n,) = HEADER.unpack(head)
    body = stream.read(n)
    assert len(body) == n, f"the stream ended inside a frame of {n} bytes after {len(body)}"
    return json.loads(body)


def parse_frames(data: bytes) -> list[dict]:
    """Every byte of `data` must belong to a well-formed frame of a JSON object."""
    msgs, pos = [], 0
    while pos < len(data):
        assert len(data) - pos >= 4, f"stray bytes at the end of stdout: {data[pos:]!r}"
        (n,) = HEADER.unpack_from(data, pos)
        body = data[pos + 4: pos + 4 + n]
        assert len(body) == n, f"truncated frame on stdout at byte {pos}: {data[pos:pos + 80]!r}"
        msg = json.loads(body.decode("utf-8"))
        assert isinstance(msg, dict), msg
        msgs.append(msg)
        pos += 4 + n
    return msgs


def host_process(config_dir: Path, origin: str = DEFAULT_ORIGIN, **env: str) -> subprocess.Popen:
    """A bare resocket-host with pipes on stdin, stdout and stderr, and its grants in `config_dir`."""
    full_env = {**os.environ, "RESOCKET_CONFIG_DIR": str(config_dir), **env}
    return subprocess.Popen([sys.executable, "-m", "resocket.client.serve", origin], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env)
