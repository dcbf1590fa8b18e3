"""`make demo`: a 2013-style Chrome App (examples/echo-app), converted with `resocket convert-app`, talks TCP and
UDP through resocket in real Chromium.

What it does, all on loopback inside the private network namespace that `make demo` runs it in:
1. starts a TCP echo server and a UDP echo server on 127.0.0.1;
2. registers this checkout's resocket-host for a fresh Chromium profile (`resocket install --user-data-dir`),
   with a temporary config dir for the grants and the app's key;
3. converts the unmodified app: `resocket convert-app examples/echo-app OUT --yes --user-data-dir UDD`
   (grants the rules the app declares and allows its origin to start the host), and prints its report;
4. launches Debian's Chromium (headless when there is no $DISPLAY) with the converted extension, opens the
   launch URL convert-app printed last, and in the window the app's own onLaunched handler opens, fills the
   app's form and presses its Send button, as a user would;
5. prints what the app logged, what the servers saw on the wire and the host's DEBUG log (every message
   that crossed native messaging), and saves a screenshot to test-artifacts/demo.png.
Exit status 0 when both echoes came back intact, 1 when the app failed, 2 when something is missing.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.cdp import CHROMIUM, Browser, CDPError
from tests.e2e.resocket_side import ResocketProfile, _venv_bin, extension_available
from tests.support.servers import TcpServer, UdpEchoServer

APP = REPO / "examples" / "echo-app"
ARTIFACTS = REPO / "test-artifacts"


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)))


def convert_app(profile: ResocketProfile, out: Path) -> str:
    """Run convert-app as a user would; print its output; return the launch URL (its last line)."""
    env = dict(os.environ, **profile.env, HOME=str(profile.root / "home"))
    env.pop("XDG_CONFIG_HOME", None)
    argv = [_venv_bin("resocket"), "convert-app", str(APP), str(out), "--yes",
            "--user-data-dir", str(profile.user_data_dir), "--host-path", str(profile.root / "resocket-host-wrapper")]
    print("$ resocket convert-app examples/echo-app OUT --yes --user-data-dir UDD")
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    print(proc.stdout.rstrip())
    if proc.returncode != 0:
        raise SystemExit(f"convert-app failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout.strip().splitlines()[-1]


def main() -> int:
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is missing: run `make demo` (it installs Debian's chromium)", file=sys.stderr)
        return 2
    if not extension_available():
        print("extension/chrome-socket.js is missing: nothing to demo", file=sys.stderr)
        return 2
    tcp, udp = TcpServer(), UdpEchoServer()
    root = Path(tempfile.mkdtemp(prefix="resocket-demo-"))
    browser = None
    try:
        profile = ResocketProfile(root / "profile")
        headless = not os.environ.get("DISPLAY")
        section("setup")
        print(f"tcp echo server   127.0.0.1:{tcp.port}")
        print(f"udp echo server   127.0.0.1:{udp.port}")
        print(f"host manifest     {profile.user_data_dir}/NativeMessagingHosts/org.resocket.host.json")
        print(f"chromium          {CHROMIUM} ({'headless' if headless else 'on ' + os.environ['DISPLAY']})")

        section("convert the 2013 app (examples/echo-app, unmodified)")
        out = root / "echo-app-mv3"
        launch_url = convert_app(profile, out)
        ext_id = launch_url.split("/")[2]
        window_url = f"chrome-extension://{ext_id}/index.html"

        browser = Browser(profile.user_data_dir, extensions=[out], env=profile.env, headless=headless)
        browser.send("Target.createTarget", {"url": launch_url})
        target = browser.wait_for_target(lambda t: t["type"] == "page" and t["url"] == window_url,
                                         what="the app window its onLaunched handler creates")
        page = browser.attach(target["targetId"])
        page.wait_for("document.readyState === 'complete' && !!document.getElementById('run')")
        fields = {"tcp-host": "localhost", "tcp-port": tcp.port, "udp-host": "127.0.0.1", "udp-port": udp.port,
                  "message": "hello from 2013"}
        page.evaluate(f"""(() => {{
            for (const [id, value] of Object.entries({json.dumps({k: str(v) for k, v in fields.items()})}))
                document.getElementById(id).value = value;
            document.getElementById('run').click();
            return true;
        }})()""")
        try:
            status = page.wait_for("['ok', 'error'].includes(document.body.dataset.status) && "
                                   "document.body.dataset.status", timeout=30)
        except CDPError as exc:
            status = f"no result ({exc})"
        tcp.peer_closed.wait(5)  # the app closes its socket when done: let the server log that too

        section("what the app logged (examples/echo-app/main.js, in the converted app's window)")
        print(page.evaluate("document.getElementById('log').innerText"))
        section("what crossed the wire (seen by the loopback servers)")
        print("\n".join(tcp.log + udp.log) or "(nothing)")
        section("resocket-host log: every native messaging message (RESOCKET_LOG=DEBUG)")
        print(profile.host_log_text().strip() or "(empty)")

        ARTIFACTS.mkdir(exist_ok=True)
        page.send("Emulation.setDeviceMetricsOverride",
                  {"width": 800, "height": 600, "deviceScaleFactor": 1, "mobile": False})
        page.screenshot(ARTIFACTS / "demo.png")
        section("result")
        print(f"app: {launch_url}")
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
