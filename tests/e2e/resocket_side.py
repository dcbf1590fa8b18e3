"""The resocket side of the browser tests: the extension, the host registered for one user-data-dir, and
grants in a private config dir.

- The extension (extension/ in this repo, ID flgdmcpaemonpacjpigcafobmllikoco, fixed by its manifest key)
  is copied into a temp dir so tests can add pages to it without touching the repo; the copy keeps the
  key and therefore the ID.
- The host is registered with `resocket install --browser chromium --user-data-dir UDD`, pointing at a
  wrapper script that runs this checkout's `resocket-host` with a `--log-file`, so a failing test (and
  `make demo`) can show what crossed the wire.
- Grants go to RESOCKET_CONFIG_DIR=<temp dir>, which is also put into Chromium's environment: Chromium
  starts the host with its own environment.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.servers import StaticServer

__all__ = ["StaticServer"]  # kept importable from here for the browser tests and the demo

REPO = Path(__file__).resolve().parents[2]
EXTENSION_DIR = REPO / "extension"
EXTENSION_ID = "flgdmcpaemonpacjpigcafobmllikoco"
EXTENSION_ORIGIN = f"chrome-extension://{EXTENSION_ID}/"
ALL_RULES = ["tcp-connect", "tcp-listen", "udp-send-to", "udp-bind", "udp-multicast-membership"]

# The page the scenarios run in: it loads only the shim, as a converted app's page would.
SCENARIO_PAGE = "e2e-scenario.html"
SHIM = "chrome-socket.js"
# The page of a granted web origin (tests.support.servers.StaticServer.of_pages): the extension adds the shim.
BLANK_PAGE = '<!DOCTYPE html><meta charset="utf-8"><title>a web page</title>'


def _venv_bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else shutil.which(name) or name


def extension_available() -> bool:
    return (EXTENSION_DIR / "manifest.json").exists() and (EXTENSION_DIR / SHIM).exists()


def copy_extension(dest: Path, extra_pages: dict[str, str] | None = None) -> Path:
    """Copy the extension to `dest`, adding the scenario page (and `extra_pages`: name -> html)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(EXTENSION_DIR, dest)
    pages = {SCENARIO_PAGE: f'<!DOCTYPE html><meta charset="utf-8"><title>e2e</title>'
                            f'<script src="{SHIM}"></script>\n'}
    pages.update(extra_pages or {})
    for name, html in pages.items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_text(html)
    return dest


class ResocketProfile:
    """A user-data-dir with the host registered, and a config dir with the grants."""

    def __init__(self, root: Path, *, log_level: str = "DEBUG") -> None:
        self.root = root
        self.user_data_dir = root / "udd"
        self.config_dir = root / "config"
        self.host_log = root / "host.log"
        self.user_data_dir.mkdir(parents=True, exist_ok=True)
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.env = {"RESOCKET_CONFIG_DIR": str(self.config_dir), "RESOCKET_LOG": log_level}
        wrapper = root / "resocket-host-wrapper"
        # Chromium runs the host with argv [path, origin]; the wrapper adds the log file.
        wrapper.write_text(f'#!/bin/sh\nexec "{_venv_bin("resocket-host")}" "$@" --log-file "{self.host_log}"\n')
        wrapper.chmod(0o755)
        self.cli("install", "--browser", "chromium", "--user-data-dir", str(self.user_data_dir),
                 "--host-path", str(wrapper))

    def cli(self, *args: str) -> str:
        env = dict(os.environ)
        env.update(self.env)
        proc = subprocess.run([_venv_bin("resocket"), *args], env=env, capture_output=True, text=True, check=False,
                              timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"resocket {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc.stdout

    def grant(self, origin: str, rules: list[str]) -> None:
        self.cli("grant", origin, *rules)

    def host_log_text(self) -> str:
        return self.host_log.read_text(errors="replace") if self.host_log.exists() else ""
