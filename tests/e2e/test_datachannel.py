"""The data channel in a real Chromium (docs/protocol.md, "Data channel"; docs/extension.md).

An extension page echoes 8 MiB through a loopback TCP echo server with chrome.socket: over the data channel
when the host offers it (the page's WebSocket counts the bytes that crossed it, and the host's DEBUG wire log
shows reads answered with `dataRef`), and over native messaging alone when the host refuses the channel's
connection. A web page holding a valid channel URL is refused (its Origin is not the extension's), while the
extension's own page connects with the very same URL. A granted web page gets a channel of its own, which
only its own origin may use.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.servers import TcpServer

from .conftest import BrowserPool
from .resocket_side import (
    BLANK_PAGE,
    EXTENSION_ID,
    EXTENSION_ORIGIN,
    SHIM,
    ResocketProfile,
    StaticServer,
    copy_extension,
    extension_available,
)

pytestmark = pytest.mark.skipif(not extension_available(),
                                reason="extension/manifest.json or extension/chrome-socket.js not there yet")

TOTAL = 8 * 1024 * 1024

# Loaded before the shim: the page's WebSocket, counting what crosses it. MODE says what it does with the
# URL the shim asks for: "use" it, "spoil" its token (the host refuses the connection with 403), or
# "capture" it and connect to a closed port instead (the token stays unused).
WS_WRAPPER = """window.__ws = {mode: "MODE", url: null, open: false, closed: false, sent: 0, received: 0};
window.RealWebSocket = WebSocket;
window.WebSocket = class extends RealWebSocket {
  constructor(url) {
    __ws.url = url;
    const target = __ws.mode === "use" ? url
      : __ws.mode === "spoil" ? url.replace(/\\/[^/]*$/, "/not-the-token") : "ws://127.0.0.1:1/";
    super(target);
    this.addEventListener("open", () => { __ws.open = true; });
    this.addEventListener("close", () => { __ws.closed = true; });
    this.addEventListener("message", (e) => { __ws.received += e.data.byteLength; });
  }
  send(data) { __ws.sent += data.byteLength; super.send(data); }
};
"""


def extension_files(mode: str) -> dict[str, str]:
    """dc-<mode>.html and its wrapper script (extension pages allow no inline scripts)."""
    return {f"dc-{mode}.js": WS_WRAPPER.replace("MODE", mode),
            f"dc-{mode}.html": f'<!DOCTYPE html><meta charset="utf-8"><title>data channel {mode}</title>'
                               f'<script src="dc-{mode}.js"></script><script src="{SHIM}"></script>\n'}


# 64 KiB writes with at most 1 MiB unanswered, one 64 KiB read always pending; the page checks the echo.
ECHO_JS = """(async ({port, total}) => {
  const S = chrome.socket;
  const call = (fn, ...a) => new Promise((r) => fn.call(S, ...a, r));
  const {socketId} = await call(S.create, "tcp", {});
  const rc = await call(S.connect, socketId, "127.0.0.1", port);
  if (rc !== 0) return {error: "connect gave " + rc};
  const data = new Uint8Array(total);
  for (let i = 0; i < total; i++) data[i] = (i * 131 + (i >> 13)) & 255;
  const got = new Uint8Array(total);
  let received = 0, written = 0, wake = null, failed = null;
  const reads = new Promise((resolve, reject) => {
    const next = () => S.read(socketId, 65536, (r) => {
      if (r.resultCode <= 0) return reject(new Error("read gave " + r.resultCode));
      got.set(new Uint8Array(r.data), received);
      received += r.data.byteLength;
      if (wake) { const w = wake; wake = null; w(); }
      if (received >= total) resolve(); else next();
    });
    next();
  });
  const block = 65536, windowBytes = 1 << 20;
  while (written < total) {
    while (written - received > windowBytes - block) await new Promise((r) => { wake = r; });
    const n = Math.min(block, total - written);
    S.write(socketId, data.slice(written, written + n).buffer, (w) => { if (w.bytesWritten !== n) failed = w; });
    written += n;
  }
  await reads;
  S.destroy(socketId);
  let mismatch = -1;
  for (let i = 0; i < total; i++) if (got[i] !== data[i]) { mismatch = i; break; }
  return {received, mismatch, failed, ws: window.__ws};
})(ARGS)"""


def expected_stream(total: int) -> bytes:
    return bytes((i * 131 + (i >> 13)) & 255 for i in range(total))


@pytest.fixture(scope="module")
def setup(browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory):
    root: Path = tmp_path_factory.mktemp("datachannel")
    pages = {"index.html": BLANK_PAGE}
    for mode in ("use", "capture"):  # web pages may replace WebSocket before their first call, inline
        pages[f"dc-{mode}.html"] = (f'<!DOCTYPE html><meta charset="utf-8"><title>web data channel {mode}</title>'
                                    f'<script>{WS_WRAPPER.replace("MODE", mode)}</script>')
    site = StaticServer.of_pages(root / "www", pages)
    profile = ResocketProfile(root / "profile")  # DEBUG: the wire log shows every request and reply
    profile.grant(EXTENSION_ORIGIN, ["tcp-connect"])
    profile.grant(site.origin, ["tcp-connect"])
    files: dict[str, str] = {}
    for mode in ("use", "spoil", "capture"):
        files.update(extension_files(mode))
    ext = copy_extension(root / "extension", files)
    browser = browsers.launch_resocket("datachannel", profile, [ext])
    yield browser, profile, site
    site.close()


def echo(page, total: int) -> tuple[dict, bytes]:
    with TcpServer() as server:
        result = page.evaluate(ECHO_JS.replace("ARGS", json.dumps({"port": server.port, "total": total})),
                               timeout=240)
        return result, bytes(server.received)


def echo_whole(page, profile: ResocketProfile | None = None) -> dict:
    """8 MiB through the page and back, byte for byte, and in order at the server; what the WebSocket saw.
    With `profile`, also that read-ahead served the page's reads: the page made 128+ reads of 64 KiB, the
    host's wire log shows only the first one (docs/protocol.md, "Read-ahead")."""
    before = len(profile.host_log_text()) if profile is not None else 0
    result, server_got = echo(page, TOTAL)
    if profile is not None:
        requests = profile.host_log_text()[before:]
        reads = len(re.findall(r"-> #\d+ read ", requests))
        assert 1 <= reads <= 3, f"{reads} read requests reached the host during the echo"
        assert "stream" in requests
    assert result.get("error") is None and result["failed"] is None, json.dumps(result)
    assert result["received"] == TOTAL and result["mismatch"] == -1, json.dumps(result)
    assert server_got == expected_stream(TOTAL), "the echo server got the page's bytes in order"
    return result["ws"]


# Opens a WebSocket to a channel URL with the page's own Origin: "open", or "closed <code>" when refused.
ATTEMPT_JS = """(url) => new Promise((resolve) => {
  const ws = new (window.RealWebSocket || WebSocket)(url);
  ws.onopen = () => { resolve("open"); ws.close(); };
  ws.onclose = (e) => resolve("closed " + e.code);
})"""


def start_host(page) -> None:
    """The first call starts the page's host; hello is followed by datachannel.open."""
    page.evaluate("new Promise((r) => chrome.socket.getNetworkList(() => r(true)))")


def test_extension_page_echoes_8_mib_over_the_data_channel(browsers: BrowserPool, setup) -> None:
    browser, profile, _ = setup
    page = browsers.open_page(browser, f"chrome-extension://{EXTENSION_ID}/dc-use.html")
    start_host(page)
    page.wait_for("window.__ws.open === true", timeout=30, what="the data channel to open")
    ws = echo_whole(page, profile)
    # Every write is 64 KiB (>= the 8 KiB threshold) and every read asked for up to 64 KiB: all of the
    # payload crossed the WebSocket both ways (plus an 8-byte reference per message).
    assert ws["sent"] >= TOTAL and ws["received"] >= TOTAL, json.dumps(ws)
    log = profile.host_log_text()
    assert "data channel connected" in log
    assert '"dataRef"' in log, "reads were answered with dataRef (bytes on the channel)"
    # Implicit writes (docs/protocol.md): after one marked record, each 64 KiB write crossed as its bytes alone,
    # answered under the ids that follow the mark (from 2^52).
    bare = re.findall(r"-> #(\d+) write ", log)
    assert sum(int(i) >= 2 ** 52 for i in bare) >= 100, f"{len(bare)} writes, ids {bare[:5]}..."
    # Wide windows (docs/protocol.md): the page's one socket got 4 MiB both ways, its stream in the read reply
    # that started it, its write-behind in its write replies (most of which waited to ride with a push).
    wide = [line for line in log.splitlines() if re.search(r'"window": ?4194304', line)]
    assert any('"stream"' in line for line in wide), "no stream was granted a wide window"
    assert sum("(lazy)" in line and '"bytesWritten": 65536' in line for line in wide) >= 100, len(wide)


def test_refused_channel_falls_back_to_native_messaging_byte_for_byte(browsers: BrowserPool, setup) -> None:
    browser, profile, _ = setup
    page = browsers.open_page(browser, f"chrome-extension://{EXTENSION_ID}/dc-spoil.html")
    start_host(page)
    page.wait_for("window.__ws.closed === true", timeout=30, what="the spoiled channel connection to fail")
    ws = echo_whole(page, profile)  # read-ahead on native messaging
    assert ws["open"] is False and ws["sent"] == 0 and ws["received"] == 0, json.dumps(ws)
    assert "data channel refused a connection" in profile.host_log_text()
    assert "wrong token" in profile.host_log_text()


def test_web_page_with_the_channel_url_is_refused_but_the_extension_page_connects(browsers: BrowserPool,
                                                                                  setup) -> None:
    browser, profile, site = setup
    ext_page = browsers.open_page(browser, f"chrome-extension://{EXTENSION_ID}/dc-capture.html")
    start_host(ext_page)
    url = ext_page.wait_for("window.__ws.url", timeout=30, what="the channel URL")
    assert url.startswith("ws://127.0.0.1:")
    web = browser.new_page(f"{site.origin}/")
    browsers.pages.append(web)
    assert web.evaluate(f"({ATTEMPT_JS})({json.dumps(url)})") == "closed 1006"
    origin = site.origin
    assert f"origin {origin!r} is not {EXTENSION_ORIGIN.rstrip('/')!r}" in profile.host_log_text()
    # The same URL from the extension's own page: the token was good, the Origin was the only problem.
    assert ext_page.evaluate(f"({ATTEMPT_JS})({json.dumps(url)})") == "open"


def test_granted_web_page_echoes_8_mib_over_its_own_data_channel(browsers: BrowserPool, setup) -> None:
    """A granted page's shim opens the channel from the page's origin (relay -> service worker -> host), and
    its writes, reads and read-ahead bytes cross it."""
    browser, profile, site = setup
    page = browsers.open_page(browser, f"{site.origin}/dc-use.html")
    start_host(page)
    page.wait_for("window.__ws.open === true", timeout=30, what="the web page's data channel to open")
    ws = echo_whole(page)
    assert ws["sent"] >= TOTAL and ws["received"] >= TOTAL, json.dumps(ws)
    assert f"hello from resocket-extension/0.1.0 for http://127.0.0.1:{site.port}" in profile.host_log_text()


def test_a_web_pages_channel_refuses_every_other_origin(browsers: BrowserPool, setup) -> None:
    browser, profile, site = setup
    page = browsers.open_page(browser, f"{site.origin}/dc-capture.html")
    start_host(page)
    url = page.wait_for("window.__ws.url", timeout=30, what="the channel URL")
    other = browser.new_page(f"http://localhost:{site.port}/")  # another origin, same server
    browsers.pages.append(other)
    assert other.evaluate(f"({ATTEMPT_JS})({json.dumps(url)})") == "closed 1006"
    assert (f"origin 'http://localhost:{site.port}' is not 'http://127.0.0.1:{site.port}'"
            in profile.host_log_text())
    assert page.evaluate(f"({ATTEMPT_JS})({json.dumps(url)})") == "open"  # the page's own origin: accepted
