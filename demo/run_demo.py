"""`make demo`: a 2013-style Chrome App (examples/echo-app) talks TCP and UDP through resocket.

What it does, all on loopback inside the private network namespace that `make demo` runs it in:
1. starts a TCP echo server and a UDP echo server on 127.0.0.1;
2. registers this checkout's resocket-host for a fresh Chromium profile (`resocket install
   --user-data-dir`) and grants the resocket extension exactly the rules the app needs, in a temp config dir;
3. copies the extension to a temp dir with the echo app inside it (the app's page gets the shim
   chrome-socket.js in front of its own script: that is all a 2013 app needs to run again);
4. launches Debian's Chromium (headless when there is no $DISPLAY), opens the app, waits for it to finish;
5. prints what the app logged, what the servers saw on the wire and the host's log, and saves a
   screenshot to test-artifacts/demo.png.
Exit status 0 when both echoes came back intact.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.cdp import CHROMIUM, Browser, CDPError
from tests.e2e.resocket_side import (
    EXTENSION_ID,
    EXTENSION_ORIGIN,
    SHIM,
    ResocketProfile,
    copy_extension,
    extension_available,
)
from tests.support.servers import TcpServer, UdpEchoServer

APP = REPO / "examples" / "echo-app"
ARTIFACTS = REPO / "test-artifacts"


def install_app(ext: Path) -> str:
    """Put the echo app into the extension copy; return its page path inside the extension."""
    dest = ext / "echo-app"
    shutil.copytree(APP, dest)
    page = dest / "index.html"
    html = page.read_text()
    page.write_text(html.replace('<script src="main.js">', f'<script src="../{SHIM}"></script>\n  '
                                                           '<script src="main.js">', 1))
    return "echo-app/index.html"


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)))


def main() -> int:
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is missing: run `make demo` (it installs Debian's chromium)", file=sys.stderr)
        return 2
    if not extension_available():
        print("extension/ has no manifest.json + chrome-socket.js yet: nothing to demo", file=sys.stderr)
        return 2
    tcp, udp = TcpServer(), UdpEchoServer()
    root = Path(tempfile.mkdtemp(prefix="resocket-demo-"))
    browser = None
    try:
        profile = ResocketProfile(root / "profile")
        # Narrow grants, as a user would give them: just what this app needs.
        rules = [f"tcp-connect:localhost:{tcp.port}", "udp-bind:0.0.0.0:*", f"udp-send-to:127.0.0.1:{udp.port}"]
        profile.grant(EXTENSION_ORIGIN, rules)
        ext = copy_extension(root / "extension")
        page_path = install_app(ext)
        headless = not os.environ.get("DISPLAY")

        section("setup")
        print(f"tcp echo server   127.0.0.1:{tcp.port}")
        print(f"udp echo server   127.0.0.1:{udp.port}")
        print(f"host manifest     {profile.user_data_dir}/NativeMessagingHosts/org.resocket.host.json")
        print(f"grants            {EXTENSION_ORIGIN} {' '.join(rules)}")
        print(f"chromium          {CHROMIUM} ({'headless' if headless else 'on ' + os.environ['DISPLAY']})")

        browser = Browser(profile.user_data_dir, extensions=[ext], env=profile.env, headless=headless)
        url = (f"chrome-extension://{EXTENSION_ID}/{page_path}?tcp=localhost:{tcp.port}"
               f"&udp=127.0.0.1:{udp.port}&message=hello%20from%202013&autorun=1")
        page = browser.new_page(url)
        try:
            status = page.wait_for("['ok', 'error'].includes(document.body.dataset.status) && "
                                   "document.body.dataset.status", timeout=30)
        except CDPError as exc:
            status = f"no result ({exc})"
        tcp.peer_closed.wait(5)  # the app closes its socket when done: let the server log that too

        section("what the app logged (examples/echo-app/main.js)")
        print(page.evaluate("document.getElementById('log').innerText"))
        section("what crossed the wire (seen by the loopback servers)")
        print("\n".join(tcp.log + udp.log) or "(nothing)")
        section("resocket-host log (RESOCKET_LOG=DEBUG)")
        print(profile.host_log_text().strip() or "(empty)")

        ARTIFACTS.mkdir(exist_ok=True)
        page.send("Emulation.setDeviceMetricsOverride",
                  {"width": 800, "height": 600, "deviceScaleFactor": 1, "mobile": False})
        page.screenshot(ARTIFACTS / "demo.png")
        section("result")
        print(f"status: {status}; screenshot: {ARTIFACTS / 'demo.png'}")
        return 0 if status == "ok" else 1
    finally:
        if browser is not None:
            browser.close()
        tcp.close()
        udp.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
