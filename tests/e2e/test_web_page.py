"""chrome.socket in a web page through the resocket extension: a granted origin behaves as Chrome did
for a Chrome App (same transcript as the pinned Chrome one); an origin with no grant is refused with
Chrome's permission error and no connection is ever made."""
from __future__ import annotations

import json

import pytest

from tests.support.servers import HttpEchoServer

from .conftest import BrowserPool
from .oracle import make_env, run_scenario
from .resocket_side import ALL_RULES, ResocketProfile, StaticServer, copy_extension, extension_available
from .test_chrome_oracle import GOLDEN, dump_transcript

pytestmark = pytest.mark.skipif(not extension_available(),
                                reason="extension/manifest.json or extension/chrome-socket.js not there yet")

PAGE = """<!DOCTYPE html><meta charset="utf-8"><title>a web page</title>
<p id="status">loaded</p>
<script>document.getElementById("status").textContent = typeof chrome.socket;</script>
"""


# Records every pageshow: [false, true] means the page was shown, left, and restored from the bfcache.
BFCACHE_PAGE = """<!DOCTYPE html><meta charset="utf-8"><title>bfcache</title>
<script>window.shows = []; addEventListener("pageshow", (e) => window.shows.push(e.persisted));</script>
"""

ECHO = """(port) => new Promise((resolve) => {
  const request = "POST /echo HTTP/1.1\\r\\nContent-Length: 2\\r\\n\\r\\nhi";
  chrome.socket.create("tcp", {}, (c) => chrome.socket.connect(c.socketId, "127.0.0.1", port, (r) => {
    if (r !== 0) { resolve({connect: r, lastError: chrome.runtime.lastError.message}); return; }
    chrome.socket.write(c.socketId, new TextEncoder().encode(request).buffer, () => {
      chrome.socket.read(c.socketId, (d) => resolve({read: new TextDecoder().decode(d.data).endsWith("hi")}));
    });
  }));
})"""


@pytest.fixture(scope="module")
def site(browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("webpage")
    server = StaticServer.of_pages(root / "www", {"index.html": PAGE, "bfcache.html": BFCACHE_PAGE})
    profile = ResocketProfile(root / "profile")
    profile.grant(server.origin, ALL_RULES)
    ext = copy_extension(root / "extension")
    browser = browsers.launch_resocket("webpage", profile, [ext])
    yield browser, server
    server.close()


def test_granted_web_page_gets_chromes_tcp_transcript(browsers: BrowserPool, site, scenario_ports: dict) -> None:
    browser, server = site
    page = browsers.open_page(browser, f"{server.origin}/")
    # The page's own inline script already saw chrome.socket (the MAIN-world shim runs at document_start).
    assert page.evaluate("document.getElementById('status').textContent") == "object"
    transcript = run_scenario(page, "sending", make_env("tcp", **scenario_ports))
    assert dump_transcript(transcript) == (GOLDEN / "sending-tcp.json").read_text()


def test_origin_without_grant_gets_no_permission_and_no_connection(browsers: BrowserPool, site) -> None:
    browser, server = site
    listener = HttpEchoServer()
    try:
        page = browsers.open_page(browser, f"http://localhost:{server.port}/")
        result = page.evaluate("""new Promise((resolve) => {
            chrome.socket.create("tcp", {}, (c) => {
              chrome.socket.connect(c.socketId, "127.0.0.1", PORT, (r) => {
                const le = chrome.runtime.lastError;
                resolve({result: r, lastError: le ? le.message : null});
              });
            });
          })""".replace("PORT", str(listener.port)))
        assert result == {"result": -1, "lastError": "App does not have permission"}, json.dumps(result)
        assert listener.accepted == 0
    finally:
        listener.close()


def test_page_restored_from_bfcache_fails_its_pending_read_and_reconnects(browsers: BrowserPool, site) -> None:
    # Chrome closes the relay's port when the page goes into the back/forward cache without telling the
    # relay; the page must not wait forever for the read it had pending, and must be able to start again.
    browser, server = site
    listener = HttpEchoServer()  # answers only after a request: the read below stays pending
    try:
        page = browsers.open_page(browser, f"{server.origin}/bfcache.html")
        page.evaluate("""new Promise((resolve) => chrome.socket.create("tcp", {}, (c) =>
            chrome.socket.connect(c.socketId, "127.0.0.1", PORT, (r) => {
              window.pendingRead = null;
              chrome.socket.read(c.socketId, (d) => {
                const le = chrome.runtime.lastError;
                window.pendingRead = {resultCode: d.resultCode, lastError: le ? le.message : null};
              });
              resolve(r);
            })))""".replace("PORT", str(listener.port)))
        page.evaluate("location.href = '/index.html'")
        page.wait_for("location.pathname === '/index.html' && document.readyState === 'complete'",
                      what="the second page")
        page.evaluate("history.back()")
        shows = page.wait_for("location.pathname === '/bfcache.html' && window.shows && window.shows.length === 2 "
                              "&& window.shows", what="the restored page")
        assert shows == [False, True], "the page was not restored from the back/forward cache"
        read = page.wait_for("window.pendingRead", what="the pending read to complete")
        assert read["resultCode"] == -1, read
        assert "back/forward cache" in read["lastError"], read
        assert page.evaluate(f"({ECHO})({listener.port})") == {"read": True}
    finally:
        listener.close()
