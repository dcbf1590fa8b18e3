"""Non-blocking OS sockets driven by the engine's event loop, and the demand-driven receiver.

Design rules:
- Everything here runs on the engine's loop thread; nothing blocks.
- `OsSocket.close()` is synchronous and final: it removes the fd from the selector *before* closing it,
  and wakes the one waiting reader and the one waiting writer with `OsSocketClosed`. A cancelled waiter
  never touches the selector again once the socket is closed, so a new socket that reuses the fd
  number is never unregistered by mistake (asyncio's own `sock_recv` defers that cleanup, which races
  with a socket opened in the same loop iteration: read, disconnect, connect sent together).
- `shutdown(SHUT_RDWR)` before `close()`, so the peer sees the close at once.
- `Receiver` asks the stream for bytes only while there is demand: pull style (`demand(n)`, one chunk
  per call: chrome.socket's read) or push style (`run(n)` until `pause()`: chrome.sockets.*'s onReceive,
  read-ahead). On a plain `OsSocket` it reads from a reader callback that stays registered while there is
  demand (`OsSocket.watch`), not from a task that registers, waits on a future and unregisters per chunk:
  that was two epoll_ctl calls, a future, a task step and an extra loop turn for every 64 KiB streamed.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Awaitable
from typing import Any, Callable

log = logging.getLogger(__name__)


class OsSocketClosed(OSError):
    """The socket was closed locally while an operation was waiting on it."""

    def __init__(self) -> None:
        super().__init__(errno.EBADF, "socket closed")


class OsSocket:
    __slots__ = ("_read_waiter", "_watcher", "_write_waiter", "closed", "fd", "loop", "sock")

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.loop, self.sock, self.fd = loop, sock, sock.fileno()
        self.closed = False
        self._read_waiter: asyncio.Future | None = None
        self._write_waiter: asyncio.Future | None = None
        self._watcher: Callable[[], None] | None = None

    # -- readiness --------------------------------------------------------------------------------
    async def readable(self) -> None:
        if self.closed:
            raise OsSocketClosed()
        fut = self.loop.create_future()
        self._read_waiter = fut
        self.loop.add_reader(self.fd, self._wake, fut)
        try:
            await fut
        finally:
            if not self.closed:
                self.loop.remove_reader(self.fd)
            self._read_waiter = None

    async def writable(self) -> None:
        if self.closed:
            raise OsSocketClosed()
        fut = self.loop.create_future()
        self._write_waiter = fut
        self.loop.add_writer(self.fd, self._wake, fut)
        try:
            await fut
        finally:
            if not self.closed:
                self.loop.remove_writer(self.fd)
            self._write_waiter = None

    @staticmethod
    def _wake(fut: asyncio.Future) -> None:
        if not fut.done():
            fut.set_result(None)

    def watch(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever the socket is readable, until `unwatch()`. If the socket is closed
        meanwhile, `callback` runs once more (soon) and finds `recv_now` raising OsSocketClosed."""
        if self.closed:
            self.loop.call_soon(callback)
            return
        self._watcher = callback
        self.loop.add_reader(self.fd, callback)

    def unwatch(self) -> None:
        if self._watcher is not None:
            self._watcher = None
            if not self.closed:
                self.loop.remove_reader(self.fd)

    # -- stream operations ------------------------------------------------------------------------
    async def recv(self, size: int) -> bytes:
        """Up to `size` bytes: whatever is buffered once at least one byte (or EOF) is there."""
        while True:
            data = self.recv_now(size)
            if data is not None:
                return data
            await self.readable()

    def recv_now(self, size: int) -> bytes | None:
        """Up to `size` bytes buffered now (b"" at EOF), or None when there are none yet."""
        if self.closed:
            raise OsSocketClosed()
        try:
            first = self.sock.recv(size)
        except (BlockingIOError, InterruptedError):
            return None
        if not first or len(first) >= size:
            return first
        # Drain what else is already buffered, so one big read is one reply, not many.
        parts, got = [first], len(first)
        while got < size:
            try:
                more = self.sock.recv(size - got)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break  # reported by the next read
            if not more:
                break
            parts.append(more)
            got += len(more)
        return b"".join(parts)

    async def sendall(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = self.sock.send(view)
            except (BlockingIOError, InterruptedError):
                await self.writable()
                continue
            view = view[sent:]

    async def connect(self, address: Any) -> None:
        try:
            self.sock.connect(address)
            return
        except (BlockingIOError, InterruptedError):
            pass
        await self.writable()
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, errno.errorcode.get(err, "connect failed"))

    async def accept(self) -> tuple[socket.socket, Any]:
        while True:
            try:
                return self.sock.accept()
            except (BlockingIOError, InterruptedError):
                await self.readable()
            except OSError as exc:
                # The client went away between the SYN and accept(): wait for the next one, as
                # Chromium's TCPServerSocket does for these transient errors.
                if exc.errno not in (errno.ECONNABORTED, errno.EPROTO, errno.EPERM):
                    raise

    # -- end ----------------------------------------------------------------------------------------
    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.loop.remove_reader(self.fd)
        self.loop.remove_writer(self.fd)
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            self.loop.call_soon(watcher)  # it reads OsSocketClosed, as a waiting reader would
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # not connected (listener, UDP, failed connect)
        self.sock.close()
        for fut in (self._read_waiter, self._write_waiter):
            if fut is not None and not fut.done():
                fut.set_exception(OsSocketClosed())


class Receiver:
    """Reads a stream while someone wants bytes, and hands each chunk to `deliver`.

    `deliver(data)` gets every non-empty chunk; `finish(exc)` is called once at EOF (exc None) or on a
    read error, after which the receiver is spent. Pull style: `demand(n)` reads one chunk of at most
    n bytes. Push style (for chrome.sockets.*): `run(n)` keeps reading chunks of at most n bytes until
    `pause()`; `resume()` continues. `stop()` cancels a read in progress without calling anything.

    A read in progress is a task awaiting `recv` or, given the plain `os_socket` itself, the socket's reader
    callback (`_readable`). Both behave alike: the read that is waiting when `pause()` comes still delivers
    its chunk (Chrome's onReceive does too), and reading stops after it. A `deliver` that raises is logged and
    reading goes on as if it had returned.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, recv: Callable[[int], Awaitable[bytes]],
                 deliver: Callable[[bytes], None], finish: Callable[[BaseException | None], None],
                 os_socket: OsSocket | None = None) -> None:
        self._loop, self._recv, self._deliver, self._finish = loop, recv, deliver, finish
        self._os_socket = os_socket
        self._watching = False
        self._want = 0
        self._continuous = False
        self._paused = False
        self._task: asyncio.Task | None = None
        self._spent = False

    def demand(self, size: int) -> None:
        self._continuous, self._want = False, size
        self._kick()

    def run(self, size: int) -> None:
        self._continuous, self._want = True, size
        self._kick()

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        self._kick()

    @property
    def reading(self) -> bool:
        """A read is in progress: started and not finished, even if `pause()` came since (it still delivers)."""
        return self._task is not None or self._watching

    def stop(self) -> None:
        self._spent = True
        self._unwatch()
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _kick(self) -> None:
        if self._task is None and not self._watching and not self._spent and self._want > 0 and not self._paused:
            if self._os_socket is not None:
                self._watching = True
                self._os_socket.watch(self._readable)
            else:
                self._task = self._loop.create_task(self._pump())

    def _unwatch(self) -> None:
        if self._watching:
            self._watching = False
            self._os_socket.unwatch()

    def _readable(self) -> None:
        """The socket's reader callback: what `_pump` does, without a task, a future or a re-registration."""
        while self._watching:
            try:
                data = self._os_socket.recv_now(self._want)
            except Exception as exc:  # noqa: BLE001 - every read error ends the stream
                self._end(exc)
                return
            if data is None:
                return  # nothing buffered: still watching, the read stays in progress
            if not self._take(data):
                return
            if self._watching and (self._want <= 0 or self._paused or self._spent):
                self._unwatch()

    async def _pump(self) -> None:
        me = self._task
        try:
            while self._want > 0 and not self._paused and not self._spent:
                try:
                    data = await self._recv(self._want)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - every read error ends the stream
                    self._end(exc)
                    return
                if not self._take(data):
                    return
        finally:
            if self._task is me:
                self._task = None

    def _take(self, data: bytes) -> bool:
        """One read's result, from either form: the end of the stream (False), or a chunk to deliver."""
        if not data:
            self._end(None)
            return False
        if not self._continuous:
            self._want = 0
        try:
            self._deliver(data)
        except Exception:  # a bug behind `deliver`: said, and reading goes on as if it had been delivered
            log.exception("delivering %d bytes read failed", len(data))
        return True

    def _end(self, exc: BaseException | None) -> None:
        self._unwatch()
        self._spent, self._want = True, 0
        self._task = None
        self._finish(exc)
