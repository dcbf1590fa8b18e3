"""Build resocket's packages into dist/: everything this machine can build.

    python installer/build.py [all|binaries|deb|tarball|zip] [--dist DIR] [--build DIR] [--bundle DIR]

- binaries: PyInstaller one-dir bundle `resocket/` with `resocket` and `resocket-host` side by side
  (installer/resocket.spec). PyInstaller builds for the OS it runs on only: the .deb and the Linux
  tarball come from Linux, the macOS tarball from a Mac, the Windows zip from Windows.
- deb (Linux, needs dpkg-deb): /opt/resocket/ (the bundle), /usr/bin links, the extension in
  /usr/share/resocket/extension, and system-wide native messaging manifests for every Chromium-family
  browser and Firefox, shipped as files so dpkg removes them with the package; the license in
  /usr/share/doc/resocket/copyright (Debian's machine-readable format).
- tarball (Linux/macOS): the bundle, the extension, LICENSE and install.sh / uninstall.sh (`resocket install`).
- zip (Windows): the bundle, the extension, LICENSE and install.ps1 / install.bat (HKCU keys + manifests).

The bundle carries the extension in `_internal/resocket/data/extension` (`resocket extension-path` prints it).
The .deb and the tarball show users one folder of their own (above): there the bundle's copy is a relative
symlink to it, so each package holds the extension once and `extension-path` names the folder users see.

Needs PyInstaller for `binaries` (pip install -e '.[dist]'). `--bundle DIR` reuses a built bundle.
"""
from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "host"))

from resocket import EXTENSION_ORIGIN, __version__
from resocket.cli import browsers, install, packaged_extension

INSTALLER = REPO / "installer"
BUNDLE_NAME = "resocket"
DEB_PREFIX = "/opt/resocket"
DEB_HOST_PATH = f"{DEB_PREFIX}/resocket-host"
DEB_EXTENSION_DIR = "/usr/share/resocket/extension"
DEB_MAINTAINER = "resocket developers <resocket@resocket.org>"
LICENSE = REPO / "LICENSE"
#: Where the bundle keeps its extension (installer/resocket.spec), relative to the bundle folder.
BUNDLE_EXTENSION = Path("_internal") / "resocket" / "data" / "extension"


def log(msg: str) -> None:
    print(f"build: {msg}", file=sys.stderr)


def os_tag() -> str:
    name = {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower()
    return f"{name}-{ {'amd64': 'x86_64', 'arm64': 'aarch64'}.get(machine, machine)}"


# -- binaries -----------------------------------------------------------------------------------------

def build_binaries(build_dir: Path) -> Path:
    """Run PyInstaller; returns the one-dir bundle folder."""
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        raise SystemExit("build: PyInstaller is missing: pip install -e '.[dist]'") from None
    out = build_dir / "pyinstaller"
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
                    "--distpath", str(out / "dist"), "--workpath", str(out / "work"),
                    str(INSTALLER / "resocket.spec")], check=True)
    bundle = out / "dist" / BUNDLE_NAME
    log(f"bundle: {bundle}")
    return bundle


# -- shared pieces ------------------------------------------------------------------------------------

def _ignore_private(_dir: str, names: list[str]) -> list[str]:
    # Never ship dotfiles (.git) or private keys someone left in the extension folder.
    return [n for n in names if packaged_extension.is_private(n)]


def copy_extension(dest: Path) -> None:
    src = REPO / "extension"
    if not (src / "manifest.json").exists():
        log(f"warning: {src}/manifest.json is missing; the package's extension folder is incomplete")
    shutil.copytree(src, dest, ignore=_ignore_private, dirs_exist_ok=True)


def link_bundle_extension(bundle: Path, shown: Path) -> None:
    """Replace the bundle's own copy of the extension by a relative symlink to `shown`, the folder the
    package shows users: relative, so it also resolves in a root unpacked elsewhere (dpkg -x, a tarball
    extracted anywhere)."""
    inner = bundle / BUNDLE_EXTENSION
    if not (inner / "manifest.json").exists():
        raise SystemExit(f"build: {bundle} carries no extension in {BUNDLE_EXTENSION}: rebuild the bundle")
    shutil.rmtree(inner)
    inner.symlink_to(os.path.relpath(shown, inner.parent), target_is_directory=True)


def deb_copyright() -> str:
    """/usr/share/doc/resocket/copyright in Debian's machine-readable format 1.0 (DEP-5). Debian calls the
    MIT license text resocket uses "Expat"; the text itself follows, blank lines written as " ."."""
    text = LICENSE.read_text(encoding="utf-8").strip().splitlines()
    notice = next(line for line in text if line.startswith("Copyright"))
    body = text[text.index(notice) + 1:]
    while body and not body[0].strip():
        body.pop(0)
    licence = "\n".join(f" {line}" if line.strip() else " ." for line in body)
    return ("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
            "Upstream-Name: resocket\n"
            "\n"
            "Files: *\n"
            f"Copyright: {notice.removeprefix('Copyright (c) ').removeprefix('Copyright ')}\n"
            "License: Expat\n"
            f"{licence}\n")


def copy_bundle(bundle: Path, dest: Path) -> None:
    if not (bundle / "resocket-host").exists() and not (bundle / "resocket-host.exe").exists():
        raise SystemExit(f"build: {bundle} is not a resocket bundle (no resocket-host in it)")
    shutil.copytree(bundle, dest, symlinks=True, dirs_exist_ok=True)


def system_manifests(host_path: str) -> dict[Path, bytes]:
    """Linux system-wide manifest files (absolute paths) for every browser, as `resocket install
    --scope system` writes them for the resocket extension alone."""
    plat = browsers.Platform("linux", Path("/nonexistent"), Path("/"))
    files: dict[Path, bytes] = {}
    for browser in browsers.BROWSERS:
        allowed = ([EXTENSION_ORIGIN] if browser.family == browsers.CHROMIUM_FAMILY
                   else [install.FIREFOX_EXTENSION_ID])
        body = install.manifest_bytes(install.render_manifest(browser.family, host_path, allowed))
        for folder in browsers.manifest_dirs(browser, plat, "system"):
            files[folder / browsers.manifest_file_name()] = body
    return files


# -- .deb -----------------------------------------------------------------------------------------------

def deb_architecture() -> str:
    try:
        return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def glibc_version() -> str | None:
    # The bundle's libpython is linked against the build machine's glibc: older systems cannot run it.
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError, AttributeError):
        return None
    return text.split()[-1] if text.startswith("glibc ") else None


def deb_control(arch: str, installed_kib: int) -> str:
    glibc = glibc_version()
    fields = {
        "Package": "resocket",
        "Version": __version__,
        "Architecture": arch,
        "Maintainer": DEB_MAINTAINER,
        "Installed-Size": str(installed_kib),
        "Depends": f"libc6 (>= {glibc})" if glibc else None,
        "Section": "net",
        "Priority": "optional",
        "Description": "chrome.socket for today's browsers (native messaging host)\n"
                       " resocket restores Chrome's removed chrome.socket API: an MV3 extension forwards\n"
                       " each call over native messaging to resocket-host, which does the socket work.\n"
                       " This package registers the host system-wide for Chrome, Chromium, Edge, Brave,\n"
                       " Vivaldi and Firefox; load the extension from /usr/share/resocket/extension.",
    }
    return "".join(f"{k}: {v}\n" for k, v in fields.items() if v is not None)


def build_deb(bundle: Path, build_dir: Path, dist: Path, fast: bool = False) -> Path:
    if not shutil.which("dpkg-deb"):
        raise SystemExit("build: dpkg-deb not found (the .deb is built on Debian/Ubuntu)")
    arch = deb_architecture()
    root = build_dir / "deb" / f"resocket_{__version__}_{arch}"
    if root.exists():
        shutil.rmtree(root)
    copy_bundle(bundle, root / DEB_PREFIX.lstrip("/"))
    (root / "usr/bin").mkdir(parents=True)
    for name in ("resocket", "resocket-host"):
        os.symlink(f"{DEB_PREFIX}/{name}", root / "usr/bin" / name)
    copy_extension(root / DEB_EXTENSION_DIR.lstrip("/"))
    link_bundle_extension(root / DEB_PREFIX.lstrip("/"), root / DEB_EXTENSION_DIR.lstrip("/"))
    for path, body in system_manifests(DEB_HOST_PATH).items():
        target = root / path.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    doc = root / "usr/share/doc/resocket"
    doc.mkdir(parents=True)
    shutil.copy(INSTALLER / "unix" / "README.txt", doc / "README.txt")
    (doc / "copyright").write_text(deb_copyright(), encoding="utf-8")
    size = sum(p.lstat().st_size for p in root.rglob("*") if not p.is_dir())
    debian = root / "DEBIAN"
    debian.mkdir()
    (debian / "control").write_text(deb_control(arch, (size + 1023) // 1024))
    for path in root.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    dist.mkdir(parents=True, exist_ok=True)
    out = dist / f"resocket_{__version__}_{arch}.deb"
    compression = ["-Znone"] if fast else ["-Zxz"]
    subprocess.run(["dpkg-deb", "--root-owner-group", *compression, "--build", str(root), str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    log(f"wrote {out}")
    return out


# -- tarball (Linux, macOS) -----------------------------------------------------------------------------

def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def build_tarball(bundle: Path, build_dir: Path, dist: Path, fast: bool = False) -> Path:
    name = f"resocket-{__version__}-{os_tag()}"
    stage = build_dir / "tarball" / name
    if stage.exists():
        shutil.rmtree(stage)
    copy_bundle(bundle, stage / BUNDLE_NAME)
    copy_extension(stage / "extension")
    link_bundle_extension(stage / BUNDLE_NAME, stage / "extension")
    for script in ("install.sh", "uninstall.sh", "README.txt"):
        shutil.copy(INSTALLER / "unix" / script, stage / script)
    shutil.copy(LICENSE, stage / "LICENSE")
    for script in ("install.sh", "uninstall.sh"):
        (stage / script).chmod(0o755)
    dist.mkdir(parents=True, exist_ok=True)
    out = dist / f"{name}.tar.gz"
    with tarfile.open(out, "w:gz", compresslevel=1 if fast else 9) as tf:
        tf.add(stage, arcname=name, filter=_root_owned)
    log(f"wrote {out}")
    return out


# -- zip (Windows) ----------------------------------------------------------------------------------------

def build_zip(bundle: Path, build_dir: Path, dist: Path, fast: bool = False) -> Path:
    if sys.platform != "win32":
        raise SystemExit("build: the Windows zip holds Windows executables: build it on Windows")
    name = f"resocket-{__version__}-{os_tag()}"
    stage = build_dir / "zip" / name
    if stage.exists():
        shutil.rmtree(stage)
    # No symlinks in a zip: the bundle keeps its own copy and `extension\` sits beside it for users.
    copy_bundle(bundle, stage / BUNDLE_NAME)
    copy_extension(stage / "extension")
    for script in (INSTALLER / "windows").iterdir():
        shutil.copy(script, stage / script.name)
    shutil.copy(LICENSE, stage / "LICENSE.txt")
    dist.mkdir(parents=True, exist_ok=True)
    out = dist / f"{name}.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(stage.rglob("*")):
            if path.is_file():
                zf.write(path, f"{name}/{path.relative_to(stage).as_posix()}")
    out.write_bytes(buf.getvalue())
    log(f"wrote {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="?", default="all", choices=["all", "binaries", "deb", "tarball", "zip"],
                        help="all = every package this OS can build (default)")
    parser.add_argument("--dist", type=Path, default=REPO / "dist", help="output folder (default: dist/)")
    parser.add_argument("--build", type=Path, default=REPO / "build", help="scratch folder (default: build/)")
    parser.add_argument("--bundle", type=Path, help="use this PyInstaller bundle instead of building one")
    parser.add_argument("--fast", action="store_true", help="least compression (tests): bigger, quicker")
    args = parser.parse_args(argv)
    bundle = args.bundle.resolve() if args.bundle else build_binaries(args.build)
    if args.what == "binaries":
        dest = args.dist / f"{BUNDLE_NAME}-{os_tag()}"
        if dest.exists():
            shutil.rmtree(dest)
        copy_bundle(bundle, dest)
        log(f"wrote {dest}")
        return 0
    steps = {"deb": build_deb, "tarball": build_tarball, "zip": build_zip}
    if args.what != "all":
        steps[args.what](bundle, args.build, args.dist, args.fast)
        return 0
    if sys.platform == "win32":
        build_zip(bundle, args.build, args.dist, args.fast)
        return 0
    build_tarball(bundle, args.build, args.dist, args.fast)
    if sys.platform.startswith("linux") and shutil.which("dpkg-deb"):
        build_deb(bundle, args.build, args.dist, args.fast)
    return 0


if __name__ == "__main__":
    sys.exit(main())
