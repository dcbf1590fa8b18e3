"""Flow control of chrome.sockets receive through a real resocket-host (docs/protocol.md, "Flow control"):
a paused socket stops reading from the OS, an unacknowledged window stops it too, and nothing is lost."""
from __future__ import annotations

import base64
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.host.sockets_support import Events
from tests.support.hostclient import HostClient
from tests.support.servers import start_host

WINDOW = 8  # sockets_api.WINDOW
FLOOD = 32 * 1024 * 1024  # several times what loopback's socket buffers hold


@pytest.fixture()
def host(tmp_path: Path) -> HostClient:
    client = start_host(tmp_path, ["tcp-listen", "tcp-connect"])
    yield client
    client.close()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def accepted_from_raw_peer(host: HostClient, events: Events) -> tuple[int, socket.socket]:
    server = host.call("tcpServer.create").value["socketId"]
    assert host.call("tcpServer.listen", socketId=server, address="127.0.0.1", port=0).args == [0]
    port = host.call("tcpServer.getInfo", socketId=server).value["localPort"]
    peer = socket.create_connection(("127.0.0.1", port), timeout=30)
    return events.wait("tcpServer.onAccept", server)["clientSocketId"], peer


class Flooder:
    """Sends `total` bytes of a known pattern; `sent` says how far it got."""

    def __init__(self, sock: socket.socket, total: int) -> None:
        self.sock, self.total, self.sent = sock, total, 0
        self.pattern = bytes(range(251)) * 1045  # 262,295 bytes; 251 is prime, so offsets show up
        threading.Thread(target=self._run, daemon=True).start()

    def expected(self, n: int) -> bytes:
        reps = n // len(self.pattern) + 1
        return (self.pattern * reps)[:n]

    def _run(self) -> None:
        try:
            while self.sent < self.total:
                n = self.sock.send(self.pattern[: self.total - self.sent])
                self.sent += n
        except OSError:
            pass

    def stalled(self, quiet: float = 0.5, timeout: float = 30) -> int:
        """Wait until `sent` stops moving (the peer is blocked by TCP flow control); return it."""
        deadline = time.monotonic() + timeout
        last = -1
        while time.monotonic() < deadline:
            if self.sent == last:
                return last
            last = self.sent
            time.sleep(quiet)
        raise AssertionError("the peer never stalled: the host kept reading")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads RSS from /proc")
def test_paused_socket_with_a_flooding_peer_keeps_host_memory_bounded_and_then_delivers_every_byte(
        host: HostClient) -> None:
    events = Events(host)
    accepted, peer = accepted_from_raw_peer(host, events)  # accepted sockets arrive paused
    before = rss_kib(host.proc.pid)
    flood = Flooder(peer, FLOOD)
    stuck_at = flood.stalled()
    assert stuck_at < FLOOD  # the peer is blocked: the host is not reading
    assert rss_kib(host.proc.pid) - before < 16 * 1024  # the host holds no flood in memory
    host.call("tcp.update", socketId=accepted, properties={"bufferSize": 65536})
    host.call("tcp.setPaused", socketId=accepted, paused=False)
    got = events.received("tcp.onReceive", accepted, FLOOD, timeout=120)
    assert len(got) == FLOOD and got == flood.expected(FLOOD)
    peer.close()


def test_unacknowledged_events_stop_reading_after_the_window_until_acked(host: HostClient) -> None:
    events = Events(host, auto_ack=False)
    accepted, peer = accepted_from_raw_peer(host, events)
    host.call("sockets.ack", api="tcpServer", socketId=1, count=1)
    host.call("tcp.update", socketId=accepted, properties={"bufferSize": 1000})
    flood = Flooder(peer, 4 * 1024 * 1024)
    host.call("tcp.setPaused", socketId=accepted, paused=False)
    flood.stalled()
    events.drain()
    first = events.untaken("tcp.onReceive", accepted)
    assert len(first) == WINDOW
    assert all(len(base64.b64decode(e["data"])) <= 1000 for e in first)
    host.call("sockets.ack", api="tcp", socketId=accepted, count=3)
    for _ in range(WINDOW + 3):
        events.wait("tcp.onReceive", accepted)
    events.drain()
    assert events.untaken("tcp.onReceive", accepted) == []  # exactly 3 more: the window is full again
    peer.close()
