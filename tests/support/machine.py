"""A private machine for the install and doctor tests: a temporary HOME and an empty root.

Design rule: nothing of the real machine leaks in. Its browser folders are below the real HOME, its
browser programs below the real "/" (Debian's Chromium and Firefox are installed here), and
XDG_CONFIG_HOME / CHROME_CONFIG_HOME would move every Linux folder: each is replaced, so a test sees
exactly the browsers it creates. `--root DIR` on a command still overrides the empty root.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from resocket.cli import browsers
from resocket.cli.browsers import Platform


def private_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME, the config dir and the root of system paths at empty temporary folders; return HOME."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("RESOCKET_CONFIG_DIR", str(tmp_path / "config"))
    for key in browsers.ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    empty_root = tmp_path / "empty-root"
    empty_root.mkdir()
    current = Platform.current
    monkeypatch.setattr(Platform, "current", classmethod(lambda _cls: dataclasses.replace(current(), root=empty_root)))
    return home


def profile_dir(tmp_path: Path, name: str = "profile") -> Path:
    """A browser profile folder (--user-data-dir), as the browser creates it on its first start."""
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    return folder
