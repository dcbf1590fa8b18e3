"""bench/nm_minimal.py, the browser section's baseline (d): does the socket work it stands for, and only that.

A real pipe pair and the bench's own echo server on loopback: what the trivial echo page sends (a `write`
message with 64 KiB of base64, a latency ping) goes in, and what the page decodes comes out.
"""
from __future__ import annotations

import base64
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

from bench.echoserver import EchoServers

REPO = Path(__file__).resolve().parents[1]
HEADER = struct.Struct("=I")


def _frame(message: dict) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    return HEADER.pack(len(body)) + body


def _read_frame(stream) -> dict:  # type: ignore[no-untyped-def]
    head = stream.read(4)
    assert len(head) == 4, "the host closed its stdout"
    (size,) = HEADER.unpack(head)
    return json.loads(stream.read(size))


def test_echoes_writes_through_the_socket_in_64_kib_messages_and_returns_other_frames() -> None:
    blocks = [os.urandom(64 * 1024) for _ in range(3)]
    with EchoServers() as servers:
        proc = subprocess.Popen([sys.executable, str(REPO / "bench" / "nm_minimal.py"), str(servers.echo_port)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stdin is not None and proc.stdout is not None
        try:
            ping = {"id": 1, "op": "ping", "args": {}}
            proc.stdin.write(_frame(ping))
            proc.stdin.flush()
            assert _read_frame(proc.stdout) == ping
            # Two writes in one pipe write, then a third: each block comes back as one chunk, in order.
            proc.stdin.write(b"".join(_frame({"id": 2 + i, "op": "write", "args": {
                "socketId": 1, "data": base64.b64encode(b).decode()}}) for i, b in enumerate(blocks[:2])))
            proc.stdin.flush()
            proc.stdin.write(_frame({"id": 4, "op": "write", "args": {"socketId": 1,
                                                                      "data": base64.b64encode(blocks[2]).decode()}}))
            proc.stdin.flush()
            got = [base64.b64decode(_read_frame(proc.stdout)["chunk"]) for _ in blocks]
            assert got == blocks
        finally:
            proc.stdin.close()
            assert proc.wait(10) == 0
