"""Debian: the .deb's manifests and the administrator's, across package upgrades (`install --scope system`).

The .deb ships its native-messaging manifests as plain package files (docs/packaging.md), so an upgrade
would write them over the manifests an administrator's `resocket install --scope system` rewrote with the
fleet's IDs. Before rewriting one that a package ships, the install adds a local dpkg diversion: dpkg then
unpacks the package's copy under another name, which no browser reads, and leaves the administrator's where
browsers look. Only the CLI imports this module (it runs dpkg); the host never does.
"""
from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

#: The name dpkg gives the package's own copy of a diverted manifest; browsers read only `<host name>.json`.
DIVERT_SUFFIX = ".resocket-package"


def keep_from_package_upgrades(manifests: Iterable[Path], root: Path | None = None) -> list[str]:
    """Before `install --scope system` rewrites a manifest a dpkg package ships (the .deb's), divert it:
    `dpkg-divert --local --rename` moves the package's copy to ``<name>.json.resocket-package`` and makes
    every later unpack (an upgrade) write there, so the administrator's manifest, with the fleet's IDs,
    stays where browsers read it. Returns notes for the user; does nothing where dpkg is not the package
    manager. (`restore_packaged` undoes it.)"""
    if not shutil.which("dpkg-divert") or not shutil.which("dpkg-query"):
        return []
    root_args = [f"--root={root}"] if root is not None else []
    notes: list[str] = []
    for manifest in manifests:
        path = "/" + manifest.relative_to(root).as_posix() if root is not None else str(manifest)
        owner = subprocess.run(["dpkg-query", *root_args, "-S", path], capture_output=True, text=True,
                               check=False)
        lines = owner.stdout.splitlines()
        if owner.returncode != 0 or any(line.startswith("local diversion") for line in lines):
            continue  # no package ships it, or it is diverted already
        packages = [line.split(":", 1)[0] for line in lines if line.endswith(f": {path}")]
        if not packages:
            continue
        proc = subprocess.run(["dpkg-divert", *root_args, "--local", "--rename", "--divert",
                               path + DIVERT_SUFFIX, "--add", path], capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            notes.append(f"{path} is shipped by the {packages[0]} package: diverted its copy to "
                         f"{path + DIVERT_SUFFIX} so package upgrades keep this manifest")
        else:
            notes.append(f"could not divert {path} from the {packages[0]} package "
                         f"({(proc.stderr or proc.stdout).strip()}): a package upgrade will reset its IDs; "
                         f"run this install again after upgrading")
    return notes


def restore_packaged(manifests: Iterable[Path], root: Path | None = None) -> list[str]:
    """After `uninstall --scope system` removed manifests: put back the package's copy of each one this
    module diverted (`dpkg-divert --rename --remove`), so the package owns its file again and `apt remove`
    cleans up. Returns notes; does nothing where nothing was diverted."""
    if not shutil.which("dpkg-divert"):
        return []
    root_args = [f"--root={root}"] if root is not None else []
    notes: list[str] = []
    for manifest in manifests:
        path = "/" + manifest.relative_to(root).as_posix() if root is not None else str(manifest)
        diverted = subprocess.run(["dpkg-divert", *root_args, "--truename", path], capture_output=True,
                                  text=True, check=False).stdout.strip()
        if diverted != path + DIVERT_SUFFIX:
            continue  # not ours to undo
        proc = subprocess.run(["dpkg-divert", *root_args, "--local", "--rename", "--divert", diverted, "--remove",
                               path], capture_output=True, text=True, check=False)
        notes.append(f"{path}: the package's manifest is back in place" if proc.returncode == 0 else
                     f"could not restore the package's {path} ({(proc.stderr or proc.stdout).strip()}); "
                     f"run: dpkg-divert --local --rename --divert {diverted} --remove {path}")
    return notes
