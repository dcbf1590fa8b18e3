"""TLS for secure(): a client TLS stream over an OsSocket, with Chrome's version options.

Design rules:
- ssl.SSLObject over memory BIOs: the engine's loop does the socket I/O, OpenSSL only transforms
  bytes, so a handshake or a read never blocks the loop. All bytes OpenSSL wants sent go out under one
  lock, in order, whether a write or a read (TLS 1.3 tickets, key updates) produced them.
- Verification is ssl.create_default_context(): the system trust store, which OpenSSL locates through
  `SSL_CERT_FILE` / `SSL_CERT_DIR` when set; hostname checking on; no way to turn it off (Chrome has none).
- Versions (docs/chrome-behaviour.md 2, secure step 6): min "tls1"/"tls1.1" are raised to TLS 1.2, an
  unknown min or any max other than "tls1.2"/"tls1.3" is ignored; defaults TLS 1.2 .. TLS 1.3.
"""
from __future__ import annotations

import asyncio
import ssl
from typing import Any

from resocket.engine.ossocket import OsSocket

#: Plaintext bytes handed to OpenSSL per step of a large write (keeps the outgoing BIO small).
WRITE_STEP = 256 * 1024
#: Ciphertext bytes read from the socket per step.
RECV_STEP = 256 * 1024

_MIN_VERSIONS = {"tls1": ssl.TLSVersion.TLSv1_2, "tls1.1": ssl.TLSVersion.TLSv1_2,
                 "tls1.2": ssl.TLSVersion.TLSv1_2, "tls1.3": ssl.TLSVersion.TLSv1_3}
_MAX_VERSIONS = {"tls1.2": ssl.TLSVersion.TLSv1_2, "tls1.3": ssl.TLSVersion.TLSv1_3}


def tls_versions(options: Any) -> tuple[ssl.TLSVersion, ssl.TLSVersion]:
    versions = options.get("tlsVersion") if isinstance(options, dict) else None
    if not isinstance(versions, dict):
        versions = {}
    # Only strings name versions (a client that skips the renderer's type checks may send anything: an object
    # or array here once made the lookup raise, and the call end as an `internal` error).
    low_name, high_name = versions.get("min"), versions.get("max")
    low = _MIN_VERSIONS.get(low_name, ssl.TLSVersion.TLSv1_2) if isinstance(low_name, str) else ssl.TLSVersion.TLSv1_2
    high = _MAX_VERSIONS.get(high_name, ssl.TLSVersion.TLSv1_3) if isinstance(high_name, str) else ssl.TLSVersion.TLSv1_3
    return low, high


def make_context(low: ssl.TLSVersion, high: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.minimum_version = low
    ctx.maximum_version = high
    return ctx


class TlsStream:
    def __init__(self, os_socket: OsSocket, ctx: ssl.SSLContext, hostname: str) -> None:
        self.os_socket = os_socket
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._obj = ctx.wrap_bio(self._in, self._out, server_side=False, server_hostname=hostname)
        self._send_lock = asyncio.Lock()
        self._eof = False

    async def _flush(self) -> None:
        async with self._send_lock:
            data = self._out.read()
            if data:
                await self.os_socket.sendall(data)

    async def _fill(self) -> None:
        data = await self.os_socket.recv(RECV_STEP)
        if data:
            self._in.write(data)
        else:
            self._eof = True
            self._in.write_eof()

    async def handshake(self) -> None:
        while True:
            try:
                self._obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self._flush()
                await self._fill()
        await self._flush()

    async def recv(self, size: int) -> bytes:
        """Up to `size` plaintext bytes; b"" at EOF (close_notify or a plain TCP close)."""
        while True:
            try:
                first = self._obj.read(size)
                break
            except ssl.SSLWantReadError:
                await self._flush()
                if self._eof:
                    return b""
                await self._fill()
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""
        parts, got = [first], len(first)
        while got < size:  # take whatever else is already decrypted or buffered
            try:
                more = self._obj.read(size - got)
            except ssl.SSLError:
                break
            if not more:
                break
            parts.append(more)
            got += len(more)
        if self._out.pending:
            await self._flush()
        return b"".join(parts) if len(parts) > 1 else first

    async def sendall(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            step = view[:WRITE_STEP]
            done = 0
            while done < len(step):
                done += self._obj.write(step[done:])
            view = view[len(step):]
            await self._flush()

    def version(self) -> str | None:
        return self._obj.version()
