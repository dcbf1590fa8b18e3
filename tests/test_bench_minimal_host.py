"""bench/nm_minimal.py, the browser section's baseline (d): does the socket work it stands for, and only that.

A real pipe pair and the bench's own echo server on loopback: what the trivial echo page sends (a `write`
message with 64 KiB of base64, a latency ping) goes in, and what the page decodes comes out.
"""
from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

from bench.echoserver import EchoServers
from tests.support.wire import message, read_message

REPO = Path(__file__).resolve().parents[1]


def test_echoes_writes_through_the_socket_in_64_kib_messages_and_returns_other_frames() -> None:
    blocks = [os.urandom(64 * 1024) for _ in range(3)]
    with EchoServers() as servers:
        proc = subprocess.Popen([sys.executable, str(REPO / "bench" / "nm_minimal.py"), str(servers.echo_port)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stdin is not None and proc.stdout is not None
        try:
            ping = {"id": 1, "op": "ping", "args": {}}
            proc.stdin.write(message(ping, compact=True))
            proc.stdin.flush()
            assert read_message(proc.stdout) == ping
            # Two writes in one pipe write, then a third: each block comes back as one chunk, in order.
            proc.stdin.write(b"".join(message({"id": 2 + i, "op": "write", "args": {
                "socketId": 1, "data": base64.b64encode(b).decode()}}, compact=True) for i, b in enumerate(blocks[:2])))
            proc.stdin.flush()
            proc.stdin.write(message({"id": 4, "op": "write", "args": {"socketId": 1,
                                                                      "data": base64.b64encode(blocks[2]).decode()}},
                                     compact=True))
            proc.stdin.flush()
            got = [base64.b64decode(read_message(proc.stdout)["chunk"]) for _ in blocks]
            assert got == blocks
        finally:
            proc.stdin.close()
            assert proc.wait(10) == 0
