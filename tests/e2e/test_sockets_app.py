"""examples/web-server-sockets, a 2014-style static-file web server Chrome App on chrome.sockets.tcpServer,
converted with `resocket convert-app --yes` and run unmodified in headless Chromium; Python's http.client
fetches pages from it as any browser would.

The app serves the files packaged in its www/ folder; the test adds one more before converting (a 1.5 MiB
binary: too big to keep in git, and big enough that the response crosses the shim in many chunk frames).
Served bytes are compared with the app's source files: convert-app injects its runtime scripts only into the
pages the app shows (window.html), so www/index.html, which the app only serves, keeps its bytes
(docs/convert-app.md).
"""
from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from .cdp import Browser, Session
from .conftest import BrowserPool
from .resocket_side import REPO, ResocketProfile, _venv_bin, extension_available

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(not extension_available(), reason="extension/chrome-socket.js not present"),
]

EXAMPLE = REPO / "examples" / "web-server-sockets"
BIG = random.Random(8).randbytes(1536 * 1024 + 7)


@pytest.fixture(scope="module")
def app(browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory) -> tuple[Session, str, Path]:
    """The converted app, launched, its server started on a free port: (app window, convert-app stdout, the
    converted app's www/ folder)."""
    profile = ResocketProfile(tmp_path_factory.mktemp("web-server-sockets"))
    src = profile.root / "src"
    shutil.copytree(EXAMPLE, src)
    (src / "www" / "big.bin").write_bytes(BIG)
    out = profile.root / "converted"
    env = dict(os.environ, **profile.env, HOME=str(profile.root / "home"))
    env.pop("XDG_CONFIG_HOME", None)
    proc = subprocess.run(
        [_venv_bin("resocket"), "convert-app", str(src), str(out), "--yes", "--user-data-dir",
         str(profile.user_data_dir), "--host-path", str(profile.root / "resocket-host-wrapper")],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"convert-app failed: {proc.stderr}"
    launch_url = proc.stdout.strip().splitlines()[-1]
    ext_id = launch_url.split("/")[2]
    browser = browsers.launch_resocket("web-server-sockets", profile, [out])
    window = launch(browser, launch_url, f"chrome-extension://{ext_id}/window.html")
    browsers.pages.append(window)
    window.evaluate("""(() => { document.getElementById('port').value = '0';
                               document.getElementById('form').requestSubmit(); return true; })()""")
    window.wait_for("appState === 'listening' || appState === 'error'", timeout=30)
    assert window.evaluate("appState") == "listening", window.evaluate("transcript")
    return window, proc.stdout, out / "www"


def launch(browser: Browser, launch_url: str, window_url: str) -> Session:
    browser.send("Target.createTarget", {"url": launch_url})
    target = browser.wait_for_target(lambda t: t["type"] == "page" and t["url"] == window_url, what="app window")
    session = browser.attach(target["targetId"])
    session.wait_for("document.readyState === 'complete' && typeof appState === 'string'")
    return session


def port_of(window: Session) -> int:
    url = window.evaluate("serverUrl")
    assert url.startswith("http://127.0.0.1:") and window.evaluate("document.getElementById('url').textContent") == url
    return int(url.rsplit(":", 1)[1].strip("/"))


def get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_convert_app_reports_chrome_sockets_as_supported_and_grants_the_listen_rule(app) -> None:
    _, stdout, _ = app
    text = " ".join(stdout.split())
    assert "supported chrome.sockets.tcpServer.listen" in text
    assert "supported chrome.sockets.tcp.send" in text
    assert "missing chrome.sockets" not in text
    assert "tcp-listen:127.0.0.1:*" in text
    assert "with the resocket runtime: window.html" in text
    assert "left as data, unchanged: www/index.html " in text


def test_the_converted_web_server_serves_its_packaged_files(app) -> None:
    window, _, www = app
    port = port_of(window)
    status, headers, body = get(port, "/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert body == (EXAMPLE / "www" / "index.html").read_bytes() and b"Hello from chrome.sockets" in body
    assert (www / "index.html").read_bytes() == body
    status, headers, body = get(port, "/style.css?v=2")
    assert (status, headers["content-type"], body) == (200, "text/css", (EXAMPLE / "www" / "style.css").read_bytes())
    status, _, body = get(port, "/no/such/page.html")
    assert status == 404 and b"/no/such/page.html" in body


def test_a_file_over_one_mebibyte_arrives_byte_for_byte(app) -> None:
    window, _, _ = app
    status, headers, body = get(port_of(window), "/big.bin")
    assert status == 200 and int(headers["content-length"]) == len(BIG)
    assert body == BIG


def test_the_app_window_shows_the_request_log(app) -> None:
    window, _, _ = app
    port = port_of(window)
    for i in range(3):
        assert get(port, f"/index.html?n={i}")[0] == 200
    expected = [f"GET /index.html?n={i} HTTP/1.1 -> 200 ({(EXAMPLE / 'www' / 'index.html').stat().st_size} bytes)"
                for i in range(3)]
    window.wait_for(f"{json.dumps(expected)}.every((line) => transcript.includes(line))", timeout=30)
    shown = window.evaluate("document.getElementById('log').textContent").splitlines()
    assert f"listening on http://127.0.0.1:{port}/" in shown
    assert all(line in shown for line in expected)
