"""Isolated Web Apps in the browser tests: convert an app with `--target iwa`, install it at run time, open it.

The recipe (docs/chromeos.md, "Testing without a managed device"), as Debian's Chromium 156 takes it:
- flags `--enable-features=IsolatedWebApps,IsolatedWebAppDevMode`;
- the converted folder served over plain HTTP on 127.0.0.1 (the dev-mode proxy; Chromium adds the
  cross-origin isolation headers itself);
- installed from chrome://iwa-dev over CDP, through the page's own Mojo handler (`installAppFromDevProxy`,
  then `getInstalledAppsInfo` for the web bundle ID: a dev-mode proxy gets a random one);
- Local Network Access granted per origin over CDP (`Browser.grantPermissions` with localNetwork and
  loopbackNetwork): without it every socket to a loopback address fails with InvalidAccessError.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.servers import StaticServer

from .cdp import Browser, Session

IWA_FLAGS = ["--enable-features=IsolatedWebApps,IsolatedWebAppDevMode"]
IWA_PERMISSIONS = ["localNetwork", "loopbackNetwork"]
# The start page of a converted app with no background page of its own (convert.BACKGROUND_PAGE).
START_PAGE = "resocket/background.html"


def convert_to_iwa(src: Path, out: Path, config_dir: Path) -> list[str]:
    """`resocket convert-app SRC OUT --target iwa` as a user runs it; its stdout lines (the URL last)."""
    env = {"RESOCKET_CONFIG_DIR": str(config_dir), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "resocket.cli", "convert-app", str(src), str(out), "--target", "iwa"],
                          capture_output=True, text=True, timeout=120, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"convert-app --target iwa failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout.splitlines()


class InstalledIwa:
    """A converted app served as a dev-mode proxy and installed in `browser`."""

    def __init__(self, browser: Browser, folder: Path) -> None:
        self.browser = browser
        self.server = StaticServer(folder)
        self.bundle_id = install_from_dev_proxy(browser, f"{self.server.origin}/")
        self.origin = f"isolated-app://{self.bundle_id}"
        browser.send("Browser.grantPermissions", {"origin": self.origin, "permissions": IWA_PERMISSIONS})

    def url(self, path: str = START_PAGE) -> str:
        return f"{self.origin}/{path}"

    def close(self) -> None:
        self.server.close()


def install_from_dev_proxy(browser: Browser, proxy_url: str, timeout: float = 60) -> str:
    """Install the IWA served at `proxy_url` through chrome://iwa-dev; its web bundle ID."""
    target = browser.send("Target.createTarget", {"url": "chrome://iwa-dev/"})["targetId"]
    try:
        page: Session = browser.attach(target)
        page.wait_for("location.href.startsWith('chrome://iwa-dev') && document.readyState === 'complete'")
        result = page.evaluate(f"""(async () => {{
            const handler = (await import('chrome://iwa-dev/iwa_dev.mojom-webui.js'))
                .browserProxyFactory.getInstance().handler;
            const outcome = await handler.installAppFromDevProxy({json.dumps(proxy_url)});
            const info = await handler.getInstalledAppsInfo();
            return JSON.stringify({{outcome, info}}, (k, v) => typeof v === 'bigint' ? String(v) : v);
        }})()""", timeout=timeout)
    finally:
        browser.send("Target.closeTarget", {"targetId": target})
    data = json.loads(result)
    port = int(proxy_url.rsplit(":", 1)[1].strip("/"))
    for app in data["info"].get("apps", []):
        proxy = (app.get("source") or {}).get("proxyOrigin") or {}
        if proxy.get("port") == port:
            return app["webBundleId"]
    raise RuntimeError(f"the IWA at {proxy_url} was not installed: {data}")
