"""Register `resocket-host` with browsers: write (or remove) native messaging manifests and registry keys.

Design rules:
- Plan, then apply: `plan_install` / `plan_uninstall` return `Change`s without touching anything, so
  `--dry-run` prints exactly what a real run does. `apply` performs them.
- The manifest JSON is built here from one table (`render_manifest`); manifests/*.json.in are the
  documented reference and a test keeps them identical.
- Re-running install repairs: every manifest is rewritten with the current host path, and its allowed
  origins are recomputed, never merged with the old file's: resocket's extension, every chrome-extension
  origin holding a grant now, and the extra IDs ever given with `--extension-id` (kept in the config dir,
  `extra-extensions.json`, so one given once is not dropped). A revoked app's origin therefore disappears.
- Failures are reported, not raised mid-way: `apply` tries every change, removes its temporary files, and
  raises `ApplyFailed` with one `WriteProblem` (what is wrong, the command that fixes it) per failed place.
- Uninstall removes only what resocket wrote: files whose `name` is org.resocket.host, registry keys whose
  (Default) value is such a file. A location another installed browser reads too is left in place. With no
  browser named it looks in every known location of every browser (browsers.known_manifest_dirs), found
  or not: a browser removed since the install still had a manifest written for it.
- `plan_purge` lists resocket's own files from the config dir by name (grants, app keys, saved
  extension IDs): that dir may be one the user chose (RESOCKET_CONFIG_DIR), so nothing else is deleted.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from resocket import EXTENSION_ORIGIN, FIREFOX_EXTENSION_ID, HOST_NAME, __version__
from resocket.cli import browsers
from resocket.cli.browsers import CHROMIUM_FAMILY, Browser, Platform
from resocket.grants import canonical_extension_origin

DESCRIPTION = f"resocket {__version__}: chrome.socket over native messaging"
HOST_EXECUTABLE = "resocket-host"



class InstallError(Exception):
    """Something the user must change before install/uninstall can proceed; the message says what."""


@dataclass(frozen=True)
class WriteProblem:
    """One place install/uninstall could not change, with the shell command that fixes it."""

    browser: str
    scope: str
    where: str
    problem: str
    fix: str

    def as_json(self) -> dict:
        return {"browser": self.browser, "scope": self.scope, "where": self.where, "problem": self.problem,
                "fix": self.fix}


class ApplyFailed(InstallError):
    """Some changes could not be made (the others were); `problems` says which and how to fix each."""

    def __init__(self, problems: list[WriteProblem], done: list[Change]) -> None:
        self.problems = problems
        self.done = done
        super().__init__("; ".join(f"{p.browser}: {p.problem} (fix: {p.fix})" for p in problems))


# -- manifest content ---------------------------------------------------------------------------------
def render_manifest(family: str, host_path: str, allowed: Iterable[str]) -> dict:
    """The manifest as a dict, keys in the order of manifests/<family>.json.in."""
    key = "allowed_origins" if family == CHROMIUM_FAMILY else "allowed_extensions"
    return {"name": HOST_NAME, "description": DESCRIPTION, "path": host_path, "type": "stdio",
            key: list(allowed)}


def manifest_bytes(manifest: dict) -> bytes:
    # UTF-8 without a BOM: Chrome rejects a manifest that starts with one ("host not found").
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def read_manifest(path: Path) -> dict | None:
    """The manifest at `path` if it parses (a BOM is tolerated here); None when absent or unreadable."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_resocket_manifest(path: Path) -> bool:
    data = read_manifest(path)
    return data is not None and data.get("name") == HOST_NAME


def extension_origin(value: str) -> str:
    """`--extension-id` accepts a bare ID or a chrome-extension:// origin (read as a grant reads it,
    grants.canonical_extension_origin); returns the origin."""
    value = value.strip()
    origin = canonical_extension_origin(value) or canonical_extension_origin(f"chrome-extension://{value}/")
    if origin:
        return origin
    raise InstallError(f"{value!r} is not a Chrome extension ID (32 letters a-p) or chrome-extension:// origin")


def granted_extension_origins() -> tuple[list[str], list[str]]:
    """(chrome-extension origins holding a grant, warnings). Web-page origins reach the host through the
    resocket extension, so only extension origins go into allowed_origins."""
    try:
        from resocket.grants import Grants, GrantsCorrupt
    except ImportError:
        return [], []
    try:
        granted = Grants.open().all()  # the user's and the managed grants (docs/deploy.md)
    except (GrantsCorrupt, OSError) as exc:  # a corrupt grants file must not block registering the host
        return [], [f"grants not read ({exc}); granted extensions were not added to allowed_origins"]
    return sorted(o for o in granted if canonical_extension_origin(o) == o), []


def chromium_origins(extra: Iterable[str]) -> list[str]:
    origins = [EXTENSION_ORIGIN]
    for origin in extra:
        if canonical_extension_origin(origin) == origin and origin not in origins:
            origins.append(origin)
    return origins


def firefox_extensions(extra: Iterable[str]) -> list[str]:
    ids = [FIREFOX_EXTENSION_ID]
    for ext in extra:
        if isinstance(ext, str) and ext and ext not in ids:
            ids.append(ext)
    return ids


# -- extra extension IDs given with --extension-id, kept across installs -----------------------------------
EXTRAS_FILE = "extra-extensions.json"


def extras_path() -> Path:
    from resocket.grants import default_config_dir

    return default_config_dir() / EXTRAS_FILE


def saved_extra_ids() -> tuple[list[str], list[str]]:
    """(the extension IDs / origins saved by earlier `install --extension-id`, warnings)."""
    path = extras_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [], []
    except (OSError, ValueError) as exc:
        return [], [(f"{path} not read ({exc}); extensions added earlier with --extension-id are not allowed "
                    "this time: give them again")]
    ids = data.get("extensions") if isinstance(data, dict) else None
    return [e for e in ids if isinstance(e, str)] if isinstance(ids, list) else [], []


def save_extra_ids(ids: Iterable[str]) -> None:
    """Add `ids` to the saved extras (atomic write; the file is created only when there is something to keep)."""
    new = [e.strip() for e in ids]
    if not new:
        return
    saved, _ = saved_extra_ids()
    merged = [*saved, *(e for e in new if e not in saved)]
    if merged == saved:
        return
    path = extras_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps({"extensions": merged}, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        _unlink_quietly(tmp)


# -- the host executable -------------------------------------------------------------------------------
def host_executable_name(os_name: str) -> str:
    return HOST_EXECUTABLE + (".exe" if os_name == "windows" else "")


def find_host_path(os_name: str, override: str | None = None) -> Path:
    """The `resocket-host` of this installation, as an absolute path (symlinks kept: a pipx link survives
    upgrades of the venv behind it)."""
    if override:
        path = Path(os.path.abspath(os.path.expanduser(override)))
        if not path.is_file():
            raise InstallError(f"--host-path {path} does not exist")
        if os_name != "windows" and not os.access(path, os.X_OK):
            raise InstallError(f"--host-path {path} is not executable; fix: chmod +x {path}")
        return path
    name = host_executable_name(os_name)
    if getattr(sys, "frozen", False):
        # PyInstaller: resocket and resocket-host are shipped side by side.
        candidates = [Path(sys.executable).parent / name]
    else:
        # A console script lives next to the `resocket` script and the venv's python.
        candidates = [Path(os.path.abspath(sys.argv[0])).parent / name, Path(os.path.abspath(sys.executable)).parent / name]
        which = shutil.which(HOST_EXECUTABLE)
        if which:
            candidates.append(Path(os.path.abspath(which)))
    for path in candidates:
        if path.is_file() and (os_name == "windows" or os.access(path, os.X_OK)):
            return path
    raise InstallError(f"{name} not found next to this resocket ({', '.join(map(str, candidates))}); "
                       "reinstall the package or pass --host-path")


# -- Windows registry ----------------------------------------------------------------------------------
#: winnt.h: open HKLM keys in the 64-bit view. A 32-bit Python (or a 32-bit PyInstaller bundle) would
#: otherwise be redirected to Software\WOW6432Node, which 64-bit Firefox never reads; Chrome reads both
#: views, so the 64-bit one serves every browser. HKCU\Software is not redirected: no flag there.
KEY_WOW64_64KEY = 0x0100


def registry_view(hive: str) -> int:
    """The view flag every open/create/delete of `hive` asks for (KEY_WOW64_64KEY for HKLM)."""
    return KEY_WOW64_64KEY if hive == "HKLM" else 0


class RegistryAdapter(Protocol):
    """The registry operations install/uninstall/doctor need. `hive` is "HKCU" or "HKLM"; each HKLM access is
    in the 64-bit view (`registry_view`)."""

    def get_default(self, hive: str, key: str) -> str | None: ...

    def set_default(self, hive: str, key: str, value: str) -> None: ...

    def delete_key(self, hive: str, key: str) -> None: ...

    def get_values(self, hive: str, key: str) -> dict[str, object] | None:
        r"""The key's named values (REG_DWORD as int, REG_SZ as str), None when the key does not exist:
        how doctor reads policies (Software\Policies\...)."""


class WinRegistry:
    """The real registry (Windows only). Chrome reads a subkey's (Default) value, not a named value."""

    def __init__(self) -> None:
        import winreg  # noqa: F401  (fails early off Windows)

    @staticmethod
    def _hive(hive: str) -> int:
        import winreg
        return {"HKCU": winreg.HKEY_CURRENT_USER, "HKLM": winreg.HKEY_LOCAL_MACHINE}[hive]

    def get_default(self, hive: str, key: str) -> str | None:
        import winreg
        try:
            with winreg.OpenKey(self._hive(hive), key, 0, winreg.KEY_READ | registry_view(hive)) as handle:
                value, _kind = winreg.QueryValueEx(handle, "")
        except OSError:
            return None
        return value if isinstance(value, str) else None

    def set_default(self, hive: str, key: str, value: str) -> None:
        import winreg
        with winreg.CreateKeyEx(self._hive(hive), key, 0, winreg.KEY_WRITE | registry_view(hive)) as handle:
            winreg.SetValueEx(handle, "", 0, winreg.REG_SZ, value)

    def delete_key(self, hive: str, key: str) -> None:
        import winreg
        winreg.DeleteKeyEx(self._hive(hive), key, registry_view(hive), 0)

    def get_values(self, hive: str, key: str) -> dict[str, object] | None:
        import winreg
        values: dict[str, object] = {}
        try:
            with winreg.OpenKey(self._hive(hive), key, 0, winreg.KEY_READ | registry_view(hive)) as handle:
                index = 0
                while True:
                    try:
                        name, value, _kind = winreg.EnumValue(handle, index)
                    except OSError:  # ERROR_NO_MORE_ITEMS
                        break
                    values[name] = value
                    index += 1
        except OSError:
            return None
        return values


class MemoryRegistry:
    """A dict-backed registry for tests and for computing Windows plans on other systems.
    Key names are case-insensitive, as in the real registry. `views` records the view flag each write or
    delete asked for, as WinRegistry passes it to Windows."""

    def __init__(self, values: dict[tuple[str, str], str] | None = None,
                 named: dict[tuple[str, str], dict[str, object]] | None = None) -> None:
        self.values: dict[tuple[str, str], str] = {}
        self.named: dict[tuple[str, str], dict[str, object]] = {}
        self.views: list[tuple[str, str, str, int]] = []  # (operation, hive, key, view flag)
        for (hive, key), value in (values or {}).items():
            self.values[(hive, key.lower())] = value
        for (hive, key), entries in (named or {}).items():
            self.named[(hive, key.lower())] = dict(entries)

    def get_default(self, hive: str, key: str) -> str | None:
        return self.values.get((hive, key.lower()))

    def set_default(self, hive: str, key: str, value: str) -> None:
        self.views.append(("set", hive, key, registry_view(hive)))
        self.values[(hive, key.lower())] = value

    def delete_key(self, hive: str, key: str) -> None:
        self.views.append(("delete", hive, key, registry_view(hive)))
        self.values.pop((hive, key.lower()), None)

    def get_values(self, hive: str, key: str) -> dict[str, object] | None:
        entries = self.named.get((hive, key.lower()))
        return None if entries is None else dict(entries)


def default_registry(plat: Platform) -> RegistryAdapter | None:
    if plat.os != "windows":
        return None
    return WinRegistry() if sys.platform.startswith("win") else MemoryRegistry()


# -- targets and changes -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """One place a browser reads the manifest from: a file, plus on Windows the keys pointing at it."""

    browser: Browser
    scope: str
    manifest: Path
    registry_keys: tuple[tuple[str, str], ...] = ()
    custom: bool = False  # a --user-data-dir profile


@dataclass(frozen=True)
class Change:
    action: str  # write | unchanged | remove | set-key | delete-key | keep
    browser: str
    scope: str
    where: str
    detail: str = ""

    def as_json(self) -> dict:
        return {"action": self.action, "browser": self.browser, "scope": self.scope, "where": self.where,
                "detail": self.detail}


def found_browsers(plat: Platform, scope: str = "user", registry: RegistryAdapter | None = None) -> list[Browser]:
    """The browsers install acts on by default: those with a config folder for this user, those installed
    on the machine (their program files, or on Windows their App Paths registry key) even if this user never
    started them (provisioning scripts run before the first login; root has no browser profile of its own),
    and a Snap build that reaches hosts through the WebExtensions portal (it reads the usual folders)."""
    found = [b for b in browsers.BROWSERS if any(_is_dir(d) for d in browsers.config_dirs(b, plat))]
    found += [b for b in installed_browsers(plat, registry) if b not in found]
    found += [b for b in browsers.BROWSERS if b not in found and portal_snap(b, plat)]
    found.sort(key=browsers.BROWSERS.index)
    return found


def portal_snap(browser: Browser, plat: Platform) -> bool:
    """Whether a Snap build of `browser` that starts hosts through the WebExtensions portal is present."""
    return browser.snap_portal and any(kind == "snap" and _is_dir(path)
                                       for kind, path in browsers.sandbox_locations(browser, plat))


def installed_browsers(plat: Platform, registry: RegistryAdapter | None = None) -> list[Browser]:
    """Browsers whose program is installed on the machine (browsers.installed_paths / App Paths)."""
    found = []
    for browser in browsers.BROWSERS:
        key = browsers.app_paths_key(browser) if plat.os == "windows" else None
        if any(exists_quietly(p) for p in browsers.installed_paths(browser, plat)) or (
                key is not None and registry is not None and registry.get_default(*key)):
            found.append(browser)
    return found


def targets_for(selected: list[Browser], plat: Platform, scope: str, user_data_dir: Path | None = None,
                every: bool = False) -> tuple[list[Target], list[str]]:
    """(targets, notes about browsers with no location for this OS/scope). `every`: all the places an
    install may ever have written (browsers.known_manifest_dirs), for uninstall."""
    name = browsers.manifest_file_name()
    if user_data_dir is not None:
        folder = browsers.user_data_dir_manifest_dir(Path(os.path.abspath(user_data_dir)))
        return [Target(b, "user", folder / name, custom=True) for b in selected], []
    targets: list[Target] = []
    notes: list[str] = []
    for browser in selected:
        dirs = (browsers.known_manifest_dirs(browser, plat, scope) if every
                else browsers.manifest_dirs(browser, plat, scope, exists=_is_dir))
        if not dirs:
            if not every:  # uninstall looks everywhere: a browser with no location there is no news
                notes.append(f"{browser.label} has no known {scope} manifest location on {plat.os}")
            continue
        keys = tuple(browsers.registry_keys(browser, scope)) if plat.os == "windows" else ()
        targets += [Target(browser, scope, d / name, keys) for d in dirs]
    return targets, notes


def plan_install(targets: list[Target], host_path: Path, extra_ids: list[str],
                 registry: RegistryAdapter | None) -> tuple[list[Change], dict[Path, bytes], list[str]]:
    """(changes, content of each manifest to write, warnings)."""
    granted, warnings = granted_extension_origins()
    saved, saved_warnings = saved_extra_ids()
    from resocket.fleet import allowed_ids  # the administrator's IDs (fleet.py), in every scope

    fleet, fleet_warnings = allowed_ids()
    warnings += saved_warnings + fleet_warnings
    saved = list(dict.fromkeys([*saved, *fleet]))
    all_extra = [*saved, *(e for e in extra_ids if e not in saved)]
    extra_origins = [extension_origin(e) for e in all_extra if not _is_gecko_id(e)]
    extra_gecko = [e for e in all_extra if _is_gecko_id(e)]
    changes: list[Change] = []
    contents: dict[Path, bytes] = {}
    for target in targets:
        if target.browser.family == CHROMIUM_FAMILY:
            allowed = chromium_origins([*extra_origins, *granted])
        else:
            allowed = firefox_extensions(extra_gecko)
        content = manifest_bytes(render_manifest(target.browser.family, str(host_path), allowed))
        if target.manifest not in contents:
            contents[target.manifest] = content
            same = _read_bytes(target.manifest) == content
            changes.append(Change("unchanged" if same else "write", target.browser.name, target.scope,
                                  str(target.manifest), ", ".join(allowed)))
        for hive, key in target.registry_keys:
            assert registry is not None
            current = registry.get_default(hive, key)
            action = "unchanged" if current == str(target.manifest) else "set-key"
            changes.append(Change(action, target.browser.name, target.scope, f"{hive}\\{key}", str(target.manifest)))
    return changes, contents, warnings


def plan_uninstall(targets: list[Target], plat: Platform, registry: RegistryAdapter | None) -> list[Change]:
    selected = {t.browser.name for t in targets}
    scope = targets[0].scope if targets else "user"
    others = [b for b in found_browsers(plat, scope, registry) if b.name not in selected]
    changes: list[Change] = []
    deleted_keys: set[tuple[str, str]] = set()
    for target in targets:
        for hive, key in target.registry_keys:
            assert registry is not None
            value = registry.get_default(hive, key)
            if value is None or not is_resocket_manifest(Path(value)):
                continue
            sharing = [b.label for b in others if (hive, key) in browsers.registry_keys(b, target.scope)]
            if sharing:
                changes.append(Change("keep", target.browser.name, target.scope, f"{hive}\\{key}",
                                      f"also read by {', '.join(sharing)}"))
            elif (hive, key) not in deleted_keys:
                deleted_keys.add((hive, key))
                changes.append(Change("delete-key", target.browser.name, target.scope, f"{hive}\\{key}", value))
    removed: set[Path] = set()
    for target in targets:
        if target.manifest in removed or not is_resocket_manifest(target.manifest):
            continue
        if plat.os == "windows":
            sharing = _keys_still_pointing_at(target.manifest, target.scope, registry, deleted_keys)
        elif target.custom:
            sharing = []
        else:
            sharing = [b.label for b in others
                       if target.manifest.parent in browsers.manifest_dirs(b, plat, target.scope, exists=_is_dir)]
        if sharing:
            changes.append(Change("keep", target.browser.name, target.scope, str(target.manifest),
                                  f"also read by {', '.join(sharing)}"))
            continue
        removed.add(target.manifest)
        changes.append(Change("remove", target.browser.name, target.scope, str(target.manifest)))
        wrapper = _flatpak_wrapper_of(target, plat)
        if wrapper is not None:
            changes.append(Change("remove", target.browser.name, target.scope, str(wrapper), "Flatpak wrapper"))
    return changes


def _flatpak_wrapper_of(target: Target, plat: Platform) -> Path | None:
    """The wrapper doctor's Flatpak recipe wrote for the manifest `target`, if that is what it names."""
    host = (read_manifest(target.manifest) or {}).get("path")
    for app_id in target.browser.flatpak_ids if isinstance(host, str) else ():
        wrapper = browsers.flatpak_wrapper(plat, app_id)
        if Path(host) == wrapper and (_read_bytes(wrapper) or b"").startswith(b"#!/bin/sh\nexec flatpak-spawn --host "):
            return wrapper
    return None


RerunCommand = Callable[[str, str], str]


def _default_rerun(browser: str, scope: str) -> str:
    sudo = "sudo " if scope == "system" and os.name != "nt" else ""
    return f"{sudo}resocket install --browser {browser}" + (" --scope system" if scope == "system" else "")


def apply(changes: list[Change], contents: dict[Path, bytes], registry: RegistryAdapter | None,
          rerun: RerunCommand = _default_rerun) -> None:
    """Make every change that can be made; raise ApplyFailed naming the others (each with its fix).
    `rerun(browser, scope)` spells the install command a fix ends with."""
    problems: list[WriteProblem] = []
    done: list[Change] = []
    for change in changes:
        try:
            _apply_one(change, contents, registry)
        except OSError as exc:
            problem, fix = diagnose_write_error(change, exc, rerun(change.browser, change.scope))
            problems.append(WriteProblem(change.browser, change.scope, change.where, problem, fix))
        else:
            done.append(change)
    if problems:
        raise ApplyFailed(problems, done)


def diagnose_write_error(change: Change, exc: OSError, rerun: str) -> tuple[str, str]:
    """(what is wrong, the command that fixes it) for an OSError while changing `change.where`."""
    where = Path(change.where) if change.action in ("write", "remove") else None
    if where is not None:
        found = obstacle(where)
        if found is not None:
            return found[0], f"{found[1]} && {rerun}"
    reason = exc.strerror or str(exc)
    if isinstance(exc, PermissionError):
        if change.scope == "system":
            admin = "sudo " if os.name != "nt" else "(from an administrator prompt) "
            return ((f"cannot change {change.where}: {reason}; a system install writes where only "
                    "root/administrator may"), rerun if rerun.startswith("sudo") else f"{admin}{rerun}")
        owner = where.parent if where is not None else change.where
        return (f"cannot change {change.where}: {reason}",
                f"sudo chown -R \"$(id -un)\" {_q(owner)} && {rerun}" if os.name != "nt"
                else f"give your user write access to {owner}, then: {rerun}")
    return f"cannot change {change.where}: {reason}", f"check {change.where} and its folder, then: {rerun}"


def obstacle(manifest: Path) -> tuple[str, str] | None:
    """(problem, fix) when something on the manifest's path is of the wrong kind: a file where a folder
    must be, or a folder where the manifest file must be. The fix moves it aside (nothing is deleted)."""
    if _is_dir(manifest):
        return (f"{manifest} is a folder; the manifest must be a file there",
                f"mv {_q(manifest)} {_q(str(manifest) + '.moved-aside')}")
    for parent in reversed(manifest.parents):
        try:
            is_file = parent.exists() and not parent.is_dir()
        except OSError:
            return None
        if is_file:
            return (f"{parent} is a file where a folder must be (the manifest goes in {manifest.parent})",
                    f"mv {_q(parent)} {_q(str(parent) + '.moved-aside')}")
    return None


def _apply_one(change: Change, contents: dict[Path, bytes], registry: RegistryAdapter | None) -> None:
    if change.action == "write":
        path = Path(change.where)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_bytes(contents[path])
            os.chmod(tmp, 0o644)  # browsers run as other users in system installs: world-readable
            os.replace(tmp, path)
        finally:
            _unlink_quietly(tmp)
    elif change.action == "remove":
        Path(change.where).unlink()
    elif change.action == "remove-dir":
        path = Path(change.where)
        if change.scope == "config" and path.name in PURGED_DIRS:
            shutil.rmtree(path)
        else:
            path.rmdir()  # only ever an emptied config dir: never removes anything else
    elif change.action in ("set-key", "delete-key"):
        assert registry is not None
        hive, key = change.where.split("\\", 1)
        if change.action == "set-key":
            registry.set_default(hive, key, change.detail)
        else:
            registry.delete_key(hive, key)


def _keys_still_pointing_at(manifest: Path, scope: str, registry: RegistryAdapter | None,
                            deleted: set[tuple[str, str]]) -> list[str]:
    if registry is None:
        return []
    sharing = []
    for browser in browsers.BROWSERS:
        for hive, key in browsers.registry_keys(browser, scope):
            if (hive, key) not in deleted and registry.get_default(hive, key) == str(manifest):
                sharing.append(f"{hive}\\{key}")
    return sorted(set(sharing))


def _is_gecko_id(value: str) -> bool:
    # Firefox add-on IDs are an email-like "name@domain" or a "{uuid}".
    return "@" in value or value.startswith("{")


def _q(path: Path | str) -> str:
    return shlex.quote(str(path)) if os.name != "nt" else f'"{path}"'


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def exists_quietly(path: Path) -> bool:
    """Whether `path` exists; False where it cannot even be looked at (a folder we may not read)."""
    try:
        return path.exists()
    except OSError:
        return False


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


# -- uninstall --purge: resocket's own files in the config dir ---------------------------------------------
#: What resocket keeps in its config dir (grants.py, convert_cli.py, this module), removed by name. The lock
#: file is removed last: only an uninstall may drop it (grants.py keeps it for every other writer).
PURGED_FILES = ("grants.json", EXTRAS_FILE, "grants.json.lock")
PURGED_DIRS = ("app-keys",)
#: Temp files an interrupted atomic write of the files above leaves (grants.py, save_extra_ids).
_PURGED_TEMP = re.compile(r"^\.(grants\..*|extra-extensions\.json\..*)\.tmp$")


def config_dir() -> Path:
    from resocket.grants import default_config_dir

    return default_config_dir()


def plan_purge(folder: Path) -> tuple[list[Change], list[str]]:
    """(the removals `uninstall --purge` makes in the config dir, the other entries it leaves there)."""
    changes: list[Change] = []
    try:
        entries = sorted(folder.iterdir())
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        raise InstallError(f"cannot read the config dir {folder}: {exc.strerror or exc}") from None
    kept: list[str] = []
    for entry in entries:
        kind = ("app keys" if entry.name in PURGED_DIRS else "grants" if entry.name.startswith(("grants", ".grants"))
                else "extension IDs given with --extension-id" if entry.name == EXTRAS_FILE else "")
        if entry.name in PURGED_DIRS and _is_dir(entry) and not entry.is_symlink():
            changes.append(Change("remove-dir", "-", "config", str(entry), kind))
        elif entry.name in PURGED_FILES or _PURGED_TEMP.match(entry.name):
            changes.append(Change("remove", "-", "config", str(entry), kind or "unfinished write"))
        else:
            kept.append(str(entry))
    changes.sort(key=lambda c: c.where.endswith(".lock"))
    if not kept:
        changes.append(Change("remove-dir", "-", "config", str(folder), "the config dir, then empty"))
    return changes, kept


# -- refreshing what is installed (convert-app, revoke) ------------------------------------------------------
def installed_targets(plat: Platform, registry: RegistryAdapter | None,
                      scopes: Iterable[str] = browsers.SCOPES) -> list[Target]:
    """Every place, in any scope and for any browser, that holds a resocket manifest now (each file once)."""
    found: list[Target] = []
    seen: set[Path] = set()
    for scope in scopes:
        targets, _ = targets_for(list(browsers.BROWSERS), plat, scope, every=True)
        found += [t for t in targets if is_resocket_manifest(t.manifest) and t.manifest not in seen]
        seen.update(t.manifest for t in found)
    return found


def refresh_targets(targets: list[Target], registry: RegistryAdapter | None,
                    rerun: RerunCommand = _default_rerun) -> tuple[list[str], list[WriteProblem]]:
    """Rewrite each resocket manifest in `targets` with its own host path and the origins allowed now (see
    plan_install). (manifests now up to date, places that could not be written with their fixes)."""
    updated: list[str] = []
    problems: list[WriteProblem] = []
    for target in targets:
        data = read_manifest(target.manifest) or {}
        host = data.get("path")
        if not isinstance(host, str) or not host:
            continue
        changes, contents, _ = plan_install([target], Path(host), [], registry)
        try:
            apply(changes, contents, registry, rerun)
        except ApplyFailed as exc:
            problems += [p for p in exc.problems if p not in problems]
        if str(target.manifest) not in updated and not any(p.where == str(target.manifest) for p in problems):
            updated.append(str(target.manifest))
    return updated, problems


def refresh_manifests(plat: Platform, registry: RegistryAdapter | None) -> tuple[list[str], list[WriteProblem]]:
    """refresh_targets over every resocket manifest installed in either scope."""
    return refresh_targets(installed_targets(plat, registry), registry)
