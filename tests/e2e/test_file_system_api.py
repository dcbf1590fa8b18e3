"""chrome.fileSystem call by call in a converted app, in real headless Chromium: the shapes and answers of Chrome's API.

Two small legacy apps are converted: one with `{"fileSystem": ["write", "directory", "retainEntries"]}`, one with
a bare `"fileSystem"` (read only, no folders). Calls run in the app window without a click, so each chooser
request opens resocket's chooser window; the test answers it the way a user can in headless Chromium, by dropping
real files or folders on it (Input.dispatchDragEvent), or with its Cancel button, or by closing it. The profile
holds the user's "Allow" for file access (see test_file_system_app.py: headless prompts are shown to nobody).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .cdp import Browser, Session
from .conftest import BrowserPool
from .resocket_side import ResocketProfile, extension_available
from .test_converted_apps import ConvertedApp, convert_app
from .test_file_system_app import allow_file_access, centre, page

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(not extension_available(), reason="extension/chrome-socket.js not present"),
]


def probe_app(name: str, permission: object) -> dict[str, str]:
    return {
        "manifest.json": json.dumps({"manifest_version": 2, "name": name, "version": "1",
                                     "app": {"background": {"scripts": ["bg.js"]}}, "permissions": [permission]}),
        "bg.js": """
            chrome.app.runtime.onLaunched.addListener(function() {
              chrome.app.window.create('probe.html', {id: 'probe'});
            });
            function chooseFromHere(callback) {
              chrome.fileSystem.chooseEntry({type: 'openFile'}, function(entry) {
                callback([entry, chrome.runtime.lastError && chrome.runtime.lastError.message]);
              });
            }
        """,
        "probe.html": '<!DOCTYPE html><html><head><meta charset="utf-8"><title>probe</title></head>'
                      '<body><p><button id="open" type="button">Open</button></p><script src="probe.js"></script>'
                      '</body></html>',
        # The button asks with the options the test left in window.clickOptions, inside the click handler.
        "probe.js": "document.getElementById('open').addEventListener('click', function() { ask(window.clickOptions); });",
    }


# Helpers the test evaluates in the app window: `ask(options)` starts chooseEntry and keeps what it called back.
HELPERS = """
  window.lastErr = () => chrome.runtime.lastError ? chrome.runtime.lastError.message : null;
  window.show = (e) => e ? [e.isFile ? 'file' : 'dir', e.name, e.fullPath] : null;
  window.ask = (options) => {
    window.answer = undefined;
    chrome.fileSystem.chooseEntry(options, (entry, entries) => {
      window.entry = entry; window.entries = entries;
      window.answer = {error: lastErr(), entry: show(entry), entries: entries ? entries.map(show) : null};
    });
    return true;
  };
  // A callback-style call as a promise: success values, or 'error <name>' from the error callback.
  window.p = (f) => new Promise((resolve) => f(resolve, (err) => resolve('error ' + err.name)));
  window.readText = (fileEntry) => p((ok, bad) => fileEntry.file((f) => f.text().then(ok), bad));
  window.writeWith = (fileEntry, steps) => p((ok, bad) => fileEntry.createWriter((w) => {
    const events = [];
    for (const t of ['writestart', 'progress', 'write', 'error', 'abort', 'writeend']) w['on' + t] = () => events.push(t);
    let i = 0;
    w.addEventListener('writeend', () => {
      if (i < steps.length) steps[i++](w); else ok({events, position: w.position, length: w.length});
    });
    steps[i++](w);
  }, bad));
  true
"""


@dataclass
class Probe:
    app: ConvertedApp
    window: Session
    browser: Browser
    chooser_ids: set[str]

    def ask(self, options: dict[str, Any]) -> None:
        self.window.evaluate(f"ask({json.dumps(options)})")

    def chooser(self) -> Session:
        """The chooser window this request opened (a new one each time)."""
        origin = f"chrome-extension://{self.app.ext_id}/resocket/choose.html"
        target = self.browser.wait_for_target(
            lambda t: t["url"].startswith(origin) and t["targetId"] not in self.chooser_ids, what="chooser window")
        self.chooser_ids.add(target["targetId"])
        session = self.browser.attach(target["targetId"])
        # A new window starts on about:blank: wait for the chooser itself, its DOMContentLoaded handler done.
        session.wait_for("location.pathname === '/resocket/choose.html' && document.readyState === 'complete' && "
                         "document.title !== 'Choose'")
        return session

    def drop(self, *paths: Path, title: str | None = None) -> dict[str, Any]:
        """Answer the open chooser window by dropping `paths` on it (checking its title first, if given)."""
        chooser = self.chooser()
        if title is not None:
            assert chooser.evaluate("document.title") == title
        x, y = centre(chooser, "#drop")
        data = {"items": [], "files": [str(p) for p in paths], "dragOperationsMask": 1}
        for kind in ("dragEnter", "dragOver", "drop"):
            chooser.send("Input.dispatchDragEvent", {"type": kind, "x": x, "y": y, "data": data})
        return self.answer()

    def answer(self) -> dict[str, Any]:
        self.window.wait_for("window.answer !== undefined")
        return self.window.evaluate("window.answer")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("chosen")
    (root / "one.txt").write_text("one\n")
    (root / "two.txt").write_text("two\n")
    (root / "site").mkdir()
    (root / "site" / "page.html").write_text("<p>page</p>\n")
    (root / "site" / "sub").mkdir()
    (root / "site" / "sub" / "deep.txt").write_text("deep\n")
    return root


@pytest.fixture(scope="module")
def probes(browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Probe]]:
    profile = ResocketProfile(tmp_path_factory.mktemp("file-system-api"))
    apps = {}
    for name, permission in (("full", {"fileSystem": ["write", "directory", "retainEntries"]}),
                             ("bare", "fileSystem")):
        src = profile.root / f"{name}-src"
        for rel, text in probe_app(f"FS Probe {name}", permission).items():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_text(text)
        apps[name] = convert_app(profile, name, src, profile.root / name)
    allow_file_access(profile, [a.ext_id for a in apps.values()])
    browser = browsers.launch_resocket("file-system-api", profile, [a.out for a in apps.values()])
    out = {}
    for name, app in apps.items():
        browser.send("Target.createTarget", {"url": app.launch_url})
        window = page(browser, browsers, f"chrome-extension://{app.ext_id}/probe.html", f"{name} probe window")
        window.wait_for("document.readyState === 'complete' && typeof chrome.fileSystem === 'object'")
        window.evaluate(HELPERS)
        out[name] = Probe(app, window, browser, set())
    yield out


# -- tests -------------------------------------------------------------------------------------------------
def test_open_file_with_accepts_multiple_gives_read_only_file_entries(probes: dict[str, Probe], files: Path) -> None:
    probe = probes["full"]
    probe.ask({"type": "openFile", "acceptsMultiple": True,
               "accepts": [{"description": "Text", "extensions": ["txt"], "mimeTypes": ["text/plain"]}]})
    answer = probe.drop(files / "one.txt", files / "two.txt", title="FS Probe full wants to open a file")
    assert answer == {"error": None, "entry": None,
                      "entries": [["file", "one.txt", "/one.txt"], ["file", "two.txt", "/two.txt"]]}
    w = probe.window
    assert w.evaluate("Promise.all(entries.map(readText))") == ["one\n", "two\n"]
    assert w.evaluate("p((ok) => chrome.fileSystem.isWritableEntry(entries[0], ok))") is False
    assert w.evaluate("p((ok, bad) => entries[0].createWriter(ok, bad))") == "error SecurityError"
    assert w.evaluate("p((ok) => chrome.fileSystem.getDisplayPath(entries[1], ok))") == "two.txt"
    assert w.evaluate("p((ok, bad) => entries[0].getMetadata((m) => ok([m.size, m.modificationTime.getTime() > 0]), bad))") \
        == [4, True]
    # getWritableEntry: the app has `write`, the browser allows it: a writable entry for the same file.
    assert w.evaluate("""p((ok) => chrome.fileSystem.getWritableEntry(entries[0], (e) =>
        chrome.fileSystem.isWritableEntry(e, (writable) => ok([lastErr(), show(e), writable]))))""") == \
        [None, ["file", "one.txt", "/one.txt"], True]


def test_open_directory_gives_a_directory_entry_with_the_old_file_system_api(probes: dict[str, Probe],
                                                                             files: Path) -> None:
    probe = probes["full"]
    probe.ask({"type": "openDirectory"})
    assert probe.drop(files / "site") == {"error": None, "entry": ["dir", "site", "/site"], "entries": None}
    w = probe.window
    # readEntries: everything in one batch, then an empty one, which ends the usual loop.
    assert w.evaluate("""p((ok, bad) => { const r = entry.createReader(); r.readEntries((a) => r.readEntries((b) =>
        ok([a.map(show).sort(), b.length]), bad), bad); })""") == \
        [[["dir", "sub", "/site/sub"], ["file", "page.html", "/site/page.html"]], 0]
    assert w.evaluate("p((ok, bad) => entry.getFile('sub/deep.txt', {}, (f) => readText(f).then(ok), bad))") == "deep\n"
    assert w.evaluate("p((ok, bad) => entry.getDirectory('sub', {}, (d) => d.getFile('/page.html', {}, (f) => "
                      "ok(show(f)), bad), bad))") == ["file", "page.html", "/site/page.html"]
    assert w.evaluate("p((ok, bad) => entry.getFile('sub/../sub/deep.txt', {}, (f) => f.getParent((d) => "
                      "ok([show(d), d.fullPath]), bad), bad))") == [["dir", "sub", "/site/sub"], "/site/sub"]
    errors = w.evaluate("""Promise.all([
        p((ok, bad) => entry.getFile('missing.txt', {}, ok, bad)),
        p((ok, bad) => entry.getFile('sub', {}, ok, bad)),
        p((ok, bad) => entry.getFile('page.html', {create: true, exclusive: true}, ok, bad)),
        p((ok, bad) => entry.getDirectory('page.html', {}, ok, bad)),
    ])""")
    assert errors == ["error NotFoundError", "error TypeMismatchError", "error InvalidModificationError",
                      "error TypeMismatchError"]
    assert w.evaluate("p((ok) => chrome.fileSystem.getDisplayPath(entry, ok))") == "site"


def test_a_file_writer_writes_seeks_truncates_and_fires_its_events(probes: dict[str, Probe], files: Path) -> None:
    w = probes["full"].window
    probes["full"].ask({"type": "openDirectory"})
    probes["full"].drop(files / "site")
    result = w.evaluate("""p((ok, bad) => entry.getDirectory('made', {create: true}, (dir) =>
        dir.getFile('log.txt', {create: true}, (f) => writeWith(f, [
            (wr) => wr.write(new Blob(['hello world'])),
            (wr) => { wr.seek(-5); wr.write(new Blob(['WORLD!'])); },
            (wr) => wr.truncate(5),
        ]).then((r) => readText(f).then((text) => ok([r, text]))), bad), bad))""")
    summary, text = result
    assert text == "hello" and (files / "site" / "made" / "log.txt").read_text() == "hello"
    assert summary["length"] == 5 and summary["position"] == 5
    assert summary["events"] == ["writestart", "progress", "write", "writeend"] * 3
    # remove and removeRecursively, with the old API's refusal to remove a non-empty folder with remove().
    assert w.evaluate("p((ok, bad) => entry.getDirectory('made', {}, (d) => d.remove(ok, bad), bad))") == \
        "error InvalidModificationError"
    assert w.evaluate("p((ok, bad) => entry.getDirectory('made', {}, (d) => d.removeRecursively(() => ok('gone'), bad), "
                      "bad))") == "gone"
    assert not (files / "site" / "made").exists()


def test_save_file_gives_a_writable_entry_for_the_chosen_file(probes: dict[str, Probe], files: Path) -> None:
    probe = probes["full"]
    target = files / "saved.txt"
    target.write_text("old contents that are longer\n")
    probe.ask({"type": "saveFile", "suggestedName": "saved.txt"})
    answer = probe.drop(target, title="FS Probe full wants to save a file")
    assert answer == {"error": None, "entry": ["file", "saved.txt", "/saved.txt"], "entries": None}
    assert probe.window.evaluate("p((ok) => chrome.fileSystem.isWritableEntry(entry, ok))") is True
    summary = probe.window.evaluate("writeWith(entry, [(w) => w.truncate(0), (w) => w.write(new Blob(['new\\n']))])")
    assert summary["length"] == 4 and target.read_text() == "new\n"


@pytest.mark.parametrize("options", [
    {"type": "openFile", "accepts": [{"description": "Text", "extensions": ["txt", ".md"]}], "acceptsAllTypes": False},
    {"type": "openFile", "acceptsMultiple": True, "accepts": [{"mimeTypes": ["image/png"]}]},
    {"type": "openWritableFile"},
    {"type": "saveFile", "suggestedName": "report 100%.txt"},
    {"type": "openDirectory"},
], ids=lambda o: o["type"] + ("-multiple" if o.get("acceptsMultiple") else ""))
def test_a_click_shows_the_browsers_picker_for_each_kind_of_choice(probes: dict[str, Probe],
                                                                   options: dict[str, Any]) -> None:
    probe = probes["full"]
    w = probe.window
    w.evaluate(f"window.clickOptions = {json.dumps(options)}, window.answer = undefined, true")
    w.send("Page.enable")
    w.send("Page.setInterceptFileChooserDialog", {"enabled": True})
    try:
        seen = len(probe.browser.events)
        x, y = centre(w, "#open")
        for kind in ("mousePressed", "mouseReleased"):
            w.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})
        # The interception cancels the picker it reports: the app sees Chrome's answer to a cancel.
        assert probe.answer() == {"error": "User cancelled", "entry": None, "entries": None}
        opened = [e for e in probe.browser.events[seen:] if e.get("method") == "Page.fileChooserOpened"
                  and e.get("sessionId") == w.session_id]
        assert len(opened) == 1, "the browser's picker did not open"
        assert not any("choose.html" in t["url"] for t in probe.browser.targets())
    finally:
        w.send("Page.setInterceptFileChooserDialog", {"enabled": False})
        # The click's activation lasts a few seconds; until it lapses a call would show the picker here again
        # instead of opening the chooser window the other tests answer.
        w.wait_for("!navigator.userActivation.isActive", timeout=30)


def test_cancel_and_closing_the_chooser_answer_user_cancelled(probes: dict[str, Probe]) -> None:
    probe = probes["full"]
    probe.ask({"type": "openWritableFile"})
    # Clicked after this evaluation returns: the click closes the window it runs in.
    probe.chooser().evaluate("setTimeout(() => document.getElementById('cancel').click(), 0), true")
    assert probe.answer() == {"error": "User cancelled", "entry": None, "entries": None}
    probe.ask({"type": "openDirectory"})
    chooser = probe.chooser()
    probe.browser.send("Target.closeTarget", {"targetId": chooser.target_id})
    assert probe.answer() == {"error": "User cancelled", "entry": None, "entries": None}


def test_calls_chrome_refuses_are_refused_with_chromes_messages(probes: dict[str, Probe]) -> None:
    full, bare = probes["full"], probes["bare"]
    full.ask({"type": "openDirectory", "acceptsMultiple": True})
    assert full.answer()["error"] == "acceptsMultiple: true is only supported for 'openFile'"
    bare.ask({"type": "openDirectory"})
    assert bare.answer()["error"] == "Operation requires fileSystem.directory permission"
    bare.ask({"type": "saveFile"})
    assert bare.answer()["error"] == "Operation requires fileSystem.write permission"
    bare.ask({"type": "openWritableFile"})
    assert bare.answer()["error"] == "Operation requires fileSystem.write permission"
    w = full.window
    assert w.evaluate("p((ok) => chrome.fileSystem.restoreEntry('no-such-id', (e) => ok([e, lastErr()])))") == \
        [None, "Unknown id"]
    assert w.evaluate("p((ok) => chrome.fileSystem.isRestorable('no-such-id', ok))") is False
    assert w.evaluate("p((ok) => chrome.fileSystem.getVolumeList((v) => ok(lastErr())))") == \
        "Operation not supported on the current platform."
    bg = full.browser.attach(full.browser.wait_for_target(
        lambda t: t["url"] == f"chrome-extension://{full.app.ext_id}/resocket/background.html", what="background")
        ["targetId"])
    assert bg.evaluate("new Promise((resolve) => chooseFromHere(resolve))") == \
        [None, "Invalid calling page. This function can't be called from a background page."]
    assert not any("choose.html" in t["url"] for t in full.browser.targets())


def test_a_retained_entry_is_restored_with_the_same_id_and_access(probes: dict[str, Probe], files: Path) -> None:
    probe = probes["full"]
    probe.ask({"type": "openDirectory"})
    probe.drop(files / "site")
    w = probe.window
    restored = w.evaluate("""(() => { const id = chrome.fileSystem.retainEntry(entry);
        return p((ok) => chrome.fileSystem.isRestorable(id, (can) => chrome.fileSystem.restoreEntry(id, (e) =>
            chrome.fileSystem.isWritableEntry(e, (writable) =>
                ok([can, show(e), writable, chrome.fileSystem.retainEntry(e) === id, lastErr()]))))); })()""")
    assert restored == [True, ["dir", "site", "/site"], True, True, None]
