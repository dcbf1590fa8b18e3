"""Fixtures for the real-browser tests: loopback servers, a Chromium per test module, artifacts of failures.

Chromium runs inside the private network namespace that the whole pytest run already uses (tests/netns.sh).
On a failing test the Chromium log and screenshots of the open pages go to test-artifacts/<test name>/.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import HttpEchoServer, UdpEchoServer, closed_port, free_port

from .cdp import CHROMIUM, Browser, Session
from .resocket_side import ResocketProfile

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.path.exists(CHROMIUM):
        skip = pytest.mark.skip(reason=f"{CHROMIUM} missing: run `make test` (it installs Debian's chromium)")
        for item in items:
            if "e2e" in item.nodeid.split("/"):
                item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


class BrowserPool:
    """Browsers opened by one test module, with the sessions worth a screenshot when a test fails."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.browsers: list[Browser] = []
        self.pages: list[Session] = []
        self.host_logs: list[Path] = []

    def launch(self, name: str, user_data_dir: Path | None = None, **kwargs: object) -> Browser:
        browser = Browser(user_data_dir or self.root / name, **kwargs)  # type: ignore[arg-type]
        self.browsers.append(browser)
        return browser

    def launch_resocket(self, name: str, profile: ResocketProfile, extensions: list[Path],
                        env: dict[str, str] | None = None, **kwargs: object) -> Browser:
        """A browser whose resocket host is `profile`'s (its grants, its log kept with a failure's artifacts)."""
        self.host_logs.append(profile.host_log)
        return self.launch(name, profile.user_data_dir, extensions=extensions, env={**profile.env, **(env or {})},
                           **kwargs)

    def open_page(self, browser: Browser, url: str, api: str = "socket") -> Session:
        """`url` in a new tab, once its `chrome.<api>` is there (the shim of a page, or Chrome's in an app)."""
        page = browser.new_page(url, ready=f"typeof chrome === 'object' && typeof chrome.{api} === 'object'")
        self.pages.append(page)
        return page

    def save(self, test_name: str) -> None:
        dest = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
        if dest.exists():
            shutil.rmtree(dest)
        for i, b in enumerate(self.browsers):
            b.save_artifacts(dest / f"browser{i}", [p for p in self.pages if p.browser is b])
        for i, log in enumerate(self.host_logs):
            if log.exists():
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy(log, dest / f"host{i}.log")

    def close(self) -> None:
        for b in self.browsers:
            b.close()


@pytest.fixture(scope="module")
def browsers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserPool]:
    pool = BrowserPool(tmp_path_factory.mktemp("chromium"))
    yield pool
    pool.close()


@pytest.fixture(autouse=True)
def _keep_artifacts_of_failures(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    failed = any(getattr(getattr(request.node, f"rep_{when}", None), "failed", False)
                 for when in ("setup", "call"))
    if failed and "browsers" in request.fixturenames:
        request.getfixturevalue("browsers").save(request.node.nodeid)


@pytest.fixture(scope="module")
def echo_servers() -> Iterator[tuple[HttpEchoServer, UdpEchoServer]]:
    tcp, udp = HttpEchoServer(), UdpEchoServer()
    yield tcp, udp
    tcp.close()
    udp.close()


@pytest.fixture(scope="module")
def scenario_ports(echo_servers: tuple[HttpEchoServer, UdpEchoServer]) -> dict:
    tcp, udp = echo_servers
    return {"tcp_port": tcp.port, "udp_port": udp.port, "listen_port": free_port(),
            "mcast_port": free_port(socket.SOCK_DGRAM), "closed": closed_port()}
