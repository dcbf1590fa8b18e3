"""`resocket install` and `resocket doctor` against Debian's Chromium: what the doctor says agrees with what
the browser does.

After `resocket install --browser chromium --user-data-dir DIR` the doctor exits 0 and an extension page's
`connectNative` gets the host's hello. Then the install is broken the ways users break it (manifest
deleted, host not executable, another extension's ID in `allowed_origins`); for each, the doctor exits 1
with a fix, Chromium's `chrome.runtime.lastError` is the message docs/install.md's "Common errors" table
lists for that cause, the chrome.socket shim passes it on with its own hint, and after running the
doctor's fix command the browser connects again.

One Chromium for the module: it reads the host manifest on every `connectNative`, so no restart is needed
between breaking and fixing.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from resocket import HOST_NAME

from .cdp import Browser
from .conftest import BrowserPool
from .resocket_side import (
    EXTENSION_ID,
    EXTENSION_ORIGIN,
    SCENARIO_PAGE,
    _venv_bin,
    copy_extension,
    extension_available,
)

pytestmark = pytest.mark.skipif(not extension_available(), reason="extension/ not there yet")

REPO = Path(__file__).resolve().parents[2]
SCENARIO_URL = f"chrome-extension://{EXTENSION_ID}/{SCENARIO_PAGE}"
OTHER_ORIGIN = "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"

# In an extension page that loaded the shim: Chromium's own answer to connectNative + hello, then what a
# chrome.socket caller sees (the shim opens its own port to the host).
PROBE_JS = """(async () => {
  const native = await new Promise((resolve) => {
    const port = chrome.runtime.connectNative(HOST_NAME);
    port.onMessage.addListener((m) => { resolve({reply: m}); port.disconnect(); });
    port.onDisconnect.addListener(() => resolve({error: chrome.runtime.lastError ? chrome.runtime.lastError.message : null}));
    port.postMessage({id: 1, op: 'hello', args: {protocol: 1, client: 'e2e-install/1'}});
  });
  const shim = await new Promise((resolve) => chrome.socket.create('tcp', {}, (info) => {
    const le = chrome.runtime.lastError;
    resolve({socketId: info && info.socketId, error: le ? le.message : null});
  }));
  if (shim.socketId > 0) chrome.socket.destroy(shim.socketId);
  return {native, shim};
})()""".replace("HOST_NAME", json.dumps(HOST_NAME))


def documented_causes() -> dict[str, str]:
    """docs/install.md's "Common errors and their fixes" table: what the extension sees -> usual cause."""
    text = (REPO / "docs" / "install.md").read_text()
    table = text.split("## Common errors and their fixes", 1)[1].split("\n\n", 1)[0]
    rows = [row.split("|") for row in table.splitlines()[3:] if row.startswith("|")]
    return {cells[1].strip(): cells[2].strip() for cells in rows}


@dataclass
class Setup:
    browser: Browser
    browsers: BrowserPool
    user_data_dir: Path
    env: dict[str, str]
    own_host: Path  # a copy of this checkout's resocket-host that the tests may chmod

    @property
    def manifest(self) -> Path:
        return self.user_data_dir / "NativeMessagingHosts" / f"{HOST_NAME}.json"

    def run(self, argv: list[str]) -> subprocess.CompletedProcess:
        env = {**os.environ, **self.env}
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)

    def install(self, *extra: str) -> None:
        proc = self.run([_venv_bin("resocket"), "install", "--browser", "chromium", "--user-data-dir",
                         str(self.user_data_dir), *extra])
        assert proc.returncode == 0, proc.stderr

    def doctor(self) -> tuple[int, dict]:
        proc = self.run([_venv_bin("resocket"), "doctor", "--json", "--browser", "chromium", "--user-data-dir",
                         str(self.user_data_dir)])
        assert proc.returncode in (0, 1), proc.stderr
        return proc.returncode, json.loads(proc.stdout)

    def probe(self) -> dict:
        page = self.browser.new_page(SCENARIO_URL,
                                     ready="typeof chrome === 'object' && typeof chrome.socket === 'object'")
        self.browsers.pages.append(page)
        try:
            return page.evaluate(PROBE_JS)
        finally:
            self.browser.send("Target.closeTarget", {"targetId": page.target_id})
            self.browsers.pages.remove(page)


@pytest.fixture(scope="module")
def setup(browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("install-in-browser")
    (root / "config").mkdir()
    (root / "bin").mkdir()
    own_host = root / "bin" / "resocket-host"
    shutil.copy2(_venv_bin("resocket-host"), own_host)  # a console script: absolute shebang, runs anywhere
    env = {"RESOCKET_CONFIG_DIR": str(root / "config"), "RESOCKET_LOG": "DEBUG"}  # host logs go to chromium.log
    udd = root / "udd"
    udd.mkdir()  # install refuses a --user-data-dir that does not exist (a typo would register nothing)
    s = Setup(None, browsers, udd, env, own_host)  # type: ignore[arg-type]
    s.install()
    s.browser = browsers.launch("install", udd, extensions=[copy_extension(root / "extension")], env=env)
    yield s


def assert_connects(s: Setup) -> None:
    code, report = s.doctor()
    assert code == 0 and report["ok"], report["problems"]
    seen = s.probe()
    assert seen["native"].get("reply", {}).get("result", {}).get("protocol") == 1, seen
    assert seen["shim"]["error"] is None and seen["shim"]["socketId"] > 0, seen


def test_after_install_the_doctor_passes_and_chromium_gets_the_hosts_hello(setup: Setup) -> None:
    setup.install()
    assert_connects(setup)
    manifest = json.loads(setup.manifest.read_text())
    assert manifest["path"] == _venv_bin("resocket-host")
    assert manifest["allowed_origins"] == [EXTENSION_ORIGIN]


def _delete_manifest(s: Setup) -> None:
    s.manifest.unlink()


def _host_not_executable(s: Setup) -> None:
    s.own_host.chmod(0o644)


def _other_extension_only(s: Setup) -> None:
    manifest = json.loads(s.manifest.read_text())
    manifest["allowed_origins"] = [OTHER_ORIGIN]
    s.manifest.write_text(json.dumps(manifest))


@dataclass
class Breakage:
    name: str
    break_it: Callable[[Setup], None]
    chromium_says: tuple[str, ...]  # Chromium's lastError: one of these
    cause: str  # what docs/install.md's table gives as a cause of that message
    problem: str  # a regex the doctor's problem text matches
    fix: str  # a regex the doctor's fix command matches (the user-data-dir is substituted)


BREAKAGES = [
    Breakage("manifest deleted", _delete_manifest, ("Specified native messaging host not found.",),
             "no manifest where this browser looks", r"no resocket manifest where Chromium looks", r"resocket install --browser chromium --user-data-dir UDD$"),
    # Chromium says "exited" or, when the page's first message met the dead pipe first, "communicating"
    # (both seen in Chromium 156 with the same breakage).
    Breakage("host not executable", _host_not_executable,
             ("Native host has exited.", "Error when communicating with the native messaging host."),
             "`path` not executable",
             r"is not executable", r"^chmod \+x HOST$"),
    Breakage("another extension's ID only", _other_extension_only,
             ("Access to the specified native messaging host is forbidden.",),
             "the extension's ID is not in `allowed_origins`",
             r"allowed_origins does not contain " + re.escape(EXTENSION_ORIGIN),
             r"resocket install --browser chromium --user-data-dir UDD$"),
]


@pytest.mark.parametrize("breakage", BREAKAGES, ids=[b.name for b in BREAKAGES])
def test_a_broken_install_fails_in_doctor_and_chromium_alike_and_the_printed_fix_repairs_it(
        setup: Setup, breakage: Breakage) -> None:
    # The one install whose host the test may chmod: this checkout's host, copied.
    setup.own_host.chmod(0o755)
    setup.install("--host-path", str(setup.own_host))
    assert_connects(setup)

    breakage.break_it(setup)

    code, report = setup.doctor()
    assert code == 1 and not report["ok"]
    [problem] = [p for p in report["problems"] if re.search(breakage.problem, p["problem"])]
    fix_pattern = breakage.fix.replace("UDD", re.escape(shlex.quote(str(setup.user_data_dir)))) \
                              .replace("HOST", re.escape(shlex.quote(str(setup.own_host))))
    assert re.search(fix_pattern, problem["fix"]), problem

    seen = setup.probe()
    said = seen["native"].get("error")
    assert said in breakage.chromium_says, seen
    # The shim hands Chromium's words on (its own port may lose the same race the other way), with where
    # to look next.
    assert seen["shim"]["socketId"] == -1, seen
    shim_said = re.fullmatch(r"resocket host not available \((.*?)\): (.*)", seen["shim"]["error"])
    assert shim_said and shim_said.group(1) in breakage.chromium_says, seen
    assert "resocket doctor" in shim_said.group(2), seen
    # docs/install.md gives this cause for what the extension saw.
    causes = documented_causes()
    for message in {said, shim_said.group(1)}:
        assert breakage.cause in causes.get(message, ""), (message, causes)

    fixed = setup.run(shlex.split(problem["fix"]))
    assert fixed.returncode == 0, fixed.stderr
    if breakage.fix.startswith("resocket install"):
        # install repairs the manifest and keeps what an earlier manifest allowed
        assert json.loads(setup.manifest.read_text())["path"] == _venv_bin("resocket-host")
    assert_connects(setup)
