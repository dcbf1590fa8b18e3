"""The loopback servers of every test (host, e2e) and of `make demo`: docs/chrome-behaviour.md sections 7
and 8, plus static HTTP and HTTPS pages for the browser tests; and host helpers.

Every server runs on its own daemon threads, records what reached it (so a permission test can prove
that nothing did) and keeps a readable `log` of it (the demo prints it), and stops on `close()` / `with`.
"""
from __future__ import annotations

import http.server
import random
import socket
import ssl
import threading
from pathlib import Path
from typing import Any, Callable

from tests.support.hostclient import DEFAULT_ORIGIN, HostClient

ALL_RULES = ["tcp-connect", "tcp-listen", "udp-bind", "udp-send-to", "udp-multicast-membership"]

#: Ports the harness picks for its servers (and free_port) come from below Linux's ephemeral range
#: (net.ipv4.ip_local_port_range, 32768-60999 by default), so a port the OS picks for a client socket can
#: never equal one of them: transcripts name harness ports ("$udpPort") and write the rest "<ephemeral>", and a
#: client's local port that happened to equal a server's port of the other protocol once broke a golden.
NAMED_PORTS = range(20000, 32768)


def bind_named_port(sock: socket.socket, host: str) -> int:
    """Bind `sock` to a free port of NAMED_PORTS on `host`; return it."""
    for port in random.sample(NAMED_PORTS, 200):
        try:
            sock.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError(f"no free port in {NAMED_PORTS}")


#: The payloads of Chromium's background.js.
ECHO_BODY = b"0100000005320000005"
HTTP_REQUEST = b"POST /echo HTTP/1.1\r\nContent-Length: 19\r\n\r\n" + ECHO_BODY


def start_host(config_dir: Path, rules: list[str] | None = None, wrapper: list[str] | None = None,
               **env: str) -> HostClient:
    """A real resocket-host process whose test origin is granted `rules` (all of chrome.socket's by default)."""
    from resocket.grants import GrantStore

    rules = ALL_RULES if rules is None else rules
    if rules:
        GrantStore.open(config_dir).grant(DEFAULT_ORIGIN, rules)
    full_env = {"RESOCKET_CONFIG_DIR": str(config_dir)}
    full_env.update(env)
    return HostClient(env=full_env, wrapper=wrapper)


class _Server:
    def __init__(self, family: int, kind: int, host: str) -> None:
        self.sock = socket.socket(family, kind)
        self.port: int = bind_named_port(self.sock, host)
        self.host = host
        self.closed = threading.Event()
        self.log: list[str] = []
        self._threads: list[threading.Thread] = []

    def note(self, line: str) -> None:
        self.log.append(f"{type(self).__name__} :{self.port}: {line}")

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
    """Accepts connections and runs `serve(conn)` for each: an echo until EOF (RFC 862) unless overridden.

    `accepted` counts connections (`connected` is set at the first), `received` is every byte that arrived on
    any of them, and `peer_closed` is set when a peer has closed its side (EOF).
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__(family, socket.SOCK_STREAM, host)
        self.sock.listen(16)
        self.accepted = 0
        self.connected = threading.Event()
        self.peer_closed = threading.Event()
        self.received = bytearray()
        self.conns: list[socket.socket] = []
        self._spawn(self._accept_loop)

    def _accept_loop(self) -> None:
        while not self.closed.is_set():
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)
            self.note(f"connection from {peer[0]}:{peer[1]}")
            self.connected.set()
            self._spawn(self._serve_guarded, conn)

    def _serve_guarded(self, conn: socket.socket) -> None:
        try:
            self.serve(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def recv(self, conn: socket.socket, size: int = 1 << 16) -> bytes:
        """`conn.recv`, recorded in `received` and `log`; at EOF, `peer_closed` is set."""
        data = conn.recv(size)
        if data:
            self.received += data
            self.note(f"got {len(data)} bytes {data[:80]!r}")
        else:
            self.note("peer closed")
            self.peer_closed.set()
        return data

    def serve(self, conn: socket.socket) -> None:
        """Echo until EOF."""
        while True:
            data = self.recv(conn)
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
        buf = b""  # requests may arrive pipelined, several in one segment
        while True:
            while b"\r\n\r\n" not in buf:
                part = self.recv(conn)
                if not part:
                    return
                buf += part
            head, body = buf.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(body) < length:
                part = self.recv(conn)
                if not part:
                    return
                body += part
            body, buf = body[:length], body[length:]
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                         % (length, body))


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
            self.note(f"got {len(data)} bytes {data[:80]!r} from {address[0]}:{address[1]}, echoing")
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
        self.sni_seen: list[str | None] = []  # the server name each client sent (None: no SNI)
        self.ctx.sni_callback = lambda _sock, name, _ctx: self.sni_seen.append(name)
        super().__init__(host)

    def serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.note(f"handshake failed: {exc}")
            return
        self.versions_seen.append(tls.version())
        with tls:
            self.respond(tls)

    def respond(self, tls: ssl.SSLSocket) -> None:
        """Echo until EOF."""
        while True:
            data = self.recv(tls)  # type: ignore[arg-type]
            if not data:
                return
            tls.sendall(data)


class HttpsPageServer(TlsEchoServer):
    """HTTPS/1.0: reads one request (kept in `requests`), answers `BODY` with 200 and closes."""

    BODY = b"the secret page\n"

    def __init__(self, cert: Path, key: Path, host: str = "127.0.0.1") -> None:
        self.requests: list[bytes] = []
        super().__init__(cert, key, host)

    def respond(self, tls: ssl.SSLSocket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            part = self.recv(tls)  # type: ignore[arg-type]
            if not part:
                break
            request += part
        self.requests.append(request)
        tls.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(self.BODY), self.BODY))


class StaticServer:
    """Serves a directory over HTTP on 127.0.0.1 (the granted web pages of the browser tests and the demo)."""

    def __init__(self, directory: Path, host: str = "127.0.0.1") -> None:
        root = str(directory)

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=root, **kwargs)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.port: int = self.httpd.server_address[1]
        self.origin = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    @classmethod
    def of_pages(cls, directory: Path, pages: dict[str, str]) -> StaticServer:
        """Writes `pages` (file name -> text) into `directory`, made here, and serves it."""
        directory.mkdir(parents=True)
        for name, text in pages.items():
            (directory / name).write_text(text)
        return cls(directory)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port that was free on both 127.0.0.1 and ::1 a moment ago (closed again before returning)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            port = bind_named_port(s, "127.0.0.1")
        try:
            with socket.socket(socket.AF_INET6, kind) as s6:
                s6.bind(("::1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


def closed_port() -> int:
    """A TCP port on 127.0.0.1 with nothing listening (connect gets ECONNREFUSED)."""
    return free_port()
