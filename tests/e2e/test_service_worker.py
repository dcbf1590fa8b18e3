"""The extension's service worker in Debian's Chromium: it outlives its idle timeout while a page's socket is
open, and closing the page closes the host and its sockets.

Chromium stops an idle extension service worker after 30 s and has no command-line switch to shorten that
(its own browser tests swap the tick clock), so this test really waits past it. To show the wait is long
enough, a second browser with the same extension and no page, started after the page's last message, is
watched until Chromium stops its idle worker; only then is the first browser checked. No assertion is about time; the waits only have generous limits.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.support.servers import TcpServer

from .cdp import Browser, Session
from .conftest import BrowserPool
from .resocket_side import EXTENSION_ID, ResocketProfile, StaticServer, copy_extension, extension_available

pytestmark = pytest.mark.skipif(not extension_available(), reason="extension/ not there yet")

WORKER_URL = f"chrome-extension://{EXTENSION_ID}/service-worker.js"
PAGE = '<!DOCTYPE html><meta charset="utf-8"><title>socket page</title><p>socket page</p>\n'

# In the page: open a TCP socket to the server, and send/receive lines on it.
PAGE_HELPERS = """
window.call = (name, ...args) => new Promise((resolve) => chrome.socket[name](...args, (...res) => {
  const le = chrome.runtime.lastError;
  resolve({res, lastError: le ? le.message : null});
}));
window.openSocket = async (port) => {
  const c = await call('create', 'tcp', {});
  window.sid = c.res[0].socketId;
  return call('connect', window.sid, '127.0.0.1', port);
};
window.roundTrip = async (text) => {
  const w = await call('write', window.sid, new TextEncoder().encode(text).buffer);
  if (w.lastError) return {write: w};
  let got = '';
  while (!got.endsWith('\\n')) {
    const r = await call('read', window.sid, 4096);
    if (r.lastError || r.res[0].resultCode <= 0) return {write: w, read: r, got};
    got += new TextDecoder().decode(r.res[0].data);
  }
  return got;
};
"""


def worker_running(browser: Browser) -> bool:
    return any(t["type"] == "service_worker" and t["url"] == WORKER_URL for t in browser.targets())


def wait_until(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.2)


def host_pids_for(log_text: str, origin: str) -> set[int]:
    """Pids of the hosts whose hello named `origin` (host log lines are `resocket-host[PID] ... for ORIGIN;`)."""
    return {int(m.group(1)) for m in re.finditer(
        r"resocket-host\[(\d+)\] INFO resocket\.client\.serve: hello from \S+ for " + re.escape(origin) + ";", log_text)}


def process_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class SocketPage(NamedTuple):
    browser: Browser
    page: Session
    profile: ResocketProfile
    echo: TcpServer
    origin: str


@contextmanager
def socket_page(browsers: BrowserPool, root: Path, name: str, **more_pages: str) -> Iterator[SocketPage]:
    """A browser with the extension and a page of a web origin granted tcp-connect to a TCP echo server,
    PAGE_HELPERS loaded; `more_pages` (file name -> HTML) are served beside it."""
    web = StaticServer.of_pages(root / "www", {"index.html": PAGE, **more_pages})
    echo = TcpServer()
    try:
        profile = ResocketProfile(root / "profile")
        profile.grant(web.origin, [f"tcp-connect:127.0.0.1:{echo.port}"])
        browser = browsers.launch_resocket(name, profile, [copy_extension(root / "ext")])
        page = browsers.open_page(browser, f"{web.origin}/")
        page.evaluate(PAGE_HELPERS)
        yield SocketPage(browser, page, profile, echo, web.origin)
    finally:
        echo.close()
        web.close()


def test_socket_outlives_the_worker_idle_timeout_and_closing_the_tab_ends_the_host(
        browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("sw")
    with socket_page(browsers, root, "sw") as (browser, page, profile, echo, origin):
        connected = page.evaluate(f"openSocket({echo.port})")
        assert connected == {"res": [0], "lastError": None}
        assert echo.connected.wait(10)
        assert page.evaluate("roundTrip('before the idle timeout\\n')") == "before the idle timeout\n"
        assert worker_running(browser)
        # The control, started after the page's last message: the same extension with no page using it.
        idle = browsers.launch("sw-idle", root / "idle-udd", extensions=[copy_extension(root / "ext-idle")])
        wait_until(lambda: worker_running(idle), 30, "the idle browser's worker to start")

        # The control's worker went idle after the page's worker last did: once Chromium has stopped it (its
        # idle timeout, 30 s, checked periodically), the page's worker has been idle past the timeout too.
        wait_until(lambda: not worker_running(idle), 90, "Chromium to stop the idle control worker")
        assert worker_running(browser), "the worker was stopped although a page's socket is open"
        assert page.evaluate("roundTrip('after the idle timeout\\n')") == "after the idle timeout\n"
        assert not echo.peer_closed.is_set()

        pids = host_pids_for(profile.host_log_text(), origin)
        assert len(pids) == 1, profile.host_log_text()
        [pid] = pids
        assert process_alive(pid)

        browser.send("Target.closeTarget", {"targetId": page.target_id})
        browsers.pages.remove(page)
        assert echo.peer_closed.wait(15), "the server never saw the connection close after the tab closed"
        wait_until(lambda: not process_alive(pid), 15, f"resocket-host {pid} of the closed page to exit")



def test_navigating_away_closes_the_pages_connection_and_host(
        browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Leaving the page (even to a page of the same origin, which could keep the old one in the back/forward
    cache) ends its sockets and its host, as closing the tab does."""
    root = tmp_path_factory.mktemp("sw-nav")
    next_page = PAGE.replace("socket page", "next page")
    with socket_page(browsers, root, "sw-nav", **{"next.html": next_page}) as (_, page, profile, echo, origin):
        assert page.evaluate(f"openSocket({echo.port})") == {"res": [0], "lastError": None}
        assert page.evaluate("roundTrip('hello\\n')") == "hello\n"
        [pid] = host_pids_for(profile.host_log_text(), origin)

        page.send("Page.navigate", {"url": f"{origin}/next.html"})
        page.wait_for("document.title === 'next page'")
        assert echo.peer_closed.wait(15), "the server never saw the connection close after the page was left"
        wait_until(lambda: not process_alive(pid), 15, f"resocket-host {pid} of the left page to exit")


def test_worker_stopped_anyway_fails_pending_calls_closes_sockets_and_the_next_call_reconnects(
        browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory) -> None:
    """docs/extension.md: if the worker is stopped anyway (update, crash; here DevTools stops it), both ports
    close: the page's pending calls fail with the reason, its sockets close, and the next call gets a new host."""
    root = tmp_path_factory.mktemp("sw-stop")
    with socket_page(browsers, root, "sw-stop") as (browser, page, profile, echo, origin):
        assert page.evaluate(f"openSocket({echo.port})") == {"res": [0], "lastError": None}
        [pid] = host_pids_for(profile.host_log_text(), origin)
        page.evaluate("window.pendingRead = call('read', window.sid, 4096); true")

        page.send("ServiceWorker.enable")
        page.send("ServiceWorker.stopAllWorkers")

        pending = page.evaluate("window.pendingRead.then((r) => ({...r, res: [{...r.res[0], data: r.res[0].data.byteLength}]}))")
        assert pending == {"res": [{"resultCode": -1, "data": 0}], "lastError":
                           "resocket host not available (resocket service worker stopped): run `resocket doctor`; "
                           "the sockets of that host are closed"}
        assert echo.peer_closed.wait(15), "the socket of the stopped worker's host stayed open"
        wait_until(lambda: not process_alive(pid), 15, f"resocket-host {pid} to exit")
        # The next call starts the worker and a new host; the old socket is gone, as Chrome says for unknown ids.
        assert page.evaluate("call('getInfo', window.sid)") == {"res": [], "lastError": "Socket not found"}
        assert worker_running(browser)
        assert len(host_pids_for(profile.host_log_text(), origin) - {pid}) == 1
