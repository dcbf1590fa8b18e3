"""chrome.socket in a web page through the resocket extension: a granted origin behaves as Chrome did
for a Chrome App (same transcript as the pinned Chrome one); an origin with no grant has every chrome.socket and
chrome.sockets call refused, create included, with a lastError naming the `resocket grant` command for its exact
origin, and no connection or datagram is ever made (docs/grants.md, "An origin with no grant")."""
from __future__ import annotations

import json

import pytest

from tests.support.servers import HttpEchoServer, UdpEchoServer

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
    yield browser, server, profile
    server.close()


def test_granted_web_page_gets_chromes_tcp_transcript(browsers: BrowserPool, site, scenario_ports: dict) -> None:
    browser, server, _ = site
    page = browsers.open_page(browser, f"{server.origin}/")
    # The page's own inline script already saw chrome.socket (the MAIN-world shim runs at document_start).
    assert page.evaluate("document.getElementById('status').textContent") == "object"
    transcript = run_scenario(page, "sending", make_env("tcp", **scenario_ports))
    assert dump_transcript(transcript) == (GOLDEN / "sending-tcp.json").read_text()


#: Every chrome.socket call with a callback, in a page of an ungranted origin: {name: [value..., lastError]}.
UNGRANTED_SOCKET_CALLS = """(tcpPort, udpPort) => new Promise((resolve) => {
  const s = chrome.socket;
  const buf = new Uint8Array([104, 105]).buffer;
  const calls = [
    ["create", (cb) => s.create("tcp", {}, cb)], ["create udp", (cb) => s.create("udp", cb)],
    ["connect", (cb) => s.connect(-1, "127.0.0.1", tcpPort, cb)], ["bind", (cb) => s.bind(-1, "127.0.0.1", 0, cb)],
    ["read", (cb) => s.read(-1, cb)], ["write", (cb) => s.write(-1, buf, cb)], ["recvFrom", (cb) => s.recvFrom(-1, cb)],
    ["sendTo", (cb) => s.sendTo(-1, buf, "127.0.0.1", udpPort, cb)], ["listen", (cb) => s.listen(-1, "127.0.0.1", 0, cb)],
    ["accept", (cb) => s.accept(-1, cb)], ["setKeepAlive", (cb) => s.setKeepAlive(-1, true, cb)],
    ["setNoDelay", (cb) => s.setNoDelay(-1, true, cb)], ["getInfo", (cb) => s.getInfo(-1, cb)],
    ["getNetworkList", (cb) => s.getNetworkList(cb)], ["joinGroup", (cb) => s.joinGroup(-1, "224.0.0.251", cb)],
    ["leaveGroup", (cb) => s.leaveGroup(-1, "224.0.0.251", cb)],
    ["setMulticastTimeToLive", (cb) => s.setMulticastTimeToLive(-1, 1, cb)],
    ["setMulticastLoopbackMode", (cb) => s.setMulticastLoopbackMode(-1, true, cb)],
    ["getJoinedGroups", (cb) => s.getJoinedGroups(-1, cb)], ["secure", (cb) => s.secure(-1, {}, cb)],
  ];
  const seen = {};
  const shown = (v) => (v instanceof ArrayBuffer ? `ArrayBuffer(${v.byteLength})`
    : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shown(x)])) : v);
  s.destroy(-1);
  s.disconnect(-1);
  for (const [name, call] of calls) {
    call((...values) => {
      const le = chrome.runtime.lastError;
      seen[name] = [...values.map(shown), le ? le.message : null];
      if (Object.keys(seen).length === calls.length) resolve(seen);
    });
  }
})"""

#: The same for chrome.sockets (the shim's own: a web page has none), callbacks and Promises.
UNGRANTED_SOCKETS_CALLS = """(tcpPort, udpPort) => new Promise((resolve) => {
  const { tcp, tcpServer, udp } = chrome.sockets;
  const buf = new Uint8Array([104, 105]).buffer;
  const calls = [
    ["tcp.create", (cb) => tcp.create({}, cb)], ["tcp.connect", (cb) => tcp.connect(1, "127.0.0.1", tcpPort, cb)],
    ["tcp.send", (cb) => tcp.send(1, buf, cb)], ["tcp.getInfo", (cb) => tcp.getInfo(1, cb)],
    ["tcp.getSockets", (cb) => tcp.getSockets(cb)], ["tcp.setNoDelay", (cb) => tcp.setNoDelay(1, true, cb)],
    ["tcpServer.create", (cb) => tcpServer.create(cb)],
    ["tcpServer.listen", (cb) => tcpServer.listen(1, "127.0.0.1", 0, cb)],
    ["udp.create", (cb) => udp.create({}, cb)], ["udp.bind", (cb) => udp.bind(1, "127.0.0.1", 0, cb)],
    ["udp.send", (cb) => udp.send(1, buf, "127.0.0.1", udpPort, cb)],
    ["udp.joinGroup", (cb) => udp.joinGroup(1, "224.0.0.251", cb)], ["udp.close", (cb) => udp.close(1, cb)],
    ["udp.create (Promise)", (cb) => udp.create().then((v) => cb(v), (err) => cb("rejected", err.message))],
  ];
  const seen = {};
  for (const [name, call] of calls) {
    call((...values) => {
      const le = chrome.runtime.lastError;
      seen[name] = name.endsWith("(Promise)") ? values : [...values, le ? le.message : null];
      if (Object.keys(seen).length === calls.length) resolve(seen);
    });
  }
})"""


def refusal(origin: str, rule: str) -> str:
    return (f"resocket: {origin} holds no grant, so its socket calls are refused: run `resocket grant {origin} "
            f"{rule}` (the rules it needs), then reload the page")


def test_origin_without_grant_is_refused_every_call_naming_the_grant_and_the_host_makes_no_socket(
        browsers: BrowserPool, site) -> None:
    browser, server, profile = site
    origin = f"http://localhost:{server.port}"  # the same server by another name: an origin with no grant
    tcp, udp = HttpEchoServer(), UdpEchoServer()
    try:
        page = browsers.open_page(browser, f"{origin}/")
        seen = page.evaluate(f"({UNGRANTED_SOCKET_CALLS})({tcp.port}, {udp.port})")
        generic = refusal(origin, "tcp-connect:HOST:PORT")
        # Each call gets the value it gets when the host cannot be reached, which legacy code takes for a failure.
        assert seen == {
            "create": [{"socketId": -1}, generic], "create udp": [{"socketId": -1}, refusal(origin, "udp-send-to:HOST:PORT")],
            "connect": [-1, refusal(origin, f"tcp-connect:127.0.0.1:{tcp.port}")],
            "bind": [-1, refusal(origin, "udp-bind:127.0.0.1:*")],
            "read": [{"resultCode": -1, "data": "ArrayBuffer(0)"}, generic],
            "write": [{"bytesWritten": -1}, generic],
            "recvFrom": [{"resultCode": -1, "data": "ArrayBuffer(0)", "address": "", "port": 0}, generic],
            "sendTo": [-1, refusal(origin, f"udp-send-to:127.0.0.1:{udp.port}")],
            "listen": [-1, refusal(origin, "tcp-listen:127.0.0.1:*")],
            "accept": [{"resultCode": -2}, generic], "setKeepAlive": [False, generic], "setNoDelay": [False, generic],
            "getInfo": [generic], "getNetworkList": [generic],
            "joinGroup": [-1, refusal(origin, "udp-multicast-membership")],
            "leaveGroup": [-1, refusal(origin, "udp-multicast-membership")],
            "setMulticastTimeToLive": [-1, generic], "setMulticastLoopbackMode": [-1, generic],
            "getJoinedGroups": [-1, refusal(origin, "udp-multicast-membership")], "secure": [-4, generic],
        }, json.dumps(seen, indent=1)
        assert tcp.accepted == 0 and udp.received == []
        log = profile.host_log_text()
        assert f"for {origin}; rules [] (no grant: every call refused)" in log, log[-3000:]

        # The command it names works: granted, and the page reloaded, the same call goes through.
        profile.grant(origin, [f"tcp-connect:127.0.0.1:{tcp.port}"])
        # Mark the old document: until the mark is gone, the reload has not replaced it, and a check that
        # passes on the old document lets the next call land in the new one before its shim is defined.
        page.evaluate("window.__beforeReload = true; location.reload()")
        page.wait_for("!window.__beforeReload && document.readyState === 'complete' && "
                      "typeof chrome.socket === 'object'", what="the reload")
        assert page.evaluate(f"({ECHO})({tcp.port})") == {"read": True}
    finally:
        tcp.close()
        udp.close()


def test_origin_without_grant_is_refused_every_chrome_sockets_call(browsers: BrowserPool, site) -> None:
    browser, server, _ = site
    tcp, udp = HttpEchoServer(), UdpEchoServer()
    try:
        origin = f"http://sockets.localhost:{server.port}"  # Chromium takes *.localhost for loopback itself
        page = browsers.open_page(browser, f"{origin}/", api="sockets")
        seen = page.evaluate(f"({UNGRANTED_SOCKETS_CALLS})({tcp.port}, {udp.port})")
        generic = refusal(origin, "tcp-connect:HOST:PORT")
        assert seen == {
            "tcp.create": [{"socketId": -1}, generic],
            "tcp.connect": [-2, refusal(origin, f"tcp-connect:127.0.0.1:{tcp.port}")],
            "tcp.send": [{"resultCode": -2}, generic], "tcp.getInfo": [generic], "tcp.getSockets": [[], generic],
            "tcp.setNoDelay": [-2, generic],
            "tcpServer.create": [{"socketId": -1}, refusal(origin, "tcp-listen:HOST:PORT")],
            "tcpServer.listen": [-2, refusal(origin, "tcp-listen:127.0.0.1:*")],
            "udp.create": [{"socketId": -1}, refusal(origin, "udp-send-to:HOST:PORT")],
            "udp.bind": [-2, refusal(origin, "udp-bind:127.0.0.1:*")],
            "udp.send": [{"resultCode": -2}, refusal(origin, f"udp-send-to:127.0.0.1:{udp.port}")],
            "udp.joinGroup": [-2, refusal(origin, "udp-multicast-membership")], "udp.close": [generic],
            "udp.create (Promise)": ["rejected", refusal(origin, "udp-send-to:HOST:PORT")],
        }, json.dumps(seen, indent=1)
        assert tcp.accepted == 0 and udp.received == []
    finally:
        tcp.close()
        udp.close()


def test_page_restored_from_bfcache_fails_its_pending_read_and_reconnects(browsers: BrowserPool, site) -> None:
    # Chrome closes the relay's port when the page goes into the back/forward cache without telling the
    # relay; the page must not wait forever for the read it had pending, and must be able to start again.
    browser, server, _ = site
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
