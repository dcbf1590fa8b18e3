"""The `.deb` installed, then used by Debian's Chromium: the packaged `resocket-host` is the host of a real
chrome.socket TCP echo, registered both ways a user gets it.

1. As `apt install` leaves it: `dpkg --root` installs the package into a throwaway root with its own dpkg
   database, and Chromium runs in a private mount namespace where that root's `/opt/resocket` and
   `/etc/chromium` are bind-mounted over the real ones. Chromium then reads the package's own system
   manifest (`"path": "/opt/resocket/resocket-host"`) exactly as shipped, from the folder it reads on a
   real system. `dpkg -r` afterwards removes the manifest with the package, and the same browser reports
   the host as not found (no stale registration).
2. As a user who unpacks the package (`dpkg -x`) elsewhere: the packaged `resocket install --browser
   chromium --user-data-dir DIR` registers the packaged host next to it (no `--host-path`).

Grants are written with the packaged `resocket grant` into a private config dir. One build of the bundle
and the `.deb` for the test run (installer/build.py --fast, shared with tests/test_dist.py).
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from resocket import HOST_NAME

from tests.support.servers import HttpEchoServer

from . import cdp
from .conftest import BrowserPool
from .resocket_side import EXTENSION_ID, EXTENSION_ORIGIN, SCENARIO_PAGE, copy_extension, extension_available

pytestmark = pytest.mark.skipif(not extension_available(), reason="extension/ not there yet")
pytest.importorskip("PyInstaller", reason="PyInstaller is needed to build the .deb: pip install -e '.[dist]'")

PACKAGED_HOST = "/opt/resocket/resocket-host"
SCENARIO_URL = f"chrome-extension://{EXTENSION_ID}/{SCENARIO_PAGE}"
# dpkg looks for ldconfig and start-stop-daemon on PATH before it installs anything.
DPKG_ENV = {**os.environ, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}

# Starts Chromium in a private mount namespace (inside the test run's private user + network namespace)
# where the throwaway root's package files sit where the .deb puts them. The tmpfs over /opt keeps the
# machine's /opt untouched: /opt/resocket exists for this browser and the hosts it starts only.
CHROMIUM_IN_ROOT = r"""#!/bin/sh
set -e
root={root}
exec unshare -m --propagation private sh -c '
  set -e
  mount -t tmpfs resocket-opt /opt
  mkdir /opt/resocket
  mount --bind "$0/opt/resocket" /opt/resocket
  mount --bind "$0/etc/chromium" /etc/chromium
  chromium=$1; shift
  exec "$chromium" "$@"' "$root" {chromium} "$@"
"""

# In an extension page that loaded the shim: one HTTP-style echo over chrome.socket TCP.
ECHO_JS = """(async () => {
  const call = (name, ...args) => new Promise((resolve) => chrome.socket[name](...args, (...res) => {
    const le = chrome.runtime.lastError;
    resolve({res, lastError: le ? le.message : null});
  }));
  const created = await call('create', 'tcp', {});
  if (created.lastError) return {step: 'create', error: created.lastError};
  const sid = created.res[0].socketId;
  const connected = await call('connect', sid, '127.0.0.1', %(port)d);
  if (connected.lastError || connected.res[0] !== 0) return {step: 'connect', connected};
  const body = %(body)s;
  const request = `POST /echo HTTP/1.1\\r\\nContent-Length: ${body.length}\\r\\n\\r\\n${body}`;
  const written = await call('write', sid, new TextEncoder().encode(request).buffer);
  if (written.lastError) return {step: 'write', written};
  let got = '';
  while (!got.endsWith(body)) {
    const r = await call('read', sid, 4096);
    if (r.lastError || r.res[0].resultCode <= 0) return {step: 'read', read: r, got};
    got += new TextDecoder().decode(r.res[0].data);
  }
  window.echoSocket = sid;
  return {got};
})()"""

# In an extension page: what Chromium itself says to connectNative + hello.
HELLO_JS = """new Promise((resolve) => {
  const port = chrome.runtime.connectNative(HOST_NAME);
  port.onMessage.addListener((m) => { resolve({reply: m}); port.disconnect(); });
  port.onDisconnect.addListener(() => resolve({error: chrome.runtime.lastError ? chrome.runtime.lastError.message : null}));
  port.postMessage({id: 1, op: 'hello', args: {protocol: 1, client: 'e2e-packaged/1'}});
})""".replace("HOST_NAME", json.dumps(HOST_NAME))


@pytest.fixture(scope="module")
def deb(packages: Path) -> Path:
    # The run's one build (tests/conftest.py `packages`), shared with tests/test_dist.py.
    (found,) = (packages / "dist").glob("resocket_*.deb")
    return found


def dpkg(root: Path, *args: str) -> str:
    proc = subprocess.run(["dpkg", f"--root={root}", *args], capture_output=True, text=True, env=DPKG_ENV,
                          timeout=120, check=False)
    assert proc.returncode == 0, f"dpkg {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def dpkg_install(deb: Path, root: Path) -> None:
    """`dpkg -i` into `root` with an empty database of its own. The package has no maintainer scripts, so
    nothing runs chrooted; --force-depends because that database knows no libc6."""
    admin = root / "var/lib/dpkg"
    for sub in ("info", "updates"):
        (admin / sub).mkdir(parents=True, exist_ok=True)
    (admin / "status").touch()
    dpkg(root, "--force-depends", "-i", str(deb))


def packaged_cli(cli: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    # No Python on PATH: the bundle must not need one.
    full = {"PATH": "/usr/bin:/bin", "HOME": env["HOME"], **env}
    return subprocess.run([str(cli), *args], capture_output=True, text=True, env=full, timeout=120, check=False)


def host_argvs() -> list[list[str]]:
    """argv of every running process started as a resocket-host for the resocket extension."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")[:-1]
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv]
        if len(args) >= 2 and args[0].endswith("resocket-host") and args[1] == EXTENSION_ORIGIN:
            found.append(args)
    return found


@pytest.fixture(scope="module")
def echo() -> Iterator[HttpEchoServer]:
    server = HttpEchoServer()
    yield server
    server.close()


def test_deb_installed_by_dpkg_serves_chromium_from_its_system_manifest_until_dpkg_removes_it(
        deb: Path, browsers: BrowserPool, echo: HttpEchoServer, tmp_path: Path) -> None:
    root = tmp_path / "root"
    dpkg_install(deb, root)
    owned = dpkg(root, "-L", "resocket").splitlines()
    assert f"/etc/chromium/native-messaging-hosts/{HOST_NAME}.json" in owned
    assert PACKAGED_HOST in owned

    config, home = tmp_path / "config", tmp_path / "home"
    home.mkdir()
    env = {"RESOCKET_CONFIG_DIR": str(config), "HOME": str(home)}
    granted = packaged_cli(root / "opt/resocket/resocket", "grant", EXTENSION_ORIGIN,
                           f"tcp-connect:127.0.0.1:{echo.port}", env=env)
    assert granted.returncode == 0, granted.stderr

    wrapper = tmp_path / "chromium-in-root"
    wrapper.write_text(CHROMIUM_IN_ROOT.format(root=shlex.quote(str(root)), chromium=shlex.quote(cdp.CHROMIUM)))
    wrapper.chmod(0o755)
    udd = tmp_path / "udd"
    ext = copy_extension(tmp_path / "extension")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cdp, "CHROMIUM", str(wrapper))
        browser = browsers.launch("deb-system", udd, extensions=[ext], env=env)
    # Nothing per-profile (Chromium makes the folder empty): the package's system manifest is the only
    # registration this browser has.
    assert not list((udd / "NativeMessagingHosts").glob("*.json"))

    page = browsers.open_page(browser, SCENARIO_URL)
    result = page.evaluate(ECHO_JS % {"port": echo.port, "body": json.dumps("hello from the .deb")})
    assert result.get("got", "").endswith("hello from the .deb"), result
    # The host that did it is the packaged binary at the path the shipped manifest names.
    assert [PACKAGED_HOST, EXTENSION_ORIGIN] in [argv[:2] for argv in host_argvs()]
    browser.send("Target.closeTarget", {"targetId": page.target_id})

    dpkg(root, "-r", "resocket")
    assert not (root / "etc/chromium/native-messaging-hosts" / f"{HOST_NAME}.json").exists()
    assert not (root / "opt/resocket").exists()
    page = browsers.open_page(browser, SCENARIO_URL)
    assert page.evaluate(HELLO_JS) == {"error": "Specified native messaging host not found."}


def test_packaged_cli_registers_the_packaged_host_for_a_user_data_dir_and_chromium_uses_it(
        deb: Path, browsers: BrowserPool, echo: HttpEchoServer, tmp_path: Path) -> None:
    root = tmp_path / "unpacked"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, timeout=120)
    cli, host = root / "opt/resocket/resocket", root / "opt/resocket/resocket-host"
    config, home, udd = tmp_path / "config", tmp_path / "home", tmp_path / "udd"
    home.mkdir()
    udd.mkdir()  # install refuses a --user-data-dir that does not exist
    env = {"RESOCKET_CONFIG_DIR": str(config), "HOME": str(home)}

    installed = packaged_cli(cli, "install", "--browser", "chromium", "--user-data-dir", str(udd), env=env)
    assert installed.returncode == 0, installed.stderr
    manifest = json.loads((udd / "NativeMessagingHosts" / f"{HOST_NAME}.json").read_text())
    assert manifest["path"] == str(host)
    assert manifest["allowed_origins"] == [EXTENSION_ORIGIN]
    doctor = packaged_cli(cli, "doctor", "--json", "--browser", "chromium", "--user-data-dir", str(udd), env=env)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert [r["path"] for r in json.loads(doctor.stdout)["selftest"]["runs"]] == [str(host)]
    granted = packaged_cli(cli, "grant", EXTENSION_ORIGIN, f"tcp-connect:127.0.0.1:{echo.port}", env=env)
    assert granted.returncode == 0, granted.stderr

    browser = browsers.launch("deb-user", udd, extensions=[copy_extension(tmp_path / "extension")], env=env)
    page = browsers.open_page(browser, SCENARIO_URL)
    result = page.evaluate(ECHO_JS % {"port": echo.port, "body": json.dumps("hello from the unpacked .deb")})
    assert result.get("got", "").endswith("hello from the unpacked .deb"), result
    assert [str(host), EXTENSION_ORIGIN] in [argv[:2] for argv in host_argvs()]

