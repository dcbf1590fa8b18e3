"""The app platform socket apps stand on, in a converted app in real headless Chromium, and what the report says of it.

A legacy app (`PLATFORM_APP`) uses what the issue lists around chrome.socket: chrome.storage (local, sync,
onChanged), chrome.alarms, chrome.notifications, chrome.power, chrome.system.network/display,
runtime.getPackageDirectoryEntry, runtime.onSuspend/onStartup/reload, chrome.app.window options (bounds, state,
singleton ids, onClosed, contentWindow, frame: 'none'), a sandboxed page, a <webview>, and the file_handlers and
url_handlers manifest keys. Each is checked twice: the status convert-app reports for it, and what the app sees
when it runs.
"""
from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator

import pytest

from .cdp import Browser, Session
from .conftest import BrowserPool
from .resocket_side import ResocketProfile, extension_available
from .test_converted_apps import ConvertedApp, convert_app
from .test_file_system_app import page

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(not extension_available(), reason="extension/chrome-socket.js not present"),
]


def one_pixel_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


PLATFORM_APP: dict[str, str | bytes] = {
    "manifest.json": json.dumps({
        "manifest_version": 2, "name": "Platform Probe", "version": "1",
        "app": {"background": {"scripts": ["bg.js"]}},
        "permissions": ["storage", "alarms", "notifications", "power", "system.network", "system.display"],
        "sandbox": {"pages": ["sandboxed.html"]},
        "file_handlers": {"text": {"types": ["text/*"]}},
        "url_handlers": {"site": {"matches": ["https://example.com/*"], "title": "Open in Platform Probe"}},
    }),
    "icon.png": one_pixel_png(),
    "bg.js": """
        var events = [];
        var kept = {};
        chrome.storage.onChanged.addListener(function(changes, area) {
          Object.keys(changes).forEach(function(key) {
            events.push('storage ' + area + ' ' + key + '=' + JSON.stringify(changes[key].newValue));
          });
        });
        chrome.alarms.onAlarm.addListener(function(alarm) { events.push('alarm ' + alarm.name); });
        chrome.runtime.onSuspend.addListener(function() { events.push('suspend'); });
        chrome.runtime.onStartup.addListener(function() { events.push('startup'); });
        chrome.app.runtime.onLaunched.addListener(function() {
          chrome.app.window.create('main.html', {id: 'main', innerBounds: {left: 40, top: 30, width: 420, height: 300}},
            function(w) {
              w.contentWindow.createdBy = 'the background page';
              w.onClosed.addListener(function() { events.push('closed ' + w.id); });
            });
        });
        function readPackaged(name, callback) {
          kept.packageEntry.getFile(name, {}, function(fileEntry) {
            fileEntry.file(function(file) { file.text().then(callback); });
          }, function(err) { callback('error ' + err.name); });
        }
        function openOthers() {
          chrome.app.window.create('main.html', {id: 'main'}, function(w) { kept.again = w; });
          chrome.app.window.create('plain.html', {id: 'frameless', frame: 'none', innerBounds: {width: 200, height: 150}});
          chrome.app.window.create('plain.html', {id: 'max', state: 'maximized'});
          chrome.app.window.create('plain.html', {id: 'hidden', hidden: true});
          chrome.app.window.create('sandboxed.html', {id: 'sandboxed'});
        }
        function reloadApp() { chrome.runtime.reload(); }
    """,
    "main.html": '<!DOCTYPE html><html><head><meta charset="utf-8"><title>main</title></head><body>'
                 '<webview id="web" src="https://example.com/"></webview><script src="main.js"></script></body></html>',
    "main.js": """
        var appState = 'running';
        var seen = {createdBy: window.createdBy};
        function lastError() { return chrome.runtime.lastError ? chrome.runtime.lastError.message : null; }
        chrome.storage.local.set({counter: 1});
        chrome.storage.sync.set({synced: 'yes'});
        chrome.alarms.create('soon', {delayInMinutes: 0.01});
        chrome.notifications.create('hello', {type: 'basic', iconUrl: 'icon.png', title: 'Probe', message: 'hi'},
          function(id) { seen.notification = [id, lastError()]; });
        chrome.power.requestKeepAwake('system');
        chrome.power.releaseKeepAwake();
        chrome.system.network.getNetworkInterfaces(function(list) { seen.interfaces = [Array.isArray(list), lastError()]; });
        chrome.system.display.getInfo(function(displays) { seen.displays = displays.length; });
        chrome.runtime.getPackageDirectoryEntry(function(dir) {
          chrome.runtime.getBackgroundPage(function(bg) {
            bg.kept.packageEntry = dir;
            seen.packageEntry = dir.isDirectory;
            appState = 'done';
          });
        });
        var web = document.getElementById('web');
        seen.webview = [typeof web.executeScript, typeof web.src, web.shadowRoot];
    """,
    "plain.html": '<!DOCTYPE html><html><head><meta charset="utf-8"><title>plain</title></head><body></body></html>',
    "sandboxed.html": '<!DOCTYPE html><html><head><meta charset="utf-8"><title>sandboxed</title></head><body>'
                      '<script>document.title = "sandboxed, chrome.runtime " + typeof (window.chrome && '
                      'chrome.runtime && chrome.runtime.id);</script></body></html>',
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> tuple[ResocketProfile, ConvertedApp]:
    profile = ResocketProfile(tmp_path_factory.mktemp("platform"))
    src = profile.root / "src"
    for rel, content in PLATFORM_APP.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (src / rel).write_bytes(content)
        else:
            (src / rel).write_text(content)
    return profile, convert_app(profile, "platform-probe", src, profile.root / "converted")


@pytest.fixture(scope="module")
def running(browsers: BrowserPool, app: tuple[ResocketProfile, ConvertedApp]) -> Iterator[tuple[Browser, Session, Session]]:
    """(browser, the app's main window once its calls answered, the background page)."""
    profile, converted = app
    browser = browsers.launch_resocket("platform", profile, [converted.out])
    browser.send("Target.createTarget", {"url": converted.launch_url})
    origin = f"chrome-extension://{converted.ext_id}/"
    window = page(browser, browsers, f"{origin}main.html", "main window")
    window.wait_for("typeof appState === 'string' && appState === 'done' && seen.notification && seen.interfaces "
                    "&& seen.displays !== undefined")
    background = page(browser, browsers, f"{origin}resocket/background.html", "background page")
    yield browser, window, background


# -- tests -------------------------------------------------------------------------------------------------
def test_the_report_says_supported_emulated_or_missing_for_each_platform_api(
        app: tuple[ResocketProfile, ConvertedApp]) -> None:
    _, converted = app
    report = json.loads((converted.out / "resocket" / "report.json").read_text())
    statuses = {api["name"]: api["status"] for api in report["apis"]}
    expected = {
        "chrome.storage.local.set": "supported", "chrome.storage.sync.set": "supported",
        "chrome.storage.onChanged.addListener": "supported", "chrome.alarms.create": "supported",
        "chrome.alarms.onAlarm": "supported", "chrome.notifications.create": "supported",
        "chrome.power.requestKeepAwake": "supported", "chrome.power.releaseKeepAwake": "supported",
        "chrome.system.network.getNetworkInterfaces": "supported", "chrome.system.display.getInfo": "supported",
        "chrome.runtime.getPackageDirectoryEntry": "supported", "chrome.runtime.reload": "supported",
        "chrome.runtime.onSuspend": "emulated", "chrome.runtime.onStartup": "emulated",
        "chrome.runtime.getBackgroundPage": "emulated", "chrome.app.window.create": "emulated",
        "chrome.app.runtime.onLaunched": "emulated", "chrome.app.window.create({frame: 'none'})": "emulated",
        "<webview>": "missing",
    }
    assert {name: statuses.get(name) for name in expected} == expected
    assert "missing   <webview>" in converted.stdout
    notes = "\n".join(report["manifest"])
    assert "'file_handlers': dropped: the browser no longer offers the app for opening files" in notes
    assert "'url_handlers': dropped: links to the app's URLs open as web pages in the browser" in notes
    assert report["pages"]["sandboxed"] == ["sandboxed.html"]
    manifest = json.loads((converted.out / "manifest.json").read_text())
    assert {"storage", "alarms", "notifications", "power", "system.network", "system.display"} <= \
        set(manifest["permissions"])


def test_native_platform_apis_answer_the_app(running: tuple[Browser, Session, Session]) -> None:
    _, window, background = running
    seen = window.evaluate("seen")
    assert seen == {"createdBy": "the background page", "notification": ["hello", None],
                    "interfaces": [True, None], "displays": seen["displays"], "packageEntry": True,
                    "webview": ["undefined", "undefined", None]}  # an empty element: no page, no webview methods
    assert seen["displays"] >= 1
    background.wait_for("events.includes('alarm soon')")
    events = background.evaluate("events")
    assert 'storage local counter=1' in events and 'storage sync synced="yes"' in events
    # The background page is never suspended, and it was not running when the browser started.
    assert "suspend" not in events and "startup" not in events


def test_app_windows_keep_their_ids_bounds_states_and_fullscreen(running: tuple[Browser, Session, Session]) -> None:
    browser, window, background = running
    assert window.evaluate("[innerWidth, innerHeight]") == [420, 300]
    background.evaluate("openOthers(), true")
    background.wait_for("['frameless', 'max', 'hidden', 'sandboxed'].every((id) => chrome.app.window.get(id) && "
                        "chrome.app.window.get(id).windowId !== null) && kept.again !== undefined")
    # The same id: the existing window is returned (and focused), no second one opens.
    assert background.evaluate("kept.again === chrome.app.window.get('main')") is True
    assert [t["url"].rsplit("/", 1)[1] for t in browser.targets() if t["url"].endswith("/main.html")] == ["main.html"]
    states = """Promise.all(['max', 'frameless', 'hidden'].map((id) => new Promise((resolve) =>
        chrome.windows.get(chrome.app.window.get(id).windowId, (w) => resolve([id, w.state, w.type])))))"""
    assert background.evaluate(states) == [["max", "maximized", "popup"], ["frameless", "normal", "popup"],
                                           ["hidden", "minimized", "popup"]]
    assert background.evaluate("chrome.app.window.get('max').isMaximized()") is True
    background.evaluate("chrome.app.window.get('frameless').fullscreen(), true")
    background.wait_for(f"{states}.then((s) => s[1][1] === 'fullscreen')")
    assert background.evaluate("chrome.app.window.get('frameless').isFullscreen()") is True
    sandboxed = browser.wait_for_target(lambda t: t["url"].endswith("/sandboxed.html") and t["title"].startswith("sandboxed,"),
                                        what="sandboxed page")
    assert sandboxed["title"] == "sandboxed, chrome.runtime undefined"


def test_the_package_entry_a_window_got_outlives_it_and_on_closed_fires(
        running: tuple[Browser, Session, Session]) -> None:
    browser, window, background = running
    browser.send("Target.closeTarget", {"targetId": window.target_id})
    background.wait_for("events.includes('closed main')")
    text = background.evaluate("new Promise((resolve) => readPackaged('plain.html', resolve))")
    assert text.startswith("<!DOCTYPE html>") and "<title>plain</title>" in text
    assert background.evaluate("chrome.app.window.get('main')") is None
