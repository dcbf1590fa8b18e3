"""Print the frames on stdin as JSON, one per line: `... | resocket-host ORIGIN | python3 debug/read_replies.py`."""
from __future__ import annotations

import struct
import sys

data = sys.stdin.buffer.read()
pos = 0
while pos + 4 <= len(data):
    (n,) = struct.unpack_from("=I", data, pos)
    print(data[pos + 4: pos + 4 + n].decode("utf-8", errors="replace"))
    pos += 4 + n
if pos != len(data):
    print(f"!! {len(data) - pos} stray bytes after the last frame: not a frame stream", file=sys.stderr)
    sys.exit(1)
