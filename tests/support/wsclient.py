"""A minimal WebSocket client (RFC 6455) for tests: the opening handshake, masked frames out, frames in.

Used against resocket-host's data channel (tests/host/test_datachannel.py) and Firefox's WebDriver BiDi
server (tests/e2e/bidi.py). Standard library only.
"""
from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WsRefused(Exception):
    """The server answered the opening handshake with something other than 101 (the status line)."""


class WebSocketClient:
    def __init__(self, host: str, port: int, path: str, *, origin: str | None = None, netloc: str | None = None,
                 timeout: float = 10) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {netloc or f'{host}:{port}'}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if origin is not None:
            lines.append(f"Origin: {origin}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            more = self.sock.recv(4096)
            if not more:
                break
            head += more
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            self.sock.close()
            raise WsRefused(status.decode(errors="replace"))
        expected = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())
        assert b"Sec-WebSocket-Accept: " + expected in head
        self.buffer = head.split(b"\r\n\r\n", 1)[1]

    def send(self, payload: bytes, opcode: int = 0x2) -> None:
        """One final frame, masked as a client must."""
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        key = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")
        self.sock.sendall(header + mask + masked)

    def _exact(self, n: int) -> bytes:
        while len(self.buffer) < n:
            more = self.sock.recv(1 << 20)
            if not more:
                raise EOFError("WebSocket closed")
            self.buffer += more
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def recv(self) -> tuple[int, bytes]:
        """One frame: (opcode, payload); `fin` says whether it ends its message."""
        b0, b1 = self._exact(2)
        self.fin = bool(b0 & 0x80)
        assert not b1 & 0x80, "server frames are never masked"
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self._exact(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self._exact(8))
        return b0 & 0x0F, self._exact(n)

    def recv_text(self) -> str:
        """One text message, its continuation frames joined; pings and pongs skipped."""
        parts = []
        while True:
            opcode, payload = self.recv()
            if opcode == 0x8:
                raise EOFError("WebSocket closed by the server")
            if opcode in (0x0, 0x1):
                parts.append(payload)
                if self.fin:
                    return b"".join(parts).decode()

    def close(self) -> None:
        self.sock.close()
