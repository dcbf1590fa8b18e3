"""Fault tests: a host per test whose threads and descriptors are counted before and after.

`host` yields a fresh resocket-host (all chrome.socket rules granted) whose thread and descriptor
counts are taken once the engine runs; when the test is done (and has destroyed its sockets) the counts
must come back to exactly that: nothing a fault touched may be left behind.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from faultkit import HostClient, resources, settled, start_host


@pytest.fixture
def host(tmp_path: Path) -> Iterator[HostClient]:
    if not Path("/proc/self/task").exists():
        pytest.skip("counting threads and descriptors needs /proc")
    client = start_host(tmp_path / "config")
    client.call("getInfo", socketId=10**9)  # the engine and its loop are up
    baseline = resources(client.proc.pid)
    try:
        yield client
        assert settled(client, baseline) == baseline, "threads/descriptors left behind (threads, fds)"
    finally:
        client.close()
