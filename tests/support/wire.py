"""Native-messaging bytes as a test writes and checks them by hand (docs/protocol.md), and a bare host process.

For tests that must control every byte (bad frames, fuzzing, a host killed mid-stream); everything else talks
through tests/support/hostclient.py.
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.hostclient import DEFAULT_ORIGIN

HELLO = {"id": 1, "op": "hello", "args": {"protocol": 1, "client": "tests/1"}}


def frame(body: bytes, claimed: int | None = None) -> bytes:
    """`body` behind its 4-byte native-endian length (or a false `claimed` one)."""
    return struct.pack("=I", len(body) if claimed is None else claimed) + body


def message(msg: Any) -> bytes:
    """One frame holding `msg` as JSON."""
    return frame(json.dumps(msg).encode())


def parse_frames(data: bytes) -> list[dict]:
    """Every byte of `data` must belong to a well-formed frame of a JSON object."""
    msgs, pos = [], 0
    while pos < len(data):
        assert len(data) - pos >= 4, f"stray bytes at the end of stdout: {data[pos:]!r}"
        (n,) = struct.unpack_from("=I", data, pos)
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
