"""Write-behind in a real Chromium (docs/protocol.md, "Write-behind"; docs/compatibility.md).

A page writes 64 KiB at a time, each write issued from the previous one's callback (how legacy apps stream),
to a peer that does not read: the callbacks stop once the host's window and the kernel's buffers are full,
as Chrome's do once its data pipe is full, and resume, every byte in order, once the peer reads. Over native
messaging and over the data channel. A peer that resets the connection fails the next write with -2, then
-15, as in Chrome (judged by the same code in a real Chrome App).
"""
from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from tests.support.servers import TcpServer

from .conftest import BrowserPool
from .oracle import attach_background_page, write_chrome_app
from .resocket_side import EXTENSION_ID, EXTENSION_ORIGIN, SCENARIO_PAGE, ResocketProfile, copy_extension

BLOCK = 64 * 1024

# Writes `total` bytes in 64 KiB blocks, each from the previous write's callback; window.__wb shows progress.
STREAM_JS = """(({port, total}) => new Promise((resolve) => {
  const S = chrome.socket;
  window.__wb = {called: 0, failed: null, done: false};
  S.create("tcp", {}, ({socketId}) => S.connect(socketId, "127.0.0.1", port, (rc) => {
    if (rc !== 0) { __wb.failed = "connect " + rc; return resolve(__wb); }
    resolve(__wb);
    const next = () => {
      if (__wb.called >= total) { __wb.done = true; S.destroy(socketId); return; }
      const block = new Uint8Array(BLOCK);
      for (let i = 0; i < BLOCK; i++) {
        const at = __wb.called + i; // every block differs, so a resent or reordered block shows
        block[i] = (at * 7 + Math.floor(at / 65536) * 13) & 255;
      }
      S.write(socketId, block.buffer, (w) => {
        if (w.bytesWritten !== BLOCK) { __wb.failed = JSON.stringify(w); return; }
        __wb.called += BLOCK;
        next();
      });
    };
    next();
  }));
}))(ARGS)""".replace("BLOCK", str(BLOCK))

# Connects, then writes 1 KiB every 50 ms (the peer resets after the first) until one fails, and once more.
RESET_JS = """(async ({port}) => {
  const S = chrome.socket;
  const call = (fn, ...a) => new Promise((r) => fn.call(S, ...a, r));
  const {socketId} = await call(S.create, "tcp", {});
  const rc = await call(S.connect, socketId, "127.0.0.1", port);
  if (rc !== 0) return {error: "connect gave " + rc};
  const codes = [];
  for (let i = 0; i < 40; i++) {
    codes.push((await call(S.write, socketId, new Uint8Array(1024).buffer)).bytesWritten);
    if (codes[codes.length - 1] < 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  codes.push((await call(S.write, socketId, new Uint8Array(1).buffer)).bytesWritten);
  const info = await call(S.getInfo, socketId);
  S.destroy(socketId);
  return {codes, connected: info.connected};
})(ARGS)"""


class PausedServer(TcpServer):
    """Accepts, reads nothing until `resume` is set, then reads everything until EOF."""

    def __init__(self) -> None:
        self.resume = threading.Event()
        super().__init__()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)

    def serve(self, conn: socket.socket) -> None:
        self.resume.wait(120)
        while self.recv(conn):
            pass


class ResettingServer(TcpServer):
    """Accepts, and resets the connection (SO_LINGER 0) once the first bytes arrived (so connect succeeds)."""

    def serve(self, conn: socket.socket) -> None:
        self.recv(conn)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.fixture(scope="module")
def setup(browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory):
    root: Path = tmp_path_factory.mktemp("writebehind")
    profile = ResocketProfile(root / "profile")  # DEBUG: the wire log shows every request and reply
    profile.grant(EXTENSION_ORIGIN, ["tcp-connect"])
    ext = copy_extension(root / "extension")
    app = write_chrome_app(root / "oracle-app", ["tcp-connect"])  # Chrome's own chrome.socket, the judge
    browser = browsers.launch_resocket("writebehind", profile, [app, ext])
    return browser, profile


def open_page(browsers: BrowserPool, browser, channel: bool):
    page = browsers.open_page(browser, f"chrome-extension://{EXTENSION_ID}/{SCENARIO_PAGE}")
    if not channel:
        page.evaluate("window.resocketOptions = {dataChannel: false}; true")
    return page


def settled(page, seconds: float = 1.0, limit: float = 60) -> int:
    """How many bytes the page had called back once that number stopped moving for `seconds`."""
    last, since, deadline = -1, time.monotonic(), time.monotonic() + limit
    while time.monotonic() < deadline:
        now = page.evaluate("window.__wb.called")
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return now
        time.sleep(0.1)
    raise AssertionError(f"the page's writes never stopped: {last} bytes called back")


@pytest.mark.parametrize("channel", [False, True], ids=["native-messaging", "data-channel"])
def test_a_peer_that_does_not_read_stops_the_writes_and_every_byte_arrives_later(browsers: BrowserPool, setup,
                                                                                  channel: bool) -> None:
    browser, profile = setup
    page = open_page(browsers, browser, channel)
    total = 48 * 1024 * 1024
    before = len(profile.host_log_text())
    with PausedServer() as server:
        page.evaluate(STREAM_JS.replace("ARGS", json.dumps({"port": server.port, "total": total})), timeout=60)
        stalled = settled(page)
        state = page.evaluate("window.__wb")
        assert state["failed"] is None, state
        # Stopped: the host's window (512 KiB) plus what the kernel buffers on loopback; far from the total.
        assert 512 * 1024 < stalled < total // 2, stalled
        server.resume.set()
        page.wait_for("window.__wb.done === true || window.__wb.failed !== null", timeout=120,
                      what="the writes to finish")
        assert page.evaluate("window.__wb.failed") is None
        deadline = time.monotonic() + 30
        while len(server.received) < total and time.monotonic() < deadline:
            time.sleep(0.05)
        got = bytes(server.received)
    assert len(got) == total, f"{len(got) - total} bytes more than written"
    expected = bytes((i * 7 + (i >> 16) * 13) & 255 for i in range(0, total, 509))
    assert got[::509] == expected, "the bytes arrived in order, each once"
    log = profile.host_log_text()[before:]
    # The page's writes were called back before the host answered them: they say so, and their replies waited.
    assert len(re.findall(r'-> #\d+ write .*"behind": true', log)) > 100, log[-3000:]
    assert "(lazy)" in log


@pytest.mark.parametrize("side", ["chrome", "resocket"])
def test_a_reset_fails_the_next_write_with_minus_2_then_minus_15(browsers: BrowserPool, setup, side: str) -> None:
    """The same page code in a real Chrome App and through resocket: writes succeed until one meets the reset,
    which fails (-2, the socket disconnected), and the one after gets -15."""
    browser, _ = setup
    page = attach_background_page(browser) if side == "chrome" else open_page(browsers, browser, channel=True)
    with ResettingServer() as server:
        result = page.evaluate(RESET_JS.replace("ARGS", json.dumps({"port": server.port})), timeout=60)
    assert "codes" in result, result
    codes = result["codes"]
    assert codes[-2:] == [-2, -15] and set(codes[:-2]) == {1024}, result
    assert result["connected"] is False
