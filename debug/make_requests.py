"""Write the framed requests in this folder (4-byte native-endian length + UTF-8 JSON, as Chrome sends).

    python3 debug/make_requests.py    # rewrites debug/*.bin
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
HELLO = {"id": 1, "op": "hello", "args": {"protocol": 1, "client": "debug/1"}}


def frame(msg: object) -> bytes:
    body = json.dumps(msg, separators=(",", ":")).encode("utf-8")
    return struct.pack("=I", len(body)) + body


REQUESTS = {
    "hello.bin": [HELLO],
    "hello-ping.bin": [HELLO, {"id": 2, "op": "ping"}],
    "hello-create.bin": [HELLO, {"id": 2, "op": "create", "args": {"type": "tcp"}},
                         {"id": 3, "op": "getInfo", "args": {"socketId": 1}}],
}

if __name__ == "__main__":
    for name, msgs in REQUESTS.items():
        (HERE / name).write_bytes(b"".join(frame(m) for m in msgs))
        print(f"wrote debug/{name}")
