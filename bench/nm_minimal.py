"""The minimal socket host: the socket work of a chrome.socket echo over native messaging, and nothing else.

    nm_minimal.py ECHO_PORT   (started by Chrome through a wrapper; Chrome's own arguments are not passed on)

The floor under any native-messaging host that carries socket data: it does what resocket-host must do for the
trivial echo page's traffic (`bench/browser_level.py`, NATIVE_ECHO_JS) and skips everything a real host needs
besides (hello, requests and replies, socket ids, validation, permissions, flow control, errors).
- A frame with a `"data":"<base64>"` string: the bytes are decoded and sent to the echo server, on one TCP
  connection opened at the first such frame.
- Any other frame (the page's latency pings): written back unchanged, as the trivial echo host does.
- A reader thread takes the echo server's bytes 64 KiB at a time (`MSG_WAITALL`: the page writes whole 64 KiB
  blocks, so every message is one block, as resocket's read-ahead pushes are) and writes each as
  `{"chunk":"<base64>"}` with one `writev`, the length in front.

Measured against it, resocket's host shows what its protocol costs on top of the socket work (docs/performance.md).
Standard library, plus pybase64 when installed (resocket-host uses it then too).
"""
from __future__ import annotations

import os
import socket
import sys
import threading

from nmframes import HEADER, read_frames

try:
    from pybase64 import b64decode as _decode
    from pybase64 import b64encode as _encode
except ImportError:  # pragma: no cover - the bench extra installs pybase64 with the `fast` extra
    from binascii import a2b_base64 as _decode
    from binascii import b2a_base64

    def _encode(data: bytes) -> bytes:
        return b2a_base64(data, newline=False)

BLOCK = 64 * 1024
_lock = threading.Lock()


def _write(out: int, parts: list[bytes]) -> None:
    size = sum(len(p) for p in parts)
    pieces = [HEADER.pack(size), *parts]
    with _lock:
        done = os.writev(out, pieces)
        if done < size + 4:
            rest = memoryview(b"".join(pieces))[done:]
            while rest:
                rest = rest[os.write(out, rest):]


def _pump(sock: socket.socket, out: int) -> None:
    while True:
        data = sock.recv(BLOCK, socket.MSG_WAITALL)
        if not data:
            return
        _write(out, [b'{"chunk":"', _encode(data), b'"}'])


def main() -> None:
    port = int(sys.argv[1])
    out = sys.stdout.fileno()
    sock: socket.socket | None = None
    for body in read_frames(sys.stdin.fileno()):
        at = body.find(b'"data":"')
        if at < 0:
            _write(out, [body])
            continue
        if sock is None:
            sock = socket.create_connection(("127.0.0.1", port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=_pump, args=(sock, out), daemon=True).start()
        sock.sendall(_decode(body[at + 8:body.index(b'"', at + 8)]))


if __name__ == "__main__":
    main()
