"""chrome.fileSystem in a converted app, driven in real headless Chromium as a user would: examples/folder-server.

The app (a 2014-style "web server for Chrome") asks for a folder on its first launch, hands the DirectoryEntry to
its background page, which serves it over HTTP with chrome.socket (GET reads, PUT writes through createWriter),
and keeps it with retainEntry for the next launch. The test:
- answers the chooser the way a user can in headless Chromium: the browser's own pickers always cancel there
  (file-system-access notes: every picker rejects with AbortError, interception included), so the folder is
  dropped on resocket's chooser window with a simulated OS drag and drop (Input.dispatchDragEvent), which gives
  the page a real FileSystemDirectoryHandle;
- clicks the app's "Choose another folder…" button with the browser's file chooser intercepted over CDP
  (Page.setInterceptFileChooserDialog): the picker opens, is cancelled, and the app sees Chrome's "User cancelled";
- reads and writes files of the real folder over HTTP, before and after the app window is closed;
- restarts the browser on the same profile: the app restores the folder and serves it without asking.

The profile is seeded with the permission a user gives by answering "Allow" to the browser's file-access prompts
(read and write guards ALLOW for the app's origin): headless Chromium shows those prompts to nobody, so an
unanswered prompt would hang forever.
"""
from __future__ import annotations

import http.client
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from .cdp import Browser, Session
from .conftest import BrowserPool
from .resocket_side import REPO, ResocketProfile, extension_available
from .test_converted_apps import ConvertedApp, convert_app

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(not extension_available(), reason="extension/chrome-socket.js not present"),
]

EXAMPLE = REPO / "examples" / "folder-server"


@dataclass
class FolderApp:
    profile: ResocketProfile
    converted: ConvertedApp
    folder: Path  # the folder the user chooses

    @property
    def origin(self) -> str:
        return f"chrome-extension://{self.converted.ext_id}/"


def allow_file_access(profile: ResocketProfile, ext_ids: list[str]) -> None:
    """The user's "Allow" to the browser's read and write prompts for these apps, as Chromium stores it
    (content settings file_system_read_guard / file_system_write_guard = ALLOW), before the first start."""
    allow = {f"chrome-extension://{ext_id},*": {"setting": 1} for ext_id in ext_ids}
    prefs = profile.user_data_dir / "Default" / "Preferences"
    prefs.parent.mkdir(parents=True, exist_ok=True)
    prefs.write_text(json.dumps({"profile": {"content_settings": {"exceptions": {
        "file_system_read_guard": allow, "file_system_write_guard": allow}}}}))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FolderApp:
    profile = ResocketProfile(tmp_path_factory.mktemp("folder-server"))
    converted = convert_app(profile, "folder-server", EXAMPLE, profile.root / "converted")
    allow_file_access(profile, [converted.ext_id])
    # Below /tmp but not /tmp itself: Chromium never hands out handles to system folders.
    folder = tmp_path_factory.mktemp("site")
    (folder / "index.html").write_text("<!DOCTYPE html><title>my site</title>\n")
    (folder / "docs").mkdir()
    (folder / "docs" / "a.txt").write_text("a file in a sub-folder\n")
    return FolderApp(profile, converted, folder)


@pytest.fixture(scope="module")
def browser(browsers: BrowserPool, app: FolderApp) -> Browser:
    return browsers.launch_resocket("folder-server", app.profile, [app.converted.out])


def page(browser: Browser, browsers: BrowserPool, url_prefix: str, what: str) -> Session:
    target = browser.wait_for_target(lambda t: t["type"] == "page" and t["url"].startswith(url_prefix), what=what)
    session = browser.attach(target["targetId"])
    browsers.pages.append(session)
    return session


def window_of(browser: Browser, browsers: BrowserPool, app: FolderApp) -> Session:
    window = page(browser, browsers, f"{app.origin}window.html", "app window")
    window.wait_for("document.readyState === 'complete' && typeof appState === 'string'")
    return window


def centre(session: Session, selector: str) -> tuple[float, float]:
    x, y = session.evaluate(f"""(() => {{ const r = document.querySelector({json.dumps(selector)})
        .getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }})()""")
    return x, y


def request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def served_port(window: Session) -> int:
    window.wait_for("appState === 'serving' || appState === 'error'")
    assert window.evaluate("appState") == "serving", window.evaluate("transcript")
    return int(window.evaluate("serverUrl").rsplit(":", 1)[1].strip("/"))


@pytest.fixture(scope="module")
def serving(browser: Browser, browsers: BrowserPool, app: FolderApp) -> tuple[Session, int]:
    """The app launched for the first time, its folder dropped on the chooser window: (app window, port)."""
    browser.send("Target.createTarget", {"url": app.converted.launch_url})
    window = window_of(browser, browsers, app)
    # No folder kept yet: the window asks at once, without a click, so the chooser window asks the user.
    chooser = page(browser, browsers, f"{app.origin}resocket/choose.html", "chooser window")
    chooser.wait_for("document.readyState === 'complete' && document.getElementById('drop').textContent !== ''")
    assert chooser.evaluate("[document.title, document.getElementById('choose').textContent]") == \
        ["Folder Web Server wants to open a folder", "Choose folder…"]
    x, y = centre(chooser, "#drop")
    data = {"items": [], "files": [str(app.folder)], "dragOperationsMask": 1}
    for kind in ("dragEnter", "dragOver", "drop"):
        chooser.send("Input.dispatchDragEvent", {"type": kind, "x": x, "y": y, "data": data})
    port = served_port(window)
    assert window.evaluate("transcript")[0] == f"chose {app.folder.name} (writable)"
    return window, port


# -- tests -------------------------------------------------------------------------------------------------
def test_the_report_lists_chrome_file_system_as_emulated(app: FolderApp) -> None:
    report = json.loads((app.converted.out / "resocket" / "report.json").read_text())
    statuses = {api["name"]: api["status"] for api in report["apis"]}
    for name in ("chooseEntry", "getDisplayPath", "isWritableEntry", "retainEntry", "isRestorable", "restoreEntry"):
        assert statuses[f"chrome.fileSystem.{name}"] == "emulated", name
    assert statuses["chrome.socket.listen"] == "supported" and statuses["chrome.storage.local.set"] == "supported"
    assert "missing" not in statuses.values()
    assert "emulated  chrome.fileSystem.chooseEntry" in app.converted.stdout


def test_the_folder_dropped_on_the_chooser_is_served(serving: tuple[Session, int], app: FolderApp) -> None:
    window, port = serving
    assert window.evaluate("document.getElementById('folder').textContent") == app.folder.name
    assert request(port, "GET", "/") == (200, b"docs/\nindex.html\n")
    assert request(port, "GET", "/index.html") == (200, (app.folder / "index.html").read_bytes())
    assert request(port, "GET", "/docs/a.txt") == (200, b"a file in a sub-folder\n")
    assert request(port, "GET", "/docs/") == (200, b"a.txt\n")
    status, body = request(port, "GET", "/nothing.txt")
    assert (status, body) == (404, b"not found: /nothing.txt\n")


def test_files_put_over_http_are_written_to_the_folder_and_read_back(serving: tuple[Session, int],
                                                                     app: FolderApp) -> None:
    _, port = serving
    assert request(port, "PUT", "/notes.txt", b"first version, quite long\n")[0] == 201
    assert (app.folder / "notes.txt").read_bytes() == b"first version, quite long\n"
    # A shorter body replaces the file (createWriter's truncate), and comes back as written.
    assert request(port, "PUT", "/notes.txt", b"second\n") == (201, b"stored 7 bytes in /notes.txt\n")
    assert (app.folder / "notes.txt").read_bytes() == b"second\n"
    assert request(port, "GET", "/notes.txt") == (200, b"second\n")
    assert request(port, "PUT", "/docs/new.bin", bytes(range(256)) * 64)[0] == 201
    assert (app.folder / "docs" / "new.bin").read_bytes() == bytes(range(256)) * 64


def test_a_click_opens_the_browsers_picker_and_cancelling_it_is_user_cancelled(
        browser: Browser, serving: tuple[Session, int]) -> None:
    window, _ = serving
    window.send("Page.enable")
    window.send("Page.setInterceptFileChooserDialog", {"enabled": True})
    seen = len(browser.events)
    x, y = centre(window, "#choose")
    for kind in ("mousePressed", "mouseReleased"):
        window.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})
    window.wait_for("transcript.includes('chooseEntry: User cancelled')")
    opened = [e for e in browser.events[seen:] if e.get("method") == "Page.fileChooserOpened"
              and e.get("sessionId") == window.session_id]
    assert len(opened) == 1
    window.send("Page.setInterceptFileChooserDialog", {"enabled": False})


def test_the_background_keeps_serving_the_folder_after_the_window_closed(
        browser: Browser, serving: tuple[Session, int], app: FolderApp) -> None:
    window, port = serving
    browser.send("Target.closeTarget", {"targetId": window.target_id})
    deadline = time.monotonic() + 30
    while any(t["url"].startswith(f"{app.origin}window.html") for t in browser.targets()):
        assert time.monotonic() < deadline, "the app window did not close"
        time.sleep(0.1)
    assert request(port, "GET", "/docs/a.txt") == (200, b"a file in a sub-folder\n")
    assert request(port, "PUT", "/after-close.txt", b"written by the background page\n")[0] == 201
    assert (app.folder / "after-close.txt").read_bytes() == b"written by the background page\n"
    assert request(port, "GET", "/") == (200, b"after-close.txt\ndocs/\nindex.html\nnotes.txt\n")


def test_after_a_browser_restart_the_kept_folder_is_restored_and_served(
        browsers: BrowserPool, browser: Browser, serving: tuple[Session, int], app: FolderApp) -> None:
    browser.close()
    again = browsers.launch_resocket("folder-server-restarted", app.profile, [app.converted.out])
    again.send("Target.createTarget", {"url": app.converted.launch_url})
    window = window_of(again, browsers, app)
    port = served_port(window)
    assert window.evaluate("transcript")[0] == f"restored {app.folder.name}"
    assert not any("/resocket/choose.html" in t["url"] for t in again.targets())
    assert request(port, "GET", "/notes.txt") == (200, b"second\n")
    assert request(port, "PUT", "/after-restart.txt", b"still writable\n")[0] == 201
    assert (app.folder / "after-restart.txt").read_bytes() == b"still writable\n"
    shutil.rmtree(app.folder / "docs")
    assert request(port, "GET", "/docs/a.txt")[0] == 404
