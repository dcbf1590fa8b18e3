"""Drive Debian's headless Firefox ESR over WebDriver BiDi, the protocol built into Firefox (no geckodriver).

Standard library only, like cdp.py for Chromium. Firefox listens on `--remote-debugging-port` (it has no
debugging pipe); tests/support/wsclient.py speaks BiDi's JSON commands to `ws://127.0.0.1:PORT/session`.
Commands are answered in order on this one connection; events (none are subscribed) would be skipped.

- The extension goes in with `webExtension.install` (a temporary add-on: no signing needed).
- Its moz-extension:// UUID, random per profile otherwise, is fixed by the `extensions.webextensions.uuids`
  pref, so tests can open its pages.
- `--remote-allow-system-access` lets BiDi navigate to and evaluate in moz-extension:// pages (Firefox 153).
- Firefox finds native messaging host manifests under `$HOME/.mozilla/native-messaging-hosts/`: the caller
  sets HOME.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.support.servers import free_port
from tests.support.wsclient import WebSocketClient, WsRefused

from .cdp import Polling

FIREFOX = os.environ.get("RESOCKET_FIREFOX", "/usr/bin/firefox-esr")

# Quiet and offline: no updates, telemetry, captive portal or Safe Browsing lookups (the private network
# namespace refuses them anyway; these keep the log clean and the start quick).
PREFS = {
    "app.update.enabled": False, "app.update.auto": False, "extensions.update.enabled": False,
    "browser.shell.checkDefaultBrowser": False, "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0, "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False, "toolkit.telemetry.enabled": False,
    "network.captive-portal-service.enabled": False, "network.connectivity-service.enabled": False,
    "browser.safebrowsing.malware.enabled": False, "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False, "media.gmp-manager.updateEnabled": False,
    "browser.newtabpage.enabled": False, "extensions.getAddons.cache.enabled": False,
    # Pages in background tabs keep their timers: scenarios poll with setTimeout(10), which Firefox would
    # stretch to 1 s and more in a hidden tab (a 5 s wait took minutes).
    "dom.min_background_timeout_value": 4, "dom.min_background_timeout_value_without_budget_throttling": 4,
    "dom.timeout.enable_budget_timer_throttling": False,
}


class BiDiError(Exception):
    """A BiDi command failed, or JS evaluation threw."""


class Firefox:
    """One headless Firefox with a fresh profile, the given extensions installed as temporary add-ons."""

    def __init__(self, profile: Path, *, extensions: dict[str, Path], env: dict[str, str] | None = None,
                 prefs: dict[str, object] | None = None, timeout: float = 60) -> None:
        """`extensions`: add-on ID -> folder; each gets a fixed UUID, see `extension_url`. `prefs`: more
        about:config values."""
        self.profile = Path(profile)
        self.profile.mkdir(parents=True, exist_ok=True)
        self.log_path = self.profile / "firefox.log"
        self.uuids = {addon: f"00000000-0000-4000-8000-{i + 1:012d}" for i, addon in enumerate(extensions)}
        all_prefs = {**PREFS, **(prefs or {}), "extensions.webextensions.uuids": json.dumps(self.uuids)}
        (self.profile / "user.js").write_text("".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n"
                                                      for k, v in all_prefs.items()))
        port = free_port()
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            [FIREFOX, "--headless", "--no-remote", f"--remote-debugging-port={port}", "--remote-allow-system-access",
             "--profile", str(self.profile)],
            env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        self.next_id = 0
        self.ws = self._connect(port, timeout)
        self.command("session.new", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": True}}})
        for addon, path in extensions.items():
            got = self.command("webExtension.install", {"extensionData": {"type": "path", "path": str(path)}})
            if got.get("extension") != addon:
                raise BiDiError(f"installed {path} as {got.get('extension')!r}, not {addon!r}")

    def _connect(self, port: int, timeout: float) -> WebSocketClient:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise BiDiError(f"Firefox exited ({self.proc.returncode}): {self.log_text()[-2000:]}")
            try:
                return WebSocketClient("127.0.0.1", port, "/session", timeout=timeout)
            except (OSError, WsRefused):
                if time.monotonic() > deadline:
                    raise BiDiError(f"Firefox's BiDi port never answered: {self.log_text()[-2000:]}") from None
                time.sleep(0.1)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def command(self, method: str, params: dict | None = None, timeout: float = 60) -> dict:
        self.next_id += 1
        my_id = self.next_id
        self.ws.sock.settimeout(timeout)
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params or {}}).encode(), opcode=0x1)
        while True:
            try:
                msg = json.loads(self.ws.recv_text())
            except TimeoutError:
                raise BiDiError(f"{method}: no answer within {timeout} s") from None
            except EOFError as exc:
                raise BiDiError(f"{method}: {exc}; Firefox's log: {self.log_text()[-2000:]}") from None
            if msg.get("id") != my_id:
                continue  # an event
            if msg.get("type") == "error":
                raise BiDiError(f"{method}: {msg.get('error')}: {msg.get('message')}")
            return msg["result"]

    def extension_url(self, addon: str, path: str) -> str:
        return f"moz-extension://{self.uuids[addon]}/{path}"

    def new_page(self, url: str, *, ready: str = "document.readyState === 'complete'",
                 timeout: float = 30) -> Page:
        context = self.command("browsingContext.create", {"type": "tab"})["context"]
        self.command("browsingContext.navigate", {"context": context, "url": url, "wait": "complete"},
                     timeout=timeout)
        page = Page(self, context)
        page.wait_for(ready, timeout=timeout, what=f"{url}: {ready}")
        return page

    def close(self) -> None:
        try:
            self.command("session.end", timeout=5)
        except (BiDiError, OSError):
            pass
        self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()


class Page(Polling):
    """One tab: evaluate JS in it, as cdp.Session does (same signatures, so oracle.run_scenario takes it)."""

    error = BiDiError

    def __init__(self, firefox: Firefox, context: str) -> None:
        self.firefox, self.context = firefox, context

    def evaluate(self, expression: str, *, timeout: float = 60) -> Any:
        """Evaluate JS (awaiting a returned promise) and return its value as JSON."""
        wrapped = f"(async () => {{ const v = await ({expression}); return v === undefined ? 'null' : JSON.stringify(v); }})()"
        got = self.firefox.command("script.evaluate", {"expression": wrapped, "target": {"context": self.context},
                                                      "awaitPromise": True}, timeout=timeout + 5)
        if got.get("type") == "exception":
            details = got.get("exceptionDetails", {})
            raise BiDiError(f"JS threw: {details.get('text')}")
        return json.loads(got["result"]["value"])
