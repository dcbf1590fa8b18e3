"""Fixtures of the host tests."""
from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.support.certs import Pki
from tests.support.hostclient import HostClient
from tests.support.servers import start_host


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[HostClient]:
    """One real resocket-host per module, every chrome.socket rule granted, trusting the test CA."""
    client = start_host(tmp_path_factory.mktemp("cfg"), SSL_CERT_FILE=str(pki.ca))
    yield client
    client.close()


@pytest.fixture()
def peer() -> Iterator[socket.socket]:
    """A listening socket on loopback; tests accept the host's connection from it (`connect`)."""
    srv = socket.create_server(("127.0.0.1", 0))
    yield srv
    srv.close()


def connect(host: HostClient, srv: socket.socket) -> tuple[int, socket.socket]:
    """A chrome.socket TCP socket of `host` connected to `srv`: (its id, the peer's end)."""
    sid = host.call("create", type="tcp").value["socketId"]
    pending = host.start("connect", socketId=sid, hostname="127.0.0.1", port=srv.getsockname()[1])
    conn, _ = srv.accept()
    assert pending.result().args == [0]
    return sid, conn
