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


@pytest.fixture(scope="module")
def site(browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("webpage")
    (root / "www").mkdir()
    (root / "www" / "index.html").write_text(PAGE)
    server = StaticServer(root / "www")
    profile = ResocketProfile(root / "profile")
    profile.grant(f"http://127.0.0.1:{server.port}", ALL_RULES)
    ext = copy_extension(root / "extension")
    browser = browsers.launch("webpage", profile.user_data_dir, extensions=[ext], env=profile.env)
    browsers.host_logs.append(profile.host_log)
    yield browser, server
    server.close()


def open_page(browsers: BrowserPool, browser, url: str):
    page = browser.new_page(url, ready="typeof chrome === 'object' && typeof chrome.socket === 'object'")
    browsers.pages.append(page)
    return page


def test_granted_web_page_gets_chromes_tcp_transcript(browsers: BrowserPool, site, scenario_ports: dict) -> None:
    browser, server = site
    page = open_page(browsers, browser, f"http://127.0.0.1:{server.port}/")
    # The page's own inline script already saw chrome.socket (the MAIN-world shim runs at document_start).
    assert page.evaluate("document.getElementById('status').textContent") == "object"
    transcript = run_scenario(page, "sending", make_env("tcp", **scenario_ports))
    assert dump_transcript(transcript) == (GOLDEN / "sending-tcp.json").read_text()


def test_origin_without_grant_gets_no_permission_and_no_connection(browsers: BrowserPool, site) -> None:
    browser, server = site
    listener = HttpEchoServer()
    try:
        page = open_page(browsers, browser, f"http://localhost:{server.port}/")
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
