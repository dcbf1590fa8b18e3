"""The trivial native-messaging echo host: every frame read from stdin is written back unchanged.

The channel's own ceiling: no JSON parsing, no base64, no sockets. Standard library only, so it starts as
fast as a Python program can (it is also the start-up baseline).
"""
from __future__ import annotations

import os
import struct
import sys

HEADER = struct.Struct("=I")


def main() -> None:
    inp, out = sys.stdin.fileno(), sys.stdout.fileno()
    buf = bytearray()
    while True:
        data = os.read(inp, 1 << 18)
        if not data:
            return
        buf += data
        end = 0
        while len(buf) - end >= 4:
            (n,) = HEADER.unpack_from(buf, end)
            if len(buf) - end - 4 < n:
                break
            end += 4 + n
        if end:
            view = memoryview(buf)[:end]
            while view:
                view = view[os.write(out, view):]
            del view
            del buf[:end]


if __name__ == "__main__":
    main()
