"""Trusted fleet IDs (resocket.fleet): the administrator's extensions.json in the system config dir, what
`resocket install --scope system --extension-id/--relay-id` writes (also under --root for an image), what
every manifest then allows, and that a package upgrade keeps the administrator's IDs: two versions of a
package shipping the .deb's own manifests (installer/build.py system_manifests), upgraded with dpkg."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from resocket import EXTENSION_ORIGIN, HOST_NAME, fleet
from resocket.cli import divert

REPO = Path(__file__).resolve().parents[1]
RESOCKET = Path(sys.executable).with_name("resocket")
APP = "abcdefghijklmnopabcdefghijklmnop"
OWN_BUILD = "ponmlkjihgfedcbaponmlkjihgfedcba"
CHROMIUM_MANIFEST = Path("etc/chromium/native-messaging-hosts") / f"{HOST_NAME}.json"


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RESOCKET), *args], capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A user with a config dir of their own and no RESOCKET_SYSTEM_CONFIG_DIR (each test sets its own)."""
    base = {k: v for k, v in os.environ.items() if k != "RESOCKET_SYSTEM_CONFIG_DIR"}
    return {**base, "RESOCKET_CONFIG_DIR": str(tmp_path / "config"), "HOME": str(tmp_path / "home")}


def test_ids_are_normalized_and_bad_ones_refused() -> None:
    assert fleet.normalize_id(APP) == fleet.normalize_id(f"chrome-extension://{APP}") == f"chrome-extension://{APP}/"
    assert fleet.normalize_id("app@example.org") == "app@example.org"
    for bad in ("ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP", "chrome-extension://short/", "https://example.com", ""):
        with pytest.raises(ValueError, match="is not a Chrome extension ID"):
            fleet.normalize_id(bad)


def test_the_fleet_file_is_the_admins_and_readable_by_everyone(tmp_path: Path) -> None:
    system = tmp_path / "system"
    after = fleet.add_to_fleet([APP, "app@example.org"], [OWN_BUILD], system)
    assert after == fleet.add_to_fleet([f"chrome-extension://{APP}/"], [], system)  # nothing new, nothing written
    assert json.loads((system / "extensions.json").read_text()) == {
        "version": 1, "extensions": [f"chrome-extension://{APP}/", "app@example.org"],
        "relay": [f"chrome-extension://{OWN_BUILD}/"]}
    assert (system / "extensions.json").stat().st_mode & 0o777 == 0o644
    assert system.stat().st_mode & 0o777 == 0o755
    assert after.allowed() == [f"chrome-extension://{APP}/", "app@example.org", f"chrome-extension://{OWN_BUILD}/"]
    assert fleet.relay_origins(system) == {EXTENSION_ORIGIN, f"chrome-extension://{OWN_BUILD}/"}
    with pytest.raises(ValueError, match="only Chrome extension IDs relay"):
        fleet.add_to_fleet([], ["app@example.org"], system)


@pytest.mark.parametrize("body, mode, problem", [
    ("{not json", 0o644, "not valid JSON"),
    ('{"version": 1, "relay": ["app@example.org"]}', 0o644, "Chrome extension IDs only"),
    ('{"version": 1, "extensions": "x"}', 0o644, "must be a list"),
    ('{"version": 2}', 0o644, "expected"),
    (json.dumps({"version": 1, "relay": [OWN_BUILD]}), 0o666, "writable by other users"),
])
def test_a_fleet_file_the_host_cannot_trust_trusts_no_one(tmp_path: Path, body: str, mode: int, problem: str,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "extensions.json").write_text(body)
    (tmp_path / "extensions.json").chmod(mode)
    with pytest.raises(fleet.FleetConfigError, match=problem):
        fleet.read_fleet(tmp_path)
    assert fleet.relay_origins(tmp_path) == {EXTENSION_ORIGIN}  # fails closed
    assert problem in caplog.text
    ids, warnings = fleet.allowed_ids(tmp_path)
    assert ids == [] and problem in warnings[0]


def test_install_for_an_image_writes_the_fleet_file_and_manifests_under_the_root(tmp_path: Path, env) -> None:
    image = tmp_path / "image"
    host = image / "opt/resocket/resocket-host"
    host.parent.mkdir(parents=True)
    host.write_text("#!/bin/sh\n")
    host.chmod(0o755)
    result = run("install", "--scope", "system", "--browser", "chromium", "--root", str(image),
                 "--host-path", "/opt/resocket/resocket-host", "--extension-id", APP, "--relay-id", OWN_BUILD,
                 env=env)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((image / CHROMIUM_MANIFEST).read_text())
    assert manifest["path"] == "/opt/resocket/resocket-host"  # as the image's browsers will see it
    assert manifest["allowed_origins"] == [EXTENSION_ORIGIN, f"chrome-extension://{APP}/",
                                           f"chrome-extension://{OWN_BUILD}/"]
    assert fleet.read_fleet(image / "etc/resocket") == fleet.Fleet((f"chrome-extension://{APP}/",),
                                                                   (f"chrome-extension://{OWN_BUILD}/",))
    assert not (tmp_path / "config" / "extra-extensions.json").exists()  # not the installing user's list
    # Running it again for another browser keeps the image's IDs without naming them.
    again = run("install", "--scope", "system", "--browser", "brave", "--root", str(image),
                "--host-path", "/opt/resocket/resocket-host", env=env)
    assert again.returncode == 0, again.stderr
    brave = json.loads((image / "etc/opt/chrome/native-messaging-hosts" / f"{HOST_NAME}.json").read_text())
    assert f"chrome-extension://{OWN_BUILD}/" in brave["allowed_origins"]


def test_a_users_own_manifest_allows_the_fleet_ids_too(tmp_path: Path, env) -> None:
    # Chromium prefers a user-level manifest to the system one: it must not lock the fleet's extensions out.
    system = tmp_path / "system"
    fleet.add_to_fleet([APP], [OWN_BUILD], system)
    udd = tmp_path / "udd"
    udd.mkdir()
    result = run("install", "--browser", "chromium", "--user-data-dir", str(udd),
                 env={**env, "RESOCKET_SYSTEM_CONFIG_DIR": str(system)})
    assert result.returncode == 0, result.stderr
    manifest = json.loads((udd / "NativeMessagingHosts" / f"{HOST_NAME}.json").read_text())
    assert manifest["allowed_origins"] == [EXTENSION_ORIGIN, f"chrome-extension://{APP}/",
                                           f"chrome-extension://{OWN_BUILD}/"]


def test_relay_id_is_an_administrators_decision(tmp_path: Path, env) -> None:
    udd = tmp_path / "udd"
    udd.mkdir()
    result = run("install", "--browser", "chromium", "--user-data-dir", str(udd), "--relay-id", OWN_BUILD, env=env)
    assert result.returncode == 2
    assert "--relay-id is an administrator's decision: use it with --scope system" in result.stderr
    assert not (udd / "NativeMessagingHosts").exists()


# -- a package upgrade keeps the administrator's IDs ----------------------------------------------------------
def build_package(tmp_path: Path, version: str) -> Path:
    """A package named resocket shipping, as plain files, the manifests the .deb ships (installer/build.py)
    and a host at their path; `version` differs, and so does each manifest's description."""
    spec = importlib.util.spec_from_file_location("resocket_installer_build", REPO / "installer" / "build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    tree = tmp_path / f"pkg-{version}"
    for path, body in build.system_manifests(build.DEB_HOST_PATH).items():
        target = tree / path.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body.replace(b"resocket 0.", f"resocket {version} (was 0.".encode()))
    host = tree / build.DEB_HOST_PATH.lstrip("/")
    host.parent.mkdir(parents=True, exist_ok=True)
    host.write_text("#!/bin/sh\n")
    host.chmod(0o755)
    (tree / "DEBIAN").mkdir()
    (tree / "DEBIAN/control").write_text(f"Package: resocket\nVersion: {version}\nArchitecture: all\n"
                                         "Maintainer: tests <tests@resocket.org>\nDescription: test package\n")
    deb = tmp_path / f"resocket_{version}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Znone", "--build", str(tree), str(deb)], check=True,
                   capture_output=True)
    return deb


def dpkg(root: Path, *args: str) -> str:
    proc = subprocess.run(["dpkg", f"--root={root}", *args], capture_output=True, text=True, check=False,
                          env={**os.environ, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.skipif(not shutil.which("dpkg-divert"), reason="needs dpkg (Debian)")
def test_upgrading_the_package_keeps_the_admins_ids_where_browsers_read_them(tmp_path: Path, env) -> None:
    root = tmp_path / "root"
    (root / "var/lib/dpkg/updates").mkdir(parents=True)
    (root / "var/lib/dpkg/info").mkdir()
    (root / "var/lib/dpkg/status").touch()
    dpkg(root, "-i", str(build_package(tmp_path, "1.0")))
    result = run("install", "--scope", "system", "--browser", "chromium", "--root", str(root),
                 "--host-path", "/opt/resocket/resocket-host", "--extension-id", APP, "--relay-id", OWN_BUILD,
                 env=env)
    assert result.returncode == 0, result.stderr
    assert "package upgrades keep this manifest" in result.stderr
    ours = (root / CHROMIUM_MANIFEST).read_bytes()

    dpkg(root, "-i", str(build_package(tmp_path, "1.1")))  # the upgrade
    assert "1.1" in dpkg(root, "-s", "resocket")
    manifest = json.loads((root / CHROMIUM_MANIFEST).read_text())
    assert (root / CHROMIUM_MANIFEST).read_bytes() == ours
    assert manifest["allowed_origins"] == [EXTENSION_ORIGIN, f"chrome-extension://{APP}/",
                                           f"chrome-extension://{OWN_BUILD}/"]
    # The package's own copy went beside it (browsers read only org.resocket.host.json) ...
    packaged = json.loads((root / f"{CHROMIUM_MANIFEST}{divert.DIVERT_SUFFIX}").read_text())
    assert packaged["allowed_origins"] == [EXTENSION_ORIGIN] and "1.1" in packaged["description"]
    # ... other browsers' manifests are the new package's, and the IDs are still the administrator's.
    edge = json.loads((root / "etc/opt/edge/native-messaging-hosts" / f"{HOST_NAME}.json").read_text())
    assert "1.1" in edge["description"]
    assert fleet.read_fleet(root / "etc/resocket").relay == (f"chrome-extension://{OWN_BUILD}/",)
    # Installing again after the upgrade changes nothing and diverts nothing twice.
    again = run("install", "--scope", "system", "--browser", "chromium", "--root", str(root),
                "--host-path", "/opt/resocket/resocket-host", env=env)
    assert again.returncode == 0, again.stderr
    assert "diverted" not in again.stderr and (root / CHROMIUM_MANIFEST).read_bytes() == ours
    # Uninstalling gives the package its file back, so removing the package leaves nothing behind.
    gone = run("uninstall", "--scope", "system", "--browser", "chromium", "--root", str(root), env=env)
    assert gone.returncode == 0, gone.stderr
    assert "the package's manifest is back in place" in gone.stderr
    assert json.loads((root / CHROMIUM_MANIFEST).read_text()) == packaged
    assert not (root / f"{CHROMIUM_MANIFEST}{divert.DIVERT_SUFFIX}").exists()
    dpkg(root, "-r", "resocket")
    assert not (root / CHROMIUM_MANIFEST).exists()


def test_doctor_fails_on_a_managed_grants_file_users_could_write(tmp_path: Path, env) -> None:
    # The last step of docs/deploy.md: one machine checked with `resocket doctor --json`.
    system = tmp_path / "system"
    env = {**env, "RESOCKET_SYSTEM_CONFIG_DIR": str(system)}
    udd = tmp_path / "udd"
    udd.mkdir()
    assert run("install", "--browser", "chromium", "--user-data-dir", str(udd), env=env).returncode == 0
    assert run("grant", "--scope", "system", "https://intranet.example", "tcp-connect", env=env).returncode == 0
    healthy = run("doctor", "--browser", "chromium", "--user-data-dir", str(udd), "--json", env=env)
    assert healthy.returncode == 0, healthy.stdout
    (system / "grants.json").chmod(0o666)
    broken = run("doctor", "--browser", "chromium", "--user-data-dir", str(udd), "--json", env=env)
    assert broken.returncode == 1
    report = json.loads(broken.stdout)
    assert not report["ok"]
    assert f"chmod go-w {system / 'grants.json'}" in json.dumps(report["problems"])
