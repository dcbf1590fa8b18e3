"""The packages: PyInstaller one-dir bundle, .deb and tarball, built by installer/build.py as `make dist`
does, then unpacked and run. Each carries the extension once (`resocket extension-path` names it) and the
license.

Needs PyInstaller (pip install -e '.[dist]'); skipped without it. One build for the test run (the session
fixture `packages`, shared with tests/e2e/test_user_install.py): ~10 s for PyInstaller plus ~2 s of packaging
on a 2-core machine (--fast: least compression).
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
from resocket import EXTENSION_ORIGIN, HOST_NAME, __version__
from resocket.cli import packaged_extension

from tests.support.wire import message, parse_frames

pytest.importorskip("PyInstaller", reason="PyInstaller is needed to build the packages: pip install -e '.[dist]'")

REPO = Path(__file__).resolve().parents[1]
HOST_IN_DEB = "/opt/resocket/resocket-host"
# System folders Chromium-family browsers and Firefox read on Linux (docs/install.md).
DEB_MANIFEST_DIRS = {
    "etc/opt/chrome/native-messaging-hosts": "chromium",
    "etc/chromium/native-messaging-hosts": "chromium",
    "etc/opt/edge/native-messaging-hosts": "chromium",
    "etc/opt/vivaldi/native-messaging-hosts": "chromium",
    "etc/vivaldi/native-messaging-hosts": "chromium",
    "usr/lib/mozilla/native-messaging-hosts": "firefox",
    "usr/lib64/mozilla/native-messaging-hosts": "firefox",
}


@pytest.fixture(scope="module")
def dist(packages: Path) -> Path:
    # One build for the whole run (tests/conftest.py `packages`): the browser journeys use the same packages.
    return packages


@pytest.fixture(scope="module")
def bundle(dist: Path) -> Path:
    return dist / "build" / "pyinstaller" / "dist" / "resocket"


@pytest.fixture(scope="module")
def deb(dist: Path) -> Path:
    if not shutil.which("dpkg-deb"):
        pytest.skip("dpkg-deb not available")
    (found,) = (dist / "dist").glob("resocket_*.deb")
    return found


@pytest.fixture(scope="module")
def deb_root(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("root")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, timeout=120)
    return root


def extension_path(cli: Path) -> Path:
    """What `resocket extension-path` of a packaged CLI prints (no Python on PATH: the bundle needs none)."""
    r = subprocess.run([str(cli), "extension-path"], capture_output=True, text=True, timeout=60, check=False,
                       env={"PATH": "/nonexistent", "HOME": str(cli.parent)})
    assert r.returncode == 0, r.stderr
    return Path(r.stdout.strip())


def assert_is_the_extension(folder: Path) -> None:
    """`folder` holds exactly the files of extension/ a build ships, byte for byte."""
    shipped = packaged_extension.shipped_files(REPO / "extension")
    assert packaged_extension.shipped_files(folder) == shipped
    for rel in shipped:
        assert (folder / rel).read_bytes() == (REPO / "extension" / rel).read_bytes(), rel


def first_reply(host: Path, request: dict) -> tuple[dict, subprocess.CompletedProcess]:
    """Send one frame and close stdin (the port closes), as Chrome does; return the first frame back."""
    proc = subprocess.run([str(host), EXTENSION_ORIGIN], input=message(request), capture_output=True,
                          timeout=60, cwd=host.parent, check=False)
    assert len(proc.stdout) >= 4, f"no frame on stdout; stderr: {proc.stderr.decode(errors='replace')}"
    return parse_frames(proc.stdout)[0], proc


# -- the bundle ---------------------------------------------------------------------------------------

def test_bundle_holds_both_executables_side_by_side(bundle: Path):
    for name in ("resocket", "resocket-host"):
        assert os.access(bundle / name, os.X_OK), name
    assert (bundle / "_internal").is_dir()


def test_bundled_cli_runs_without_python_on_the_path(bundle: Path, tmp_path: Path):
    env = {"PATH": "/nonexistent", "HOME": str(tmp_path)}
    r = subprocess.run([str(bundle / "resocket"), "--version"], capture_output=True, text=True, env=env,
                       timeout=60, check=False)
    assert (r.returncode, r.stdout.strip()) == (0, f"resocket {__version__}")


def test_bundled_cli_signs_packages(bundle: Path, tmp_path: Path):
    # keygen/pack need cryptography: the CLI bundle carries it (the host's does not).
    r = subprocess.run([str(bundle / "resocket"), "keygen", str(tmp_path / "k.pem")], capture_output=True,
                       text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("extension ID: ")


def test_bundled_cli_prints_the_extension_the_bundle_carries(bundle: Path):
    folder = extension_path(bundle / "resocket")
    assert folder == (bundle / "_internal/resocket/data/extension").resolve()
    assert_is_the_extension(folder)


def test_bundled_host_answers_hello_over_native_messaging(bundle: Path):
    reply, proc = first_reply(bundle / "resocket-host",
                              {"id": 1, "op": "hello", "args": {"protocol": 1, "client": "tests/1"}})
    assert reply["id"] == 1
    assert reply.get("result", {}).get("protocol") == 1, reply
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")


# -- the .deb -------------------------------------------------------------------------------------------

def test_deb_control_names_package_version_and_architecture(deb: Path):
    info = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Version", "Architecture"],
                          capture_output=True, text=True, check=True).stdout
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    assert info.splitlines() == ["Package: resocket", f"Version: {__version__}", f"Architecture: {arch}"]


def test_deb_has_no_maintainer_scripts(deb: Path, tmp_path: Path):
    # The manifests are plain files of the package: dpkg installs and removes them, nothing to script.
    subprocess.run(["dpkg-deb", "-e", str(deb), str(tmp_path / "ctl")], check=True)
    assert sorted(p.name for p in (tmp_path / "ctl").iterdir()) == ["control"]


def test_deb_installs_binaries_in_opt_with_usr_bin_links(deb_root: Path):
    for name in ("resocket", "resocket-host"):
        assert os.access(deb_root / "opt/resocket" / name, os.X_OK)
        link = deb_root / "usr/bin" / name
        assert link.is_symlink() and os.readlink(link) == f"/opt/resocket/{name}"


def test_deb_ships_a_manifest_per_browser_pointing_at_the_installed_host(deb_root: Path):
    found = {str(p.parent.relative_to(deb_root)) for p in deb_root.rglob(f"{HOST_NAME}.json")}
    assert found == set(DEB_MANIFEST_DIRS)
    for folder, family in DEB_MANIFEST_DIRS.items():
        raw = (deb_root / folder / f"{HOST_NAME}.json").read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf")  # a BOM makes Chrome report "host not found"
        manifest = json.loads(raw)
        assert (manifest["name"], manifest["path"], manifest["type"]) == (HOST_NAME, HOST_IN_DEB, "stdio")
        if family == "chromium":
            assert manifest["allowed_origins"] == [EXTENSION_ORIGIN]
        else:
            assert manifest["allowed_extensions"] and "allowed_origins" not in manifest


def test_deb_ships_the_extension_without_private_files(deb_root: Path):
    ext = deb_root / "usr/share/resocket/extension"
    assert ext.is_dir()
    if (REPO / "extension" / "manifest.json").exists():
        assert json.loads((ext / "manifest.json").read_text()) == \
            json.loads((REPO / "extension" / "manifest.json").read_text())
    assert not [p for p in ext.rglob("*") if p.name.startswith(".") or p.suffix == ".pem"]


def test_deb_carries_the_extension_once_and_its_cli_prints_that_folder(deb_root: Path):
    shown = deb_root / "usr/share/resocket/extension"
    assert_is_the_extension(shown)
    # The bundle's own copy is a relative link to it, so it also resolves in this unpacked root.
    inner = deb_root / "opt/resocket/_internal/resocket/data/extension"
    assert inner.is_symlink() and not os.path.isabs(os.readlink(inner))
    assert extension_path(deb_root / "opt/resocket/resocket") == shown.resolve()
    manifests = [p for p in deb_root.rglob("manifest.json") if not p.is_symlink() and "extension" in p.parts]
    assert [p.parent for p in manifests if p.resolve() == p] == [shown]


def test_deb_copyright_is_the_mit_license_in_debians_machine_readable_format(deb_root: Path):
    text = (deb_root / "usr/share/doc/resocket/copyright").read_text()
    header, files = text.split("\n\n", 1)
    assert header.splitlines()[0] == "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    assert "Upstream-Name: resocket" in header.splitlines()
    lines = files.splitlines()
    assert lines[0] == "Files: *"
    assert lines[1] == "Copyright: 2026 resocket developers"
    assert lines[2] == "License: Expat"
    # The license text, as continuation lines (" ." for an empty line), is LICENSE's below its notice.
    body = "\n".join("" if line == " ." else line[1:] for line in lines[3:])
    license_text = (REPO / "LICENSE").read_text()
    assert body.strip() and body.strip() in license_text
    assert license_text.strip().endswith(body.strip())
    assert all(line.startswith(" ") for line in lines[3:])


def test_deb_host_runs_from_the_unpacked_root(deb_root: Path):
    reply, _ = first_reply(deb_root / "opt/resocket/resocket-host",
                           {"id": 7, "op": "hello", "args": {"protocol": 1, "client": "tests/1"}})
    assert reply["id"] == 7 and "result" in reply, reply


# -- the tarball ------------------------------------------------------------------------------------------

def test_tarball_holds_bundle_extension_and_executable_install_script(dist: Path, tmp_path: Path):
    (tarball,) = (dist / "dist").glob(f"resocket-{__version__}-*.tar.gz")
    with tarfile.open(tarball) as tf:
        members = {m.name: m for m in tf.getmembers()}
        tf.extractall(tmp_path)
    top = tarball.name[: -len(".tar.gz")]
    for script in ("install.sh", "uninstall.sh"):
        assert members[f"{top}/{script}"].mode & stat.S_IXUSR
    assert all(m.uid == 0 and m.uname == "root" for m in members.values())
    root = tmp_path / top
    assert os.access(root / "resocket" / "resocket-host", os.X_OK)
    assert (root / "LICENSE").read_bytes() == (REPO / "LICENSE").read_bytes()
    assert "resocket/resocket\" install" in (root / "install.sh").read_text()
    # One copy of the extension, beside the bundle; the bundle links to it and its CLI names it.
    assert_is_the_extension(root / "extension")
    assert (root / "resocket/_internal/resocket/data/extension").is_symlink()
    assert extension_path(root / "resocket" / "resocket") == (root / "extension").resolve()


def test_tarball_install_script_registers_the_extracted_host_for_the_user(dist: Path, tmp_path: Path):
    (tarball,) = (dist / "dist").glob(f"resocket-{__version__}-*.tar.gz")
    with tarfile.open(tarball) as tf:
        tf.extractall(tmp_path)
    root = tmp_path / tarball.name[: -len(".tar.gz")]
    home = tmp_path / "home"
    (home / ".config" / "chromium").mkdir(parents=True)  # "Chromium is installed" for this user
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([str(root / "install.sh")], capture_output=True, text=True, env=env, timeout=120,
                       check=False)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((home / ".config/chromium/NativeMessagingHosts" / f"{HOST_NAME}.json").read_text())
    assert manifest["path"] == str(root / "resocket" / "resocket-host")
    assert manifest["allowed_origins"] == [EXTENSION_ORIGIN]
    doctor = subprocess.run([str(root / "resocket" / "resocket"), "doctor"], capture_output=True, text=True,
                            env=env, timeout=120, check=False)
    assert "answered hello" in doctor.stdout, doctor.stdout + doctor.stderr
