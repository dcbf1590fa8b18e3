"""Loopback TCP servers for the benchmarks, run in their own process so their work never shares a GIL
with the client being measured.

    python -m bench.echoserver      -> prints "<echo port> <discard port>" on stdout, serves until stdin closes

- echo: every byte read is written back (asyncio protocol; write buffering absorbs bursts).
- discard: every byte read is dropped (write->callback latency without echo traffic on the channel).
"""
from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import sys
import threading


class _Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[attr-defined]


class _Discard(asyncio.Protocol):
    def data_received(self, data: bytes) -> None:
        pass


def raise_fd_limit(want: int = 8192) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    echo = await loop.create_server(_Echo, "127.0.0.1", 0, backlog=2048)
    discard = await loop.create_server(_Discard, "127.0.0.1", 0, backlog=2048)
    print(echo.sockets[0].getsockname()[1], discard.sockets[0].getsockname()[1], flush=True)
    stop = loop.create_future()
    # stdin EOF (the parent went away or closed us) ends the server.
    threading.Thread(target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(stop.set_result, None)),
                     daemon=True).start()
    await stop


def main() -> None:
    raise_fd_limit()
    asyncio.run(_serve())


class EchoServers:
    """The server process seen from the benchmark: `.echo_port`, `.discard_port`, `.close()`."""

    def __init__(self) -> None:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.echoserver"], cwd=root,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if len(line) != 2:
            self.close()
            raise RuntimeError("echo server did not start")
        self.echo_port, self.discard_port = int(line[0]), int(line[1])

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> EchoServers:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    main()
