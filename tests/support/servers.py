"""Loopback servers for the engine tests (chrome-socket-semantics.md, sections 7 and 8), and host helpers.

Every server runs on its own daemon threads, records what reached it (so a permission test can prove
that nothing did), and stops on `close()` / `with`.
"""
from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path
from typing import Any, Callable

from tests.support.hostclient import DEFAULT_ORIGIN, HostClient

ALL_RULES = ["tcp-connect", "tcp-listen", "udp-bind", "udp-send-to", "udp-multicast-membership"]

#: The payloads of Chromium's background.js.
ECHO_BODY = b"0100000005320000005"
HTTP_REQUEST = b"POST /echo HTTP/1.1\r\nContent-Length: 19\r\n\r\n" + ECHO_BODY


def start_host(config_dir: Path, rules: list[str] | None = None, **env: str) -> HostClient:
    """A real resocket-host process whose test origin is granted `rules` (all of chrome.socket's by default)."""
    from resocket.grants import GrantStore

    rules = ALL_RULES if rules is None else rules
    if rules:
        GrantStore.open(config_dir).grant(DEFAULT_ORIGIN, rules)
    full_env = {"RESOCKET_CONFIG_DIR": str(config_dir)}
    full_env.update(env)
    return HostClient(env=full_env)


class _Server:
    def __init__(self, family: int, kind: int, host: str) -> None:
        self.sock = socket.socket(family, kind)
        self.sock.bind((host, 0))
        self.port: int = self.sock.getsockname()[1]
        self.host = host
        self.closed = threading.Event()
        self._threads: list[threading.Thread] = []

    def _spawn(self, target: Callable[..., Any], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def close(self) -> None:
        self.closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for thread in self._threads:
            thread.join(2)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TcpServer(_Server):
    """Accepts connections and runs `serve(conn)` for each; counts them in `accepted`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__(family, socket.SOCK_STREAM, host)
        self.sock.listen(16)
        self.accepted = 0
        self.conns: list[socket.socket] = []
        self._spawn(self._accept_loop)

    def _accept_loop(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)
            self._spawn(self._serve_guarded, conn)

    def _serve_guarded(self, conn: socket.socket) -> None:
        try:
            self.serve(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def serve(self, conn: socket.socket) -> None:
        """Echo until EOF."""
        while True:
            data = conn.recv(1 << 16)
            if not data:
                return
            conn.sendall(data)

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        super().close()


class HttpEchoServer(TcpServer):
    """Like Chromium's EmbeddedTestServer POST /echo: the body after a header, in one write."""

    def serve(self, conn: socket.socket) -> None:
        while True:
            request = b""
            while b"\r\n\r\n" not in request:
                part = conn.recv(4096)
                if not part:
                    return
                request += part
            head, body = request.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(body) < length:
                part = conn.recv(4096)
                if not part:
                    return
                body += part
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                         % (length, body[:length]))


class UdpEchoServer(_Server):
    """Echoes each datagram to its sender; keeps every (data, address) in `received`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__(family, socket.SOCK_DGRAM, host)
        self.received: list[tuple[bytes, Any]] = []
        self._spawn(self._loop)

    def _loop(self) -> None:
        while not self.closed.is_set():
            try:
                data, address = self.sock.recvfrom(1 << 16)
            except OSError:
                return
            if address is None or self.closed.is_set():
                return  # shut down
            self.received.append((data, address))
            try:
                self.sock.sendto(data, address)
            except OSError:
                pass


class TlsEchoServer(TcpServer):
    """A TLS echo server presenting `cert`; handshake failures are recorded, not raised."""

    def __init__(self, cert: Path, key: Path, host: str = "127.0.0.1",
                 versions: tuple[ssl.TLSVersion, ssl.TLSVersion] | None = None) -> None:
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(cert), str(key))
        if versions is not None:
            self.ctx.minimum_version, self.ctx.maximum_version = versions
        self.versions_seen: list[str | None] = []
        super().__init__(host)

    def serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            return
        self.versions_seen.append(tls.version())
        with tls:
            while True:
                data = tls.recv(1 << 16)
                if not data:
                    return
                tls.sendall(data)
