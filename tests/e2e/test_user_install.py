"""A user's install is the tested install: the README's first job done from each package alone, in Debian's
Chromium.

For each way a user gets resocket (the wheel `pip install`ed into a fresh venv with no extras and no test
tools; the `.deb`'s contents; the PyInstaller bundle from the tarball) and with nothing but that install:
1. `resocket install --browser chromium --user-data-dir DIR` for a throwaway profile,
2. `resocket convert-app SRC OUT --yes --user-data-dir DIR` of a keyless 2013-style Chrome App written here
   (so convert-app must make the app a key: cryptography has to come with the install),
3. Chromium loads the folder `resocket extension-path` prints plus the converted app; the extension's
   options page finds its host, and the app, opened at the launch URL convert-app printed last, echoes bytes
   through a loopback TCP echo server.

The `.deb` is unpacked with `dpkg-deb -x` into a throwaway root; every command and Chromium then run in a
private mount namespace where that root's `/opt/resocket` is bind-mounted and its `/usr/bin` and `/usr/share`
are laid over the real ones (overlayfs, read-only), so the user types `resocket` as after `apt install`
(`/usr/bin/resocket` -> `/opt/resocket/resocket`) and the extension is the package's
`/usr/share/resocket/extension`. The builds are the run's shared ones (tests/conftest.py: `user_venv`,
`packages`).
"""
from __future__ import annotations

import json
import shlex
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from resocket import EXTENSION_ID, HOST_NAME, __version__
from resocket.cli import crx

from tests.support.packages import clean_pip_env
from tests.support.servers import TcpServer

from .conftest import BrowserPool
from .resocket_side import REPO
from .test_converted_apps import ConvertedApp, launch, wait_state

pytestmark = pytest.mark.timeout(300)

OPTIONS_URL = f"chrome-extension://{EXTENSION_ID}/options.html"

# A keyless legacy app (no "key" in its manifest, not a CRX): the 2013 pattern, callbacks and ArrayBuffers.
APP_MANIFEST = {
    "manifest_version": 2, "name": "Packaged Echo", "version": "1.0",
    "app": {"background": {"scripts": ["background.js"]}},
    "permissions": [{"socket": ["tcp-connect:127.0.0.1:%(port)d"]}],
}
APP_FILES = {
    "background.js": """chrome.app.runtime.onLaunched.addListener(function() {
  chrome.app.window.create('window.html', {id: 'main', width: 320, height: 200});
});
""",
    "window.html": '<!DOCTYPE html><html><head><meta charset="utf-8"><title>echo</title></head>'
                   '<body><pre id="log"></pre><script src="window.js"></script></body></html>\n',
    "window.js": """var socket = chrome.socket || chrome.experimental.socket;
var transcript = [];
var appState = 'running';
var message = %(message)s;
function fail(step) {
  transcript.push(step + ' failed: ' + (chrome.runtime.lastError ? chrome.runtime.lastError.message : '?'));
  appState = 'error';
}
socket.create('tcp', {}, function(info) {
  if (!info || info.socketId <= 0) return fail('create');
  socket.connect(info.socketId, '127.0.0.1', %(port)d, function(result) {
    if (result !== 0) return fail('connect ' + result);
    var bytes = new Uint8Array(message.length);
    for (var i = 0; i < message.length; i++) bytes[i] = message.charCodeAt(i);
    socket.write(info.socketId, bytes.buffer, function(w) {
      if (w.bytesWritten !== message.length) return fail('write ' + w.bytesWritten);
      var got = '';
      (function more() {
        socket.read(info.socketId, 4096, function(r) {
          if (r.resultCode <= 0) return fail('read ' + r.resultCode);
          got += String.fromCharCode.apply(null, new Uint8Array(r.data));
          if (got.length < message.length) return more();
          transcript.push('echoed: ' + got);
          socket.destroy(info.socketId);
          appState = got === message ? 'done' : 'mismatch';
        });
      })();
    });
  });
});
""",
}

# The .deb's files where apt puts them, for one command: a private mount namespace (inside the test run's
# user + network namespace) with a tmpfs /opt holding the root's /opt/resocket, and the root's /usr/bin and
# /usr/share as read-only overlay layers over the real ones. The machine's own paths stay untouched.
IN_DEB_ROOT = r"""#!/bin/sh
set -e
exec unshare -m --propagation private sh -c '
  set -e
  root=$1; shift
  mount -t tmpfs resocket-opt /opt
  mkdir /opt/resocket
  mount --bind "$root/opt/resocket" /opt/resocket
  mount -t overlay resocket-share -o "lowerdir=$root/usr/share:/usr/share" /usr/share
  mount -t overlay resocket-bin -o "lowerdir=$root/usr/bin:/usr/bin" /usr/bin
  exec "$@"' in-deb-root {root} "$@"
"""


class Install:
    """One user's install: how they run `resocket`, in their shell's environment."""

    def __init__(self, tmp_path: Path, resocket: list[str], prefix: list[str] = (), root: Path | None = None) -> None:
        """`prefix`, `root`: commands run under `prefix`, which shows them `root`'s files at their own paths."""
        self.resocket = resocket
        self.prefix = list(prefix)
        self.root = root
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.env = {"HOME": str(self.home), "RESOCKET_CONFIG_DIR": str(tmp_path / "config")}

    def run(self, *args: str) -> subprocess.CompletedProcess:
        # A user's shell: no Python of the test run on PATH, no pip configuration, no PYTHONPATH.
        env = clean_pip_env(PATH="/usr/bin:/bin", **self.env)
        env.pop("XDG_CONFIG_HOME", None)
        proc = subprocess.run([*self.prefix, *self.resocket, *args], capture_output=True, text=True, env=env,
                              timeout=120, check=False)
        assert proc.returncode == 0, f"resocket {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
        return proc


    def seen_by_test(self, path: Path) -> Path:
        """Where this test (outside the install's mount namespace) finds a file the install names."""
        return self.root / path.relative_to("/") if self.root and path.is_absolute() else path


def write_app(src: Path, port: int, message: str) -> Path:
    src.mkdir(parents=True)
    manifest = json.loads(json.dumps(APP_MANIFEST).replace("%(port)d", str(port)))
    (src / "manifest.json").write_text(json.dumps(manifest, indent=2))
    for name, text in APP_FILES.items():
        (src / name).write_text(text % {"port": port, "message": json.dumps(message)} if name == "window.js" else text)
    return src


@pytest.fixture
def echo() -> Iterator[TcpServer]:
    with TcpServer() as server:
        yield server


def user_journey(install: Install, host: Path, inside: Path, browsers: BrowserPool, echo: TcpServer,
                 tmp_path: Path, name: str) -> None:
    """The README's steps with `install` alone; `host` is the resocket-host it must register, `inside` the
    folder its extension must come from (not this checkout's extension/)."""
    udd = tmp_path / "udd"
    udd.mkdir()
    install.run("install", "--browser", "chromium", "--user-data-dir", str(udd))
    manifest = json.loads((udd / "NativeMessagingHosts" / f"{HOST_NAME}.json").read_text())
    assert manifest["path"] == str(host)

    message = f"hello from the {name}"
    src = write_app(tmp_path / "app-src", echo.port, message)
    out = tmp_path / "app-mv3"
    converted = install.run("convert-app", str(src), str(out), "--yes", "--user-data-dir", str(udd))
    launch_url = converted.stdout.strip().splitlines()[-1]
    assert launch_url.startswith("chrome-extension://") and launch_url.endswith("/resocket/launch.html"), converted.stdout
    app = ConvertedApp(name, out, launch_url.split("/")[2], launch_url, converted.stdout)

    extension = Path(install.run("extension-path").stdout.strip())
    assert extension.is_absolute() and inside in extension.parents, (extension, inside)
    assert REPO not in extension.parents
    key = json.loads(install.seen_by_test(extension / "manifest.json").read_text())["key"]
    assert crx.extension_id(crx.spki_from_b64(key)) == EXTENSION_ID

    browser = browsers.launch(name, udd, extensions=[extension, out], env=install.env, prefix=install.prefix)
    options = browser.new_page(OPTIONS_URL, ready="document.getElementById('host-status').dataset.state !== 'checking'")
    browsers.pages.append(options)
    status = options.evaluate("[document.getElementById('host-status').dataset.state, "
                              "document.getElementById('host-version').textContent]")
    assert status == ["ok", f"resocket-host {__version__}"], status

    window = launch(browser, app, browsers)
    wait_state(window, ("done",))
    assert window.evaluate("transcript") == [f"echoed: {message}"]
    assert bytes(echo.received) == message.encode()


def test_pip_installed_wheel_alone_converts_an_app_and_runs_it_in_chromium(
        user_venv: Path, browsers: BrowserPool, echo: TcpServer, tmp_path: Path) -> None:
    install = Install(tmp_path, [str(user_venv / "resocket")])
    user_journey(install, user_venv / "resocket-host", user_venv.parent.resolve(), browsers, echo, tmp_path,
                 "wheel")


def test_deb_contents_alone_convert_an_app_and_run_it_in_chromium(
        packages: Path, browsers: BrowserPool, echo: TcpServer, tmp_path: Path) -> None:
    (deb,) = (packages / "dist").glob("resocket_*.deb")
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, timeout=120)
    wrapper = tmp_path / "in-deb-root"
    wrapper.write_text(IN_DEB_ROOT.format(root=shlex.quote(str(root))))
    wrapper.chmod(0o755)
    install = Install(tmp_path, ["resocket"], prefix=[str(wrapper)], root=root)
    user_journey(install, Path("/opt/resocket/resocket-host"), Path("/usr/share/resocket"), browsers, echo,
                 tmp_path, "deb")


def test_bundle_from_the_tarball_alone_converts_an_app_and_runs_it_in_chromium(
        packages: Path, browsers: BrowserPool, echo: TcpServer, tmp_path: Path) -> None:
    (tarball,) = (packages / "dist").glob(f"resocket-{__version__}-*.tar.gz")
    with tarfile.open(tarball) as tf:
        tf.extractall(tmp_path / "opt", filter="tar")
    top = tmp_path / "opt" / tarball.name[: -len(".tar.gz")]
    install = Install(tmp_path, [str(top / "resocket" / "resocket")])
    user_journey(install, top / "resocket" / "resocket-host", top.resolve(), browsers, echo, tmp_path, "bundle")
