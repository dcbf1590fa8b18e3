"""Minimal loopback servers for the browser tests: the HTTP-ish TCP echo and the UDP echo of
chrome-socket-semantics.md section 7. Threads, real sockets, 127.0.0.1 only.

tests/support/servers.py (being written separately) will offer richer ones; these stay tiny on purpose.
"""
from __future__ import annotations

import socket
import threading


class TcpEchoServer:
    """POST /echo with a Content-Length body -> one write of an HTTP response whose body is the request body."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.received: list[bytes] = []
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                try:
                    part = conn.recv(65536)
                except OSError:
                    return
                if not part:
                    return
                buf += part
                self.received.append(part)
                while b"\r\n\r\n" in buf:
                    head, rest = buf.split(b"\r\n\r\n", 1)
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value.strip())
                    if len(rest) < length:
                        break
                    body, buf = rest[:length], rest[length:]
                    reply = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (
                        len(body), body)
                    try:
                        conn.sendall(reply)
                    except OSError:
                        return

    def close(self) -> None:
        self._closed = True
        self.sock.close()


class UdpEchoServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.datagrams = 0
        self.log: list[str] = []
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                data, addr = self.sock.recvfrom(65536)
                self.datagrams += 1
                self.log.append(f"udp server: got {len(data)} bytes {data!r} from {addr[0]}:{addr[1]}, echoing")
                self.sock.sendto(data, addr)
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port that was free on 127.0.0.1 and ::1 a moment ago (closed again before returning)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET6, kind) as s6:
                s6.bind(("::1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


class StreamEchoServer:
    """A plain TCP echo server (RFC 862 style) that records what each connection sent."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.log: list[str] = []
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn, peer), daemon=True).start()

    def _serve(self, conn: socket.socket, peer: tuple) -> None:
        self.log.append(f"tcp server: connection from {peer[0]}:{peer[1]}")
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    self.log.append(f"tcp server: {peer[0]}:{peer[1]} closed")
                    return
                self.log.append(f"tcp server: got {len(data)} bytes {data!r}, echoing")
                conn.sendall(data)

    def close(self) -> None:
        self.sock.close()
