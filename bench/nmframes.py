"""Native-messaging frames read from a file descriptor (4-byte native-endian length, then the body).

Standard library only: the bench's own native hosts (`nm_minimal.py`, run as scripts by Chrome) import it as
`nmframes`, the bench's clients as `bench.nmframes`.
"""
from __future__ import annotations

import os
import struct
from collections.abc import Iterator

HEADER = struct.Struct("=I")


def read_frames(fd: int) -> Iterator[bytes]:
    """Every frame's body, in order, until end of file (a partial frame at the end is dropped)."""
    buf = bytearray()
    while True:
        data = os.read(fd, 1 << 18)
        if not data:
            return
        buf += data
        end = 0
        while len(buf) - end >= 4:
            (n,) = HEADER.unpack_from(buf, end)
            if len(buf) - end - 4 < n:
                break
            yield bytes(buf[end + 4:end + 4 + n])
            end += 4 + n
        del buf[:end]
