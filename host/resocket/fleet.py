"""Trusted fleet extensions: the administrator's extension IDs, kept in the system config dir.

A fleet packs its own build of the resocket extension (its own key, so its own ID) and its converted apps
(docs/deploy.md). `resocket install --scope system --extension-id ID [--relay-id ID]` records them in
``extensions.json`` in the system config dir (grants.system_config_dir: /etc/resocket, %ProgramData%\\resocket,
/Library/Application Support/resocket; ``$RESOCKET_SYSTEM_CONFIG_DIR`` for tests)::

    {"version": 1,
     "extensions": ["chrome-extension://<id>/", "app@example.org"],   # may start the host
     "relay": ["chrome-extension://<id>/"]}                            # may also relay web pages

Design rules:
- ``extensions`` go into every host manifest's allowed_origins (allowed_extensions for Firefox IDs), in both
  scopes: a user-level manifest wins over the system one in Chromium, so it must allow them too.
- ``relay`` are builds of the resocket extension: the host lets them name a web page's origin in hello, as
  it lets the built-in ID. Every relay ID is also an allowed extension. Nothing else grants relaying: no
  environment variable, no user file (a page's origin is a security claim; only the administrator, or the
  extension's own key, vouches for who may make it).
- The file lives outside any package, so a package upgrade keeps it. On Debian, where the .deb owns the
  system manifests, `install --scope system` also diverts them (`dpkg-divert --local`) so an upgrade
  writes its copy beside the administrator's instead of over it (divert.py; the host never imports it).
- The host reads the file at every start and fails closed: a file it cannot trust (unreadable, wrong shape,
  writable by others: grants.check_admin_owned) trusts no fleet ID, and the problem is logged.
"""
from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from resocket import EXTENSION_ORIGIN
from resocket.grants import GrantsCorrupt, check_admin_owned, system_config_dir, write_atomically

log = logging.getLogger("resocket.fleet")

FLEET_FILE = "extensions.json"
FORMAT_VERSION = 1
_EXTENSION_ID = re.compile(r"[a-p]{32}")
_EXTENSION_ORIGIN = re.compile(r"chrome-extension://([a-p]{32})/?")


class FleetConfigError(ValueError):
    """extensions.json cannot be used; ``path`` and ``problem`` say why."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class Fleet:
    extensions: tuple[str, ...] = ()
    relay: tuple[str, ...] = ()

    def allowed(self) -> list[str]:
        """Every ID that may start the host: the extensions, then relay IDs not listed there."""
        return list(dict.fromkeys([*self.extensions, *self.relay]))


def fleet_path(system_dir: Path | None = None) -> Path:
    return (system_dir if system_dir is not None else system_config_dir()) / FLEET_FILE


def normalize_id(value: str) -> str:
    """A Chrome ID or chrome-extension:// origin as ``chrome-extension://<id>/``; a Firefox add-on ID
    (``name@domain`` or ``{uuid}``) as it is. ValueError otherwise."""
    text = value.strip()
    if _EXTENSION_ID.fullmatch(text):
        return f"chrome-extension://{text}/"
    match = _EXTENSION_ORIGIN.fullmatch(text)
    if match:
        return f"chrome-extension://{match.group(1)}/"
    if re.fullmatch(r"[^\s@/]+@[^\s@/]+|\{[0-9a-fA-F-]{36}\}", text):
        return text
    raise ValueError(f"{value!r} is not a Chrome extension ID (32 letters a-p), a chrome-extension:// origin "
                     "or a Firefox add-on ID")


def read_fleet(system_dir: Path | None = None) -> Fleet:
    """The fleet file's IDs (normalized); an empty Fleet when there is none. FleetConfigError if unusable."""
    path = fleet_path(system_dir)
    try:
        with open(path, "rb") as f:
            check_admin_owned(path, os.fstat(f.fileno()))
            raw = f.read()
    except FileNotFoundError:
        return Fleet()
    except GrantsCorrupt as exc:
        raise FleetConfigError(path, exc.problem) from None
    except OSError as exc:
        raise FleetConfigError(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FleetConfigError(path, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise FleetConfigError(path, f'expected {{"version": {FORMAT_VERSION}, "extensions": [...], "relay": [...]}}')
    lists = []
    for key in ("extensions", "relay"):
        values = data.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise FleetConfigError(path, f'"{key}" must be a list of extension IDs')
        try:
            lists.append(tuple(dict.fromkeys(normalize_id(v) for v in values)))
        except ValueError as exc:
            raise FleetConfigError(path, f'"{key}": {exc}') from None
    if any(not v.startswith("chrome-extension://") for v in lists[1]):
        raise FleetConfigError(path, '"relay" lists Chrome extension IDs only (builds of the resocket extension)')
    return Fleet(*lists)


def add_to_fleet(extensions: Iterable[str], relay: Iterable[str], system_dir: Path | None = None) -> Fleet:
    """Add IDs (normalized; ValueError for a bad one) and write the file if anything is new; returns the
    fleet after. The dir is made readable by every user (each user's host reads it)."""
    new_ext = [normalize_id(v) for v in extensions]
    new_relay = [normalize_id(v) for v in relay]
    for value in new_relay:
        if not value.startswith("chrome-extension://"):
            raise ValueError(f"--relay-id {value}: only Chrome extension IDs relay web pages")
    current = read_fleet(system_dir)
    after = Fleet(tuple(dict.fromkeys([*current.extensions, *new_ext])),
                  tuple(dict.fromkeys([*current.relay, *new_relay])))
    if after != current:
        path = fleet_path(system_dir)
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        body = {"version": FORMAT_VERSION, "extensions": list(after.extensions), "relay": list(after.relay)}
        write_atomically(path, (json.dumps(body, indent=2) + "\n").encode("utf-8"), mode=0o644)
    return after


def allowed_ids(system_dir: Path | None = None) -> tuple[list[str], list[str]]:
    """(IDs every host manifest must allow, warnings) for install: a broken file is a warning there, so it
    never blocks registering the host."""
    try:
        return read_fleet(system_dir).allowed(), []
    except FleetConfigError as exc:
        return [], [f"{exc}; the fleet's extension IDs were not added to allowed_origins"]


def relay_origins(system_dir: Path | None = None) -> frozenset[str]:
    """The origins the host lets name a web page's origin in hello: the resocket extension and the fleet's
    relay IDs. Fails closed (built-in ID only) on a file it cannot trust, and logs why."""
    try:
        relay = read_fleet(system_dir).relay
    except FleetConfigError as exc:
        log.error("not trusting any fleet extension to relay web pages: %s", exc)
        relay = ()
    return frozenset([EXTENSION_ORIGIN, *relay])
