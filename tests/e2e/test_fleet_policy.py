"""A managed machine, end to end in Debian's Chromium, with no user action (docs/deploy.md).

Built as an administrator would: the resocket extension packed with the fleet's own key (so its own ID, and
`--page-origin` for a non-loopback intranet origin), a legacy Chrome App converted and packed with its key,
both into one bundle served by a local HTTP update server; the bundle's Chromium policy (force-install,
NativeMessagingAllowlist, NativeMessagingUserLevelHosts=false) plus developer mode off and every other
extension blocked; the host registered system-wide with `resocket install --scope system --relay-id
--extension-id`; grants managed only (the user's config dir stays empty).

Chromium runs in a private mount namespace (inside the run's private user + network namespace) where a
temp folder sits over /etc/chromium, so no other browser sees the policy or the system host manifest; the
system config dir is the temp folder's etc/resocket (RESOCKET_SYSTEM_CONFIG_DIR, which the browser passes
on to the host). A fresh profile starts: with no click the converted app exchanges bytes with a loopback
server and a page of the managed-granted origin gets a working chrome.socket. Then the server offers N+1:
Chromium updates both and they still work.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from resocket.cli import crx

from tests.support.servers import TcpServer

from .cdp import Browser, Session
from .conftest import BrowserPool
from .resocket_side import REPO, StaticServer, _venv_bin, extension_available
from .test_packaged_host import ECHO_JS

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(not extension_available(), reason="extension/ not there yet"),
]

INTRANET = "intranet.test"  # resolved to 127.0.0.1 by the browser alone (--host-resolver-rules)

# The browser's own mount namespace: the admin's /etc/chromium (policies, system host manifest) over the
# real one. The test harness's --disable-background-networking would stop every policy install, so it goes.
CHROMIUM_WITH_POLICY = r"""#!/bin/sh
set -e
mount --bind {etc} /etc/chromium
chromium=$1; shift
for arg do
  shift
  [ "$arg" = --disable-background-networking ] && continue
  set -- "$@" "$arg"
done
exec "$chromium" "$@"
"""

LEGACY_APP = {
    "manifest.json": json.dumps({"manifest_version": 2, "name": "Fleet Echo", "version": "1",
                                 "app": {"background": {"scripts": ["background.js"]}},
                                 "permissions": [{"socket": ["tcp-connect:127.0.0.1:*"]}]}),
    "background.js": """chrome.app.runtime.onLaunched.addListener(function() {
        chrome.app.window.create('window.html', {id: 'main'});
    });""",
    "window.html": '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
                   '<script src="window.js"></script></body></html>',
    # A 2013-style client: create, connect, write "ping", read the echo.
    "window.js": """var appState = 'running', transcript = [];
    chrome.socket.create('tcp', {}, function(info) {
      chrome.socket.connect(info.socketId, '127.0.0.1', %(port)d, function(result) {
        if (result < 0) { transcript.push('connect ' + result + ' ' + chrome.runtime.lastError.message);
                          appState = 'error'; return; }
        chrome.socket.write(info.socketId, new Uint8Array([112, 105, 110, 103]).buffer, function() {
          chrome.socket.read(info.socketId, function(r) {
            transcript.push(String.fromCharCode.apply(null, new Uint8Array(r.data)));
            appState = 'done';
          });
        });
      });
    });""",
}

class UpdateServer:
    """The bundle folder over HTTP, as an intranet server would serve it (the query Chrome adds is ignored)."""

    def __init__(self, folder: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.requests: list[str] = []
        self.httpd.requests = self.requests  # type: ignore[attr-defined]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        self.path = self.path.split("?", 1)[0]
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


def cli(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([_venv_bin("resocket"), *args], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, f"resocket {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def key_file(path: Path) -> str:
    key = crx.generate_private_key()
    crx.write_private_key(path, key)
    return crx.extension_id(crx.public_key_der(key))


def service_worker(browser: Browser, ext_id: str, version: str | None = None, timeout: float = 60) -> Session:
    """A session on the extension's service worker (of `version`, when given), its `chrome` ready."""
    def match(t: dict) -> bool:
        return t["type"] == "service_worker" and t["url"].startswith(f"chrome-extension://{ext_id}/")

    deadline_targets = browser.wait_for_target(match, timeout=timeout, what=f"the service worker of {ext_id}")
    worker = browser.attach(deadline_targets["targetId"])
    worker.wait_for("typeof chrome !== 'undefined' && !!chrome.runtime", timeout=30)
    if version is not None:
        worker.wait_for(f"chrome.runtime.getManifest().version === {json.dumps(version)}", timeout=30)
    return worker


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("fleet")
    echo = TcpServer()  # echoes what it gets
    page_dir = root / "www"
    page = StaticServer.of_pages(page_dir, {"index.html": '<!DOCTYPE html><meta charset="utf-8"><p>intranet'})
    bundle = root / "fleet"
    bundle.mkdir()
    server = UpdateServer(bundle)
    url = f"http://127.0.0.1:{server.port}/updates.xml"
    web_origin = f"http://{INTRANET}:{page.port}"

    # The administrator's build machine: its own HOME and config, nothing of the test user's.
    build_home = root / "build-machine"
    build = {**os.environ, "HOME": str(build_home), "RESOCKET_CONFIG_DIR": str(build_home / "config"),
             "RESOCKET_SYSTEM_CONFIG_DIR": str(build_home / "system")}
    fleet_id = key_file(root / "fleet-resocket.pem")
    app_id = key_file(root / "legacy-app.pem")
    app_src = root / "legacy-app"
    app_src.mkdir()
    for name, text in LEGACY_APP.items():
        (app_src / name).write_text(text % {"port": echo.port} if name == "window.js" else text)
    converted = root / "legacy-app-mv3"
    cli(build, "convert-app", str(app_src), str(converted), "--key", str(root / "legacy-app.pem"), "--yes",
        "--root", str(build_home / "root"))
    extension = root / "extension"
    shutil.copytree(REPO / "extension", extension)

    def pack_all(version: str) -> None:
        cli(build, "pack", str(extension), "--key", str(root / "fleet-resocket.pem"), "--out", str(bundle),
            "--update-url", url, "--version", version, "--system-hosts-only", "--page-origin", web_origin)
        cli(build, "pack", str(converted), "--key", str(root / "legacy-app.pem"), "--out", str(bundle),
            "--update-url", url, "--version", version)

    pack_all("1.0")

    # The managed machine: /etc/chromium as shipped plus the admin's policy and system host manifest.
    tree = root / "machine"
    etc_chromium = tree / "etc/chromium"
    shutil.copytree("/etc/chromium", etc_chromium, symlinks=True)
    managed = etc_chromium / "policies/managed"
    managed.mkdir(parents=True, exist_ok=True)
    for policy_file in (bundle / "policy/linux/etc/chromium/policies/managed").iterdir():
        shutil.copy(policy_file, managed / policy_file.name)
    (managed / "site.json").write_text(json.dumps({
        "ExtensionDeveloperModeSettings": 1,  # developer mode off
        "ExtensionInstallBlocklist": ["*"],  # nothing but the force-installed extensions
        "DeveloperToolsAvailability": 1,  # lets the test attach to the extensions' workers and pages
    }))
    user_config = tree / "home/config"
    user_config.mkdir(parents=True)
    host_log = tree / "host.log"
    wrapper = tree / "resocket-host"
    wrapper.write_text(f'#!/bin/sh\nexec "{_venv_bin("resocket-host")}" "$@" --log-file "{host_log}"\n')
    wrapper.chmod(0o755)
    admin = {**os.environ, "HOME": str(tree / "root-home"), "RESOCKET_CONFIG_DIR": str(tree / "root-home/config")}
    admin.pop("RESOCKET_SYSTEM_CONFIG_DIR", None)
    cli(admin, "install", "--scope", "system", "--browser", "chromium", "--root", str(tree),
        "--host-path", str(wrapper), "--relay-id", fleet_id, "--extension-id", app_id)
    cli(admin, "grant", "--scope", "system", "--root", str(tree), f"chrome-extension://{app_id}/",
        f"tcp-connect:127.0.0.1:{echo.port}")
    cli(admin, "grant", "--scope", "system", "--root", str(tree), web_origin, f"tcp-connect:127.0.0.1:{echo.port}")
    cli(admin, "grants", "--lock", "--root", str(tree))
    prefix_script = tree / "chromium-with-policy"
    prefix_script.write_text(CHROMIUM_WITH_POLICY.format(etc=str(etc_chromium)))
    prefix_script.chmod(0o755)
    yield {"root": root, "tree": tree, "fleet_id": fleet_id, "app_id": app_id, "echo": echo, "server": server,
           "web_origin": web_origin, "pack_all": pack_all, "prefix": prefix_script, "user_config": user_config,
           "host_log": host_log}
    server.close()
    page.close()
    echo.close()


def update(browser: Browser, ext_id: str, version: str, server: UpdateServer) -> None:
    """requestUpdateCheck() in the extension's worker, as Chrome's own schedule would, then reload() until the
    worker that comes back runs `version` (the download is staged while the worker lives)."""
    worker = service_worker(browser, ext_id)
    check = worker.evaluate("chrome.runtime.requestUpdateCheck()")
    assert (check["status"], check["version"]) == ("update_available", version), check
    crx_name = f"-{ext_id[:8]}-{version}.crx"
    deadline = time.monotonic() + 60
    while not any(crx_name in path for path in server.requests):
        assert time.monotonic() < deadline, f"Chromium never fetched {crx_name}: {server.requests}"
        time.sleep(0.2)
    while True:
        old = worker.target_id
        worker.evaluate("setTimeout(() => chrome.runtime.reload(), 200), true")
        target = browser.wait_for_target(
            lambda t, old=old: t["type"] == "service_worker" and t["targetId"] != old
            and t["url"].startswith(f"chrome-extension://{ext_id}/"), timeout=60,
            what=f"the reloaded worker of {ext_id}")
        worker = browser.attach(target["targetId"])
        worker.wait_for("typeof chrome !== 'undefined' && !!chrome.runtime", timeout=30)
        if worker.evaluate("chrome.runtime.getManifest().version") == version:
            return
        assert time.monotonic() < deadline, f"{ext_id} did not update to {version}"
        time.sleep(1)  # not staged yet: the next reload applies it


def launch_app(browser: Browser, app_id: str) -> Session:
    """Open the converted app's launch URL, as a user (or a kiosk's start page) would, and return its window."""
    browser.send("Target.createTarget", {"url": f"chrome-extension://{app_id}/resocket/launch.html"})
    window_url = f"chrome-extension://{app_id}/window.html"
    target = browser.wait_for_target(lambda t: t["type"] == "page" and t["url"] == window_url, timeout=30,
                                     what="the app's window")
    window = browser.attach(target["targetId"])
    window.wait_for("typeof appState === 'string' && appState !== 'running'", timeout=30)
    return window


def test_policy_alone_installs_both_and_they_work_then_update_to_n_plus_1(browsers: BrowserPool,
                                                                          machine: dict) -> None:
    env = {"RESOCKET_CONFIG_DIR": str(machine["user_config"]),
           "RESOCKET_SYSTEM_CONFIG_DIR": str(machine["tree"] / "etc/resocket"), "RESOCKET_LOG": "DEBUG"}
    browsers.host_logs.append(machine["host_log"])
    browser = browsers.launch("fleet", machine["root"] / "profile", env=env, prefix=["unshare", "-m",
                              "--propagation", "private", str(machine["prefix"])],
                              extra_flags=[f"--host-resolver-rules=MAP {INTRANET} 127.0.0.1"])
    # One ordinary window: headless Chromium stages an extension update only with one open.
    browser.send("Target.createTarget", {"url": "about:blank", "newWindow": True})
    fleet_id, app_id, echo = machine["fleet_id"], machine["app_id"], machine["echo"]

    for version in ("1.0", "1.1"):
        resocket_worker = service_worker(browser, fleet_id, version)
        info = resocket_worker.evaluate("chrome.management.getSelf()")
        assert (info["installType"], info["mayDisable"]) == ("admin", False)  # by policy, not by a user

        window = launch_app(browser, app_id)
        assert window.evaluate("[appState, transcript]") == ["done", ["ping"]]

        page = browser.new_page(f"{machine['web_origin']}/index.html",
                                ready="typeof chrome === 'object' && typeof chrome.socket === 'object'")
        browsers.pages.append(page)
        body = f"from the intranet page, version {version}"
        assert page.evaluate(ECHO_JS % {"port": echo.port, "body": json.dumps(body)})["got"].endswith(body)
        assert not any(machine["user_config"].iterdir())  # the user granted nothing
        if version == "1.1":
            break

        # The administrator publishes N+1; each extension checks, fetches it and reloads into it.
        machine["pack_all"]("1.1")
        for ext_id in (fleet_id, app_id):
            update(browser, ext_id, "1.1", machine["server"])

    requested = " ".join(machine["server"].requests)
    assert f"id%3D{fleet_id}%26v%3D1.0" in requested and f"id%3D{app_id}%26v%3D1.0" in requested
    assert f"{machine['web_origin']}" in machine["host_log"].read_text()
