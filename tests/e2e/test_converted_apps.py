"""Each app in examples/ converted with `resocket convert-app` and run unmodified in real headless Chromium.

The apps are 2013-style Chrome Apps (v2 `app` manifest, background page, chrome.app.window). The test opens
the launch URL, drives the app's own form in its app window, and checks what crossed the wire at local
servers, plus what the app itself shows (its `transcript`).

One Chromium runs all five converted apps (launch and first round trip cost most of the time); each app has its
own origin, grants and host processes. `resocket convert-app --yes --user-data-dir UDD` does the granting and
registers each origin with the host installed for that profile, as a user would run it.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.certs import Pki
from tests.support.servers import HttpsPageServer, TcpServer, UdpEchoServer, free_port

from .cdp import Browser, Session
from .conftest import BrowserPool
from .resocket_side import REPO, ResocketProfile, _venv_bin, extension_available

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(not extension_available(), reason="extension/chrome-socket.js not present"),
]

EXAMPLES = REPO / "examples"
APPS = ("tcp-echo-client", "http-server", "udp-echo-client", "multicast-chat", "tls-client")
MCAST_GROUP = "237.132.123.123"

# A legacy app that exercises the runtime rather than sockets: the create() callback, current(), getAll(),
# onClosed, getBackgroundPage and a missing API (chrome.serial); and a window on a page that convert-app
# cannot see the app show (its URL is computed), so it stays data and gets the runtime from the loader page.
PROBE_APP = {
    "manifest.json": json.dumps({
        "manifest_version": 2, "name": "Runtime Probe", "version": "1",
        "app": {"background": {"scripts": ["background.js"]}}, "permissions": ["serial"]}),
    "background.js": """
        var closedIds = [];
        chrome.app.runtime.onLaunched.addListener(function(launchData) {
          chrome.app.window.create('probe.html', {id: 'probe', innerBounds: {width: 300, height: 200}}, function(w) {
            w.contentWindow.launchSource = launchData.source;
            w.onClosed.addListener(function() { closedIds.push(w.id); });
          });
        });
        function openComputedPage() {
          var name = 'computed';
          chrome.app.window.create('pages/' + name + '.html?n=1', {id: 'computed'}, function(w) {
            w.contentWindow.fromCallback = 'set in create callback';
          });
        }
    """,
    "pages/computed.html": '<!DOCTYPE html><html><head><meta charset="utf-8"><title>computed</title></head>'
                           '<body><p id="p">computed page</p><script src="computed.js"></script></body></html>',
    "pages/computed.js": """
        var computedState = 'running';
        var computedLog = ['at ' + location.pathname + location.search, 'callback ' + window.fromCallback,
                           'current ' + chrome.app.window.current().id, 'socket ' + typeof chrome.socket.create,
                           'text ' + document.getElementById('p').textContent];
        window.onload = function() { computedLog.push('load'); computedState = 'loaded'; };
    """,
    "probe.html": '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
                  '<script src="probe.js"></script></body></html>',
    "probe.js": """
        var appState = 'running';
        var transcript = [];
        transcript.push('launched from ' + window.launchSource);
        transcript.push('current ' + chrome.app.window.current().id + ' of ' + chrome.app.window.getAll().length);
        chrome.runtime.getBackgroundPage(function(bg) {
          transcript.push('background ' + bg.location.pathname + ' ' + Array.isArray(bg.closedIds));
          chrome.serial.getDevices(function(devices) {
            transcript.push('serial ' + devices + ' ' + chrome.runtime.lastError.message);
            appState = 'done';
          });
        });
    """,
}


def hello_world(rules: list[str]) -> dict[str, str]:
    """A keyless sample called "Hello World!", as two unrelated ones were: their IDs and grants must differ."""
    return {
        "manifest.json": json.dumps({"manifest_version": 2, "name": "Hello World!", "version": "1",
                                     "app": {"background": {"scripts": ["background.js"]}},
                                     "permissions": [{"socket": rules}]}),
        "background.js": "chrome.app.runtime.onLaunched.addListener(function() {\n"
                         "  chrome.app.window.create('window.html', {id: 'main'});\n});\n",
        "window.html": '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
                       '<script src="window.js"></script></body></html>',
        "window.js": f"var appState = 'ready', transcript = [], rules = {json.dumps(rules)};\n",
    }


#: Same name, different apps: the second is converted with --new-key (without it convert-app refuses, --yes).
SAME_NAME_APPS = {"hello-tcp": hello_world(["tcp-connect:127.0.0.1:*"]), "hello-udp": hello_world(["udp-send-to"])}


@dataclass
class ConvertedApp:
    name: str
    out: Path
    ext_id: str
    launch_url: str
    stdout: str

    @property
    def window_url(self) -> str:
        return f"chrome-extension://{self.ext_id}/window.html"


# -- fixtures ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> ResocketProfile:
    return ResocketProfile(tmp_path_factory.mktemp("converted-apps"))


def convert_app(profile: ResocketProfile, name: str, src: Path, out: Path,
                extra: Sequence[str] = ()) -> ConvertedApp:
    """`resocket convert-app SRC OUT --yes` for `profile`'s browser, as a user runs it."""
    env = dict(os.environ)
    env.update(profile.env)
    # A private HOME: convert-app also updates host manifests installed for this user's browsers.
    env["HOME"] = str(profile.root / "home")
    env.pop("XDG_CONFIG_HOME", None)
    proc = subprocess.run(
        [_venv_bin("resocket"), "convert-app", str(src), str(out), "--yes",
         "--user-data-dir", str(profile.user_data_dir), "--host-path", str(profile.root / "resocket-host-wrapper"),
         *extra],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"convert-app {name} failed: {proc.stderr}"
    launch = proc.stdout.strip().splitlines()[-1]
    return ConvertedApp(name, out, launch.split("/")[2], launch, proc.stdout)


@pytest.fixture(scope="module")
def converted(profile: ResocketProfile) -> dict[str, ConvertedApp]:
    probe = profile.root / "probe-src"
    for rel, text in PROBE_APP.items():
        (probe / rel).parent.mkdir(parents=True, exist_ok=True)
        (probe / rel).write_text(text)
    for name, files in SAME_NAME_APPS.items():
        for rel, text in files.items():
            (profile.root / f"{name}-src" / rel).parent.mkdir(parents=True, exist_ok=True)
            (profile.root / f"{name}-src" / rel).write_text(text)
    apps = {}
    for name in (*APPS, "runtime-probe", *SAME_NAME_APPS):
        src = (probe if name == "runtime-probe" else profile.root / f"{name}-src" if name in SAME_NAME_APPS
               else EXAMPLES / name)
        # hello-udp shares hello-tcp's name: it is told to take an ID of its own, as convert-app asks.
        extra = ["--new-key"] if name == "hello-udp" else []
        apps[name] = convert_app(profile, name, src, profile.root / "apps" / name, extra)
    return apps


@pytest.fixture(scope="module")
def tls_server(pki: Pki) -> Iterator[HttpsPageServer]:
    with HttpsPageServer(pki.good.cert, pki.good.key) as server:
        yield server


@pytest.fixture(scope="module")
def browser(browsers: BrowserPool, profile: ResocketProfile, converted: dict[str, ConvertedApp],
            pki: Pki) -> Browser:
    # Chromium starts the host with its own environment: the grants dir, and the test CA for secure().
    return browsers.launch_resocket("converted", profile, [a.out for a in converted.values()],
                                    {"SSL_CERT_FILE": str(pki.ca)})


def launch(browser: Browser, app: ConvertedApp, browsers: BrowserPool) -> Session:
    """Open the launch URL and return a session on the app window that onLaunched created."""
    browser.send("Target.createTarget", {"url": app.launch_url})
    target = browser.wait_for_target(lambda t: t["type"] == "page" and t["url"] == app.window_url,
                                     what=f"{app.name} app window")
    session = browser.attach(target["targetId"])
    browsers.pages.append(session)
    session.wait_for("document.readyState === 'complete' && typeof appState === 'string'")
    return session


def submit(session: Session, form: str, fields: dict[str, object]) -> None:
    session.evaluate(f"""(() => {{
        const fields = {json.dumps({k: str(v) for k, v in fields.items()})};
        for (const [id, value] of Object.entries(fields)) document.getElementById(id).value = value;
        document.getElementById({json.dumps(form)}).requestSubmit();
        return true;
    }})()""")


def page_errors(browser: Browser, session: Session) -> list[str]:
    """What the page threw or logged as an error so far (Runtime and Log enabled on `session`)."""
    out = []
    for event in list(browser.events):
        if event.get("sessionId") != session.session_id:
            continue
        params = event.get("params", {})
        if event["method"] == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            out.append(details.get("exception", {}).get("description") or details.get("text", ""))
        elif event["method"] == "Runtime.consoleAPICalled" and params.get("type") == "error":
            out.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
        elif event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
            out.append(params["entry"]["text"])
    return out


def open_watched(browser: Browser, url: str) -> Session:
    """A tab that loads `url` with its exceptions and console errors recorded from the first script on."""
    target_id = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.attach(target_id)
    for domain in ("Runtime", "Log", "Page"):
        session.send(f"{domain}.enable")
    session.send("Page.navigate", {"url": url})
    return session


def wait_closed(browser: Browser, target_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while any(t["targetId"] == target_id for t in browser.targets()):
        assert time.monotonic() < deadline, "the launch tab did not close"
        time.sleep(0.1)


def wait_state(session: Session, states: tuple[str, ...], timeout: float = 30) -> str:
    session.wait_for(f"{json.dumps(list(states))}.includes(appState) || appState === 'error'", timeout=timeout)
    state, transcript = session.evaluate("[appState, transcript]")
    assert state in states, f"app ended in {state!r}: {transcript}"
    return state


# -- tests -------------------------------------------------------------------------------------------------
def test_convert_app_prints_report_grants_rules_and_ends_with_the_launch_url(converted: dict[str, ConvertedApp],
                                                                           profile: ResocketProfile) -> None:
    app = converted["tcp-echo-client"]
    assert app.launch_url == f"chrome-extension://{app.ext_id}/resocket/launch.html"
    assert "supported chrome.socket.connect" in " ".join(app.stdout.split())
    grants = json.loads(profile.cli("grants", "--json"))
    assert any(app.ext_id in origin for origin in json.dumps(grants).split('"'))
    manifest = json.loads((profile.user_data_dir / "NativeMessagingHosts" / "org.resocket.host.json").read_text())
    # Each app that declared (and so was granted) socket rules may start the host; the runtime probe declares
    # none, so it gets no grant and is not allowed (allowed_origins follows the grants).
    for each in converted.values():
        allowed = f"chrome-extension://{each.ext_id}/" in manifest["allowed_origins"]
        assert allowed == (each.name != "runtime-probe"), each.name


def test_tcp_echo_client_sends_lines_and_shows_the_echo(browser: Browser, browsers: BrowserPool,
                                                      converted: dict[str, ConvertedApp]) -> None:
    with TcpServer() as server:
        app = converted["tcp-echo-client"]
        window = launch(browser, app, browsers)
        submit(window, "form", {"port": server.port, "lines": "hello|overlapping reads"})
        wait_state(window, ("done",))
        assert bytes(server.received) == b"hello\noverlapping reads\n"
        transcript = window.evaluate("transcript")
        assert 'echoed: "hello\\noverlapping reads\\n"' in transcript
        # Launching again fires onLaunched again; create() with the same id focuses the existing window.
        browser.send("Target.createTarget", {"url": app.launch_url})
        window.wait_for("chrome.app.window.getAll().length === 1 && chrome.app.window.current().id === 'main'")
        windows = [t for t in browser.targets() if t["url"] == app.window_url]
        assert len(windows) == 1


def test_http_server_app_accepts_clients_and_answers_them(browser: Browser, browsers: BrowserPool,
                                                        converted: dict[str, ConvertedApp]) -> None:
    window = launch(browser, converted["http-server"], browsers)
    submit(window, "form", {"port": 0})
    wait_state(window, ("listening",))
    port = window.evaluate("listeningPort")
    bodies = []
    for path in ("/first", "/second?x=1"):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", path)
        resp = conn.getresponse()
        assert resp.status == 200
        bodies.append(resp.read().decode())
        conn.close()
    assert bodies == ["Hello from a Chrome App! You asked for /first (request 1)\n",
                      "Hello from a Chrome App! You asked for /second?x=1 (request 2)\n"]
    transcript = window.evaluate("transcript")
    assert "request 1: GET /first HTTP/1.1" in transcript and "request 2: GET /second?x=1 HTTP/1.1" in transcript
    # The background page counted through chrome.runtime.getBackgroundPage and chrome.storage.
    stored = window.evaluate("new Promise(r => chrome.storage.local.get('served', i => r(i.served)))")
    assert stored == 2


def test_udp_echo_client_sends_datagrams_and_shows_the_replies(browser: Browser, browsers: BrowserPool,
                                                             converted: dict[str, ConvertedApp]) -> None:
    with UdpEchoServer() as server:
        window = launch(browser, converted["udp-echo-client"], browsers)
        submit(window, "form", {"port": server.port, "messages": "ping 1|ping 2|ping 3"})
        wait_state(window, ("done",))
        assert [data for data, _ in server.received] == [b"ping 1", b"ping 2", b"ping 3"]
        transcript = window.evaluate("transcript")
        assert [line.split(": ", 1)[1] for line in transcript if line.startswith("reply from 127.0.0.1:")] == \
            ["ping 1", "ping 2", "ping 3"]


def test_multicast_chat_exchanges_messages_with_the_group(browser: Browser, browsers: BrowserPool,
                                                        converted: dict[str, ConvertedApp]) -> None:
    port = free_port(socket.SOCK_DGRAM)
    window = launch(browser, converted["multicast-chat"], browsers)
    submit(window, "join", {"nick": "alice", "address": MCAST_GROUP, "port": port})
    wait_state(window, ("joined",))
    # Chrome's chrome.socket binds without SO_REUSEADDR (checked against the oracle: a second bind of the port
    # gets -147), so this side cannot listen on the app's port; it sends from its own socket instead, and the
    # app's own datagram comes back to it through the group (loopback mode on).
    member = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        member.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        member.sendto(b"bob: hi alice", (MCAST_GROUP, port))
        window.wait_for("transcript.includes('bob: hi alice')")
        submit(window, "say", {"message": "hello bob"})
        window.wait_for("transcript.includes('alice: hello bob')")
        transcript = window.evaluate("transcript")
        assert transcript[0] == f"* joined {MCAST_GROUP} port {port} as alice"
        assert transcript[1:] == ["bob: hi alice", "alice: hello bob"]
    finally:
        member.close()


def test_tls_client_fetches_a_page_over_secure(browser: Browser, browsers: BrowserPool,
                                              converted: dict[str, ConvertedApp], tls_server: HttpsPageServer) -> None:
    window = launch(browser, converted["tls-client"], browsers)
    submit(window, "form", {"host": "localhost", "port": tls_server.port, "path": "/secret"})
    wait_state(window, ("done",))
    assert tls_server.requests and tls_server.requests[-1].startswith(b"GET /secret HTTP/1.0\r\nHost: localhost\r\n")
    response = window.evaluate("response")
    assert response.startswith("HTTP/1.0 200 OK") and response.endswith("the secret page\n")


def test_the_launch_page_throws_nothing_and_closes_its_tab_unless_asked_to_keep_it(
        browser: Browser, browsers: BrowserPool, converted: dict[str, ConvertedApp]) -> None:
    app = converted["http-server"]
    kept = open_watched(browser, app.launch_url + "?keep")
    browsers.pages.append(kept)
    kept.wait_for("document.documentElement.dataset.launched === 'true'")
    assert kept.evaluate("[document.getElementById('status').textContent, document.title]") == \
        ["Launched Tiny HTTP Server.", "Launching Tiny HTTP Server"]
    launched = open_watched(browser, app.launch_url)
    wait_closed(browser, launched.target_id)
    assert page_errors(browser, kept) == [] and page_errors(browser, launched) == []
    # Both launches fired onLaunched; the app's window has the id 'main', so it was opened once.
    assert [t["url"] for t in browser.targets()].count(app.window_url) == 1


def test_runtime_gives_windows_background_page_and_fails_missing_apis_loudly(
        browser: Browser, browsers: BrowserPool, converted: dict[str, ConvertedApp]) -> None:
    app = converted["runtime-probe"]
    assert "missing   chrome.serial.getDevices" in app.stdout
    browser.send("Target.createTarget", {"url": app.launch_url})
    url = f"chrome-extension://{app.ext_id}/probe.html"
    target = browser.wait_for_target(lambda t: t["type"] == "page" and t["url"] == url, what="probe window")
    window = browser.attach(target["targetId"])
    browsers.pages.append(window)
    window.wait_for("typeof appState === 'string' && appState === 'done'")
    assert window.evaluate("transcript") == [
        "launched from app_launcher",
        "current probe of 1",
        "background /resocket/background.html true",
        ("serial undefined chrome.serial.getDevices is not available in this converted app "
        "(resocket convert-app: see resocket/report.json)"),
    ]
    background = browser.attach(browser.wait_for_target(
        lambda t: t["url"] == f"chrome-extension://{app.ext_id}/resocket/background.html", what="background")["targetId"])
    window.evaluate("setTimeout(() => chrome.app.window.current().close(), 0), true")
    background.wait_for("closedIds.length === 1")
    assert background.evaluate("[closedIds, chrome.app.window.getAll().length]") == [["probe"], 0]


def test_a_window_on_a_page_left_as_data_gets_the_runtime_from_the_loader_page(
        browser: Browser, browsers: BrowserPool, converted: dict[str, ConvertedApp]) -> None:
    app = converted["runtime-probe"]
    assert "left as data, unchanged: pages/computed.html" in app.stdout
    assert (app.out / "pages" / "computed.html").read_text() == PROBE_APP["pages/computed.html"]
    origin = f"chrome-extension://{app.ext_id}/"
    browser.send("Target.createTarget", {"url": app.launch_url})
    background = browser.attach(browser.wait_for_target(
        lambda t: t["url"] == f"{origin}resocket/background.html", what="background")["targetId"])
    background.wait_for("typeof openComputedPage === 'function' && window.__resocketRuntime.ready")
    background.evaluate("openComputedPage(), true")
    target = browser.wait_for_target(
        lambda t: t["type"] == "page" and t["url"].startswith((f"{origin}resocket/page.html", f"{origin}pages/")),
        what="computed page window")
    window = browser.attach(target["targetId"])
    browsers.pages.append(window)
    window.wait_for("typeof computedState === 'string' && computedState === 'loaded'")
    assert window.evaluate("[location.href, computedLog]") == [f"{origin}pages/computed.html?n=1", [
        "at /pages/computed.html?n=1", "callback set in create callback", "current computed",
        "socket function", "text computed page", "load"]]
    assert background.evaluate("chrome.app.window.get('computed').contentWindow.computedState") == "loaded"


def test_two_apps_of_the_same_name_have_their_own_ids_and_grants(browser: Browser, browsers: BrowserPool,
                                                                converted: dict[str, ConvertedApp]) -> None:
    """Two keyless "Hello World!" apps: the TCP one connects; the one that declared only UDP gets Chrome's
    refusal, not the other's grant (docs/convert-app.md, "One app, one ID")."""
    tcp_app, udp_app = converted["hello-tcp"], converted["hello-udp"]
    assert tcp_app.ext_id != udp_app.ext_id
    connect = """new Promise((resolve) => chrome.socket.create("tcp", {}, (c) =>
        chrome.socket.connect(c.socketId, "127.0.0.1", PORT, (r) => {
          const le = chrome.runtime.lastError;
          resolve({connect: r, lastError: le ? le.message : null});
        })))"""
    with TcpServer() as server:
        seen = {app.name: launch(browser, app, browsers).evaluate(connect.replace("PORT", str(server.port)))
                for app in (tcp_app, udp_app)}
        assert seen == {"hello-tcp": {"connect": 0, "lastError": None},
                        "hello-udp": {"connect": -1, "lastError": "App does not have permission"}}, seen
        assert server.connected.wait(30) and server.accepted == 1  # (the wait only bounds a hang)
