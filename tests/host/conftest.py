"""Fixtures of the host tests."""
from __future__ import annotations

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
