"""Helpers of the fault and load tests: resource counts of the host process, peers that watch for close."""
from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.hostclient import HostClient, b64
from tests.support.servers import closed_port, start_host

__all__ = ["TIMEOUT", "HostClient", "b64", "closed_port", "peer_sees_close", "resources", "settled", "start_host"]

#: Only to avoid hangs; nothing here is timed.
TIMEOUT = 10


def resources(pid: int) -> tuple[int, int]:
    """(threads, open descriptors) of a live process."""
    return len(os.listdir(f"/proc/{pid}/task")), len(os.listdir(f"/proc/{pid}/fd"))


def settled(host: HostClient, baseline: tuple[int, int]) -> tuple[int, int]:
    """The host's counts once they stop moving back towards `baseline` (a worker may still be exiting)."""
    host.call("getInfo", socketId=10**9)  # every earlier request has been applied
    deadline = time.monotonic() + TIMEOUT
    now = resources(host.proc.pid)
    while now != baseline and time.monotonic() < deadline:
        time.sleep(0.05)
        now = resources(host.proc.pid)
    return now


def peer_sees_close(conn: socket.socket) -> bool:
    """True when the peer end reads EOF or a reset (waits up to TIMEOUT), draining anything before it."""
    conn.settimeout(TIMEOUT)
    try:
        while conn.recv(1 << 16):
            pass
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
    return True
