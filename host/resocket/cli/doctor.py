"""`resocket doctor`: find out why a browser cannot reach resocket-host, and say how to fix it.

Design rules:
- Check what the browser checks, in the place it checks it: the manifest file (or the Windows registry key
  pointing at it), its bytes (BOM), its JSON, `name` == file name, an absolute executable `path`, the
  extension's origin. Then start the host exactly as the browser does and say hello.
- Every problem carries the exact command that fixes it (`Problem.fix`); `--json` gives the same report
  to programs. Any problem makes the command exit 1.
- Sandboxes and enterprise policies are explained as they work: Firefox's Snap starts hosts through the
  WebExtensions portal (so it needs the ordinary manifest), a Flatpak gets the `flatpak-spawn --host`
  recipe as commands, a policy file that does not parse is named with its line (the browser drops it whole).
- Policies are read where each OS's browser reads them: Linux JSON files in the managed folders; Windows
  HKLM then HKCU `Software\\Policies\\<vendor>` (a list is a subkey of numbered values, a boolean a
  REG_DWORD; the machine's value wins); macOS managed preferences, /Library/Managed Preferences/<domain>.plist
  and its per-user folder (what MDM profiles install). The same rules then apply to every source.
- Fixes name the `resocket` the user ran, in a form that works where it is pasted (`program_name`): a bare
  `resocket` only when PATH finds this very program, an absolute path after `sudo` (sudo's PATH rarely
  holds a venv or ~/.local/bin), `python -m resocket` when that is how it was started.
- The self-test speaks through the host's own codec (resocket.wire.framing), so doctor and host cannot disagree
  about what a frame is.
"""
from __future__ import annotations

import json
import os
import plistlib
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from resocket import EXTENSION_ID, EXTENSION_ORIGIN, HOST_NAME, PROTOCOL_VERSION, __version__, fleet
from resocket.cli import browsers, install
from resocket.cli import policy as policy_bundle
from resocket.cli.browsers import CHROMIUM_FAMILY, Browser, Platform
from resocket.wire import framing

_BOM = b"\xef\xbb\xbf"
#: Generous: a cold PyInstaller one-file host needs ~250 ms to start; a slow CI machine several seconds.
SELFTEST_TIMEOUT = 15.0
#: The host must exit within a second of stdin EOF (docs/protocol.md); allow slack before calling it stuck.
_EXIT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Problem:
    browser: str | None
    problem: str
    fix: str
    #: other commands that fix it as well, when there is a choice (e.g. which browser to install for)
    alternatives: tuple[str, ...] = ()

    def as_json(self) -> dict:
        return {"browser": self.browser, "problem": self.problem, "fix": self.fix,
                "alternatives": list(self.alternatives)}


@dataclass(frozen=True)
class Options:
    browsers: tuple[str, ...] = ()
    scope: str | None = None  # None: both scopes
    user_data_dir: Path | None = None
    selftest: bool = True
    timeout: float = SELFTEST_TIMEOUT
    prog: str = "resocket"


# -- one manifest --------------------------------------------------------------------------------------
def check_manifest(path: Path, family: str, os_name: str, who: str, reinstall: str) -> tuple[dict | None, list[Problem]]:
    """(parsed manifest or None, problems) for the file a browser would read at `path`."""
    blocked = obstacle_problem(path, who, reinstall)
    if blocked is not None:
        return None, [blocked]
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, [Problem(who, f"{path} does not exist", reinstall)]
    except OSError as exc:
        return None, [Problem(who, f"{path} cannot be read: {exc.strerror}", f"sudo chmod a+r {quote(path)}")]
    problems: list[Problem] = []
    if raw.startswith(_BOM):
        problems.append(Problem(who, f"{path} starts with a UTF-8 byte order mark; the browser cannot parse it",
                                reinstall))
        raw = raw[len(_BOM):]
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return None, [*problems, Problem(who, f"{path} is not valid UTF-8 JSON ({exc})", reinstall)]
    if not isinstance(data, dict):
        return None, [*problems, Problem(who, f"{path} is not a JSON object", reinstall)]
    if data.get("name") != path.stem:
        problems.append(Problem(who, f"{path}: name is {data.get('name')!r}, but the browser only accepts "
                                     f"the file name {path.stem!r}", reinstall))
    if data.get("type") != "stdio":
        problems.append(Problem(who, f"{path}: type is {data.get('type')!r}, must be \"stdio\"", reinstall))
    problems += _check_host_path(data.get("path"), path, os_name, who, reinstall)
    if family == CHROMIUM_FAMILY:
        origins = data.get("allowed_origins")
        if not isinstance(origins, list) or EXTENSION_ORIGIN not in origins:
            problems.append(Problem(who, f"{path}: allowed_origins does not contain {EXTENSION_ORIGIN} (the "
                                         "browser answers \"Access to the specified native messaging host is "
                                         "forbidden\")", reinstall))
        else:
            bad = [o for o in origins if not (isinstance(o, str) and o.startswith("chrome-extension://")
                                              and o.endswith("/") and "*" not in o)]
            if bad:
                problems.append(Problem(who, f"{path}: allowed_origins entries {bad} are not exact "
                                             "chrome-extension://<id>/ origins", reinstall))
    else:
        exts = data.get("allowed_extensions")
        if not isinstance(exts, list) or install.FIREFOX_EXTENSION_ID not in exts:
            problems.append(Problem(who, f"{path}: allowed_extensions does not contain "
                                         f"{install.FIREFOX_EXTENSION_ID}", reinstall))
    return data, problems


def _check_host_path(value: object, manifest: Path, os_name: str, who: str, reinstall: str) -> list[Problem]:
    if not isinstance(value, str) or not value:
        return [Problem(who, f"{manifest}: path is missing", reinstall)]
    host = Path(value)
    if not host.is_absolute():
        if os_name != "windows":
            return [Problem(who, f"{manifest}: path {value!r} is relative; Linux and macOS browsers need an "
                                 "absolute path (\"Specified native messaging host not found\")", reinstall)]
        host = manifest.parent / host  # Windows resolves it against the manifest's folder
    if not host.is_file():
        return [Problem(who, f"{manifest}: the host {host} does not exist (moved or uninstalled?)", reinstall)]
    if os_name == "windows":
        if host.suffix.lower() not in (".exe", ".bat", ".cmd", ".com"):
            return [Problem(who, f"{manifest}: the host {host} is not an .exe or .bat; Windows opens it with "
                                 "its file association instead of running it", reinstall)]
    elif not os.access(host, os.X_OK):
        return [Problem(who, f"{manifest}: the host {host} is not executable (\"Native host has exited\")",
                        f"chmod +x {quote(host)}")]
    return []


def obstacle_problem(manifest: Path, who: str, reinstall: str) -> Problem | None:
    """A file where a folder must be on the manifest's path, or a folder at the manifest's own path: install
    cannot write there until it is moved aside (install.obstacle)."""
    found = install.obstacle(manifest)
    if found is None:
        return None
    problem, move = found
    return Problem(who, f"{problem}: the browser cannot read a manifest there and install cannot write one",
                   f"{move} && {reinstall}")


# -- one browser ---------------------------------------------------------------------------------------
Candidate = tuple[str, "Path | None", "str | None"]


def _candidates(browser: Browser, plat: Platform, scopes: list[str], user_data_dir: Path | None,
                registry: install.RegistryAdapter | None) -> list[Candidate]:
    """(scope, manifest path or None, Windows registry key or None) for each place the browser reads."""
    if user_data_dir is not None:
        folder = browsers.user_data_dir_manifest_dir(Path(os.path.abspath(user_data_dir)))
        return [("user", folder / browsers.manifest_file_name(), None)]
    candidates: list[Candidate] = []
    for scope in scopes:
        if plat.os == "windows":
            for hive, key in browsers.registry_keys(browser, scope):
                value = registry.get_default(hive, key) if registry is not None else None
                candidates.append((scope, Path(value) if value else None, f"{hive}\\{key}"))
        else:
            for folder in browsers.manifest_dirs(browser, plat, scope):
                candidates.append((scope, folder / browsers.manifest_file_name(), None))
    return candidates


def _healthy_system_manifest(browser: Browser, plat: Platform, registry: install.RegistryAdapter | None) -> bool:
    """Whether a sound resocket manifest exists where the browser reads system-wide ones (checked quietly)."""
    for _scope, manifest, _key in _candidates(browser, plat, ["system"], None, registry):
        if manifest is not None and install.exists_quietly(manifest):
            _data, found = check_manifest(manifest, browser.family, plat.os, browser.name, "")
            if not found:
                return True
    return False


def _check_location(browser: Browser, plat: Platform, where: dict, manifest: Path | None, key: str | None,
                    fix: str) -> tuple[dict, list[Problem]]:
    """One place the browser reads: its status ("ok", "missing", "broken") and problems."""
    blocked = obstacle_problem(manifest, browser.name, fix) if manifest is not None else None
    if blocked is not None:
        return {**where, "status": "broken", "host_path": None, "problems": [blocked.problem]}, [blocked]
    if manifest is None or (not install.exists_quietly(manifest) and key is None):
        return {**where, "status": "missing"}, []
    data, found = check_manifest(manifest, browser.family, plat.os, browser.name, fix)
    if key is not None and not manifest.exists():
        found = [Problem(browser.name, f"registry key {key} points at {manifest}, which does not exist", fix)]
    return ({**where, "status": "broken" if found else "ok", "host_path": data.get("path") if data else None,
             "problems": [p.problem for p in found]}, found)


def check_browser(browser: Browser, plat: Platform, opts: Options,
                  registry: install.RegistryAdapter | None) -> tuple[dict, list[Problem]]:
    scopes = [opts.scope] if opts.scope else list(browsers.SCOPES)
    locations: list[dict] = []
    problems: list[Problem] = []
    notes: list[str] = []
    candidates = _candidates(browser, plat, scopes, opts.user_data_dir, registry)
    for scope, manifest, key in candidates:
        where = {"scope": scope, "manifest": str(manifest) if manifest else None, "registry_key": key}
        location, found = _check_location(browser, plat, where, manifest, key,
                                          install_command(opts.prog, browser, scope, opts.user_data_dir))
        locations.append(location)
        problems += found
    if opts.user_data_dir is not None and not Path(opts.user_data_dir).is_dir():
        udd = os.path.abspath(opts.user_data_dir)
        problems.append(Problem(browser.name, f"the --user-data-dir folder {udd} does not exist: no browser has "
                                              "been started with it (a typo?)",
                                f"mkdir -p {quote(udd)} && {install_command(opts.prog, browser, 'user', Path(udd))}"))
    ok_scopes = {loc["scope"] for loc in locations if loc["status"] == "ok"}
    present = [(kind, path) for kind, path in browsers.sandbox_locations(browser, plat) if path.is_dir()]
    sandboxed = sorted({kind for kind, _path in present})
    native = (opts.user_data_dir is not None or any(d.is_dir() for d in browsers.config_dirs(browser, plat))
              or browser in install.installed_browsers(plat, registry))
    portal = "snap" in sandboxed and browser.snap_portal
    if portal:
        notes.append(f"{browser.label} is a Snap: it starts native hosts through the WebExtensions portal of "
                     "xdg-desktop-portal (Ubuntu 22.04 and later), which reads the manifest from the usual folders "
                     f"({', '.join(str(d) for d in _portal_dirs(browser, plat))}) and runs resocket-host outside "
                     "the sandbox; the first connection asks you once to allow it")
    flatpak_ids = sorted({path.name for kind, path in present if kind == "flatpak"})
    flatpak_ok = False
    for app_id in flatpak_ids:
        folder = browsers.flatpak_manifest_dir(browser, plat, app_id)
        if folder is None:
            continue
        manifest = folder / browsers.manifest_file_name()
        recipe = flatpak_recipe(browser, plat, app_id, opts.prog)
        location, found = _check_location(browser, plat, {"scope": "user", "manifest": str(manifest),
                                                          "registry_key": None, "sandbox": f"flatpak {app_id}"},
                                          manifest, None, recipe)
        if location["status"] == "missing" and native:
            notes.append(f"the Flatpak build {app_id} is installed too: it reaches resocket-host only through "
                         f"flatpak-spawn, set up by: {recipe}")
        elif location["status"] == "missing":
            problems.append(Problem(browser.name, (
                f"{browser.label} is installed as a Flatpak ({app_id}): its sandbox cannot start programs of "
                "the host system by itself. The fix lets it ask Flatpak to (--talk-name=org.freedesktop.Flatpak, "
                "which lets the browser run any program as you), through a wrapper that runs "
                "`flatpak-spawn --host resocket-host`, registered where the sandbox looks. Or use a "
                f"{browser.label} from your distribution's package or the vendor's .deb/.rpm, then: "
                f"{opts.prog} install --browser {browser.name}"), recipe))
        else:
            locations.append(location)
            problems += found
            flatpak_ok = flatpak_ok or location["status"] == "ok"
    if "snap" in sandboxed and not portal and not native:
        problems.append(Problem(browser.name, (
            f"{browser.label} is installed as a Snap package: its confinement cannot start programs of the host "
            "system and it does not use the WebExtensions portal, so it cannot reach resocket-host"),
            f"use a {browser.label} installed from your distribution's package or the vendor's .deb/.rpm "
            f"(then: {opts.prog} install --browser {browser.name})"))
    reachable = native or portal or not sandboxed
    if (not ok_scopes and not flatpak_ok and not any(loc["status"] == "broken" for loc in locations)
            and reachable and (opts.user_data_dir is None or Path(opts.user_data_dir).is_dir())):
        scope = opts.scope or "user"
        where = ", ".join(str(c[1] or c[2]) for c in candidates) or f"no {scope} location on {plat.os}"
        problems.append(Problem(browser.name, f"no resocket manifest where {browser.label} looks ({where})",
                                install_command(opts.prog, browser, scope, opts.user_data_dir)))
    # The policy only matters when the per-user manifest is all there is: a sound system-wide manifest
    # serves the browser even when doctor was asked about the user scope (or a --user-data-dir) alone.
    user_level_only = ("user" in ok_scopes and "system" not in ok_scopes
                       and not _healthy_system_manifest(browser, plat, registry))
    policy, policy_problems = check_policies(browser, plat, user_level_only=user_level_only, prog=opts.prog,
                                             registry=registry)
    problems += policy_problems
    report = {"browser": browser.name, "label": browser.label, "installed": native, "sandboxed": sandboxed,
              "locations": locations, "policy": policy, "notes": notes,
              "ok": not any(p.browser == browser.name for p in problems)}
    return report, problems


def _portal_dirs(browser: Browser, plat: Platform) -> list[Path]:
    return [*browsers.manifest_dirs(browser, plat, "user"), *browsers.manifest_dirs(browser, plat, "system")]


def flatpak_recipe(browser: Browser, plat: Platform, app_id: str, prog: str) -> str:
    """Commands that let the Flatpak `app_id` start resocket-host: allow it to talk to Flatpak, write a wrapper
    that runs the host on the host system (`flatpak-spawn --host`, as Flatpak documents), and register that
    wrapper in the manifest folder the sandbox reads."""
    try:
        host = str(install.find_host_path(plat.os))
    except install.InstallError:  # doctor reports that on its own; the .deb's link is the likeliest place
        host = "/usr/bin/resocket-host"
    wrapper = browsers.flatpak_wrapper(plat, app_id)
    folder = browsers.flatpak_manifest_dir(browser, plat, app_id)
    assert folder is not None
    script = ["#!/bin/sh", f'exec flatpak-spawn --host {shlex.quote(host)} "$@"']
    steps = [f"flatpak override --user --talk-name=org.freedesktop.Flatpak {app_id}",
             f"mkdir -p {quote(wrapper.parent)}",
             "printf '%s\\n' " + " ".join(quote(line) for line in script) + f" > {quote(wrapper)}",
             f"chmod +x {quote(wrapper)}"]
    if browser.family == CHROMIUM_FAMILY:
        profile = folder.parent
        steps += [f"mkdir -p {quote(profile)}",
                  f"{prog} install --browser {browser.name} --user-data-dir {quote(profile)} --host-path {quote(wrapper)}"]
    else:
        body = json.dumps(install.render_manifest(browser.family, str(wrapper), install.firefox_extensions([])))
        steps += [f"mkdir -p {quote(folder)}",
                  f"printf '%s\\n' {quote(body)} > {quote(folder / browsers.manifest_file_name())}"]
    return " && ".join(steps)


#: Policies whose value is a list (a subkey of numbered values in the Windows registry).
LIST_POLICIES = ("NativeMessagingBlocklist", "NativeMessagingAllowlist", "ExtensionInstallBlocklist",
                 "ExtensionInstallAllowlist", "ExtensionInstallForcelist")
#: Policies whose value is a dictionary (a JSON string in the Windows registry).
DICT_POLICIES = ("ExtensionSettings",)
@dataclass(frozen=True)
class PolicySource:
    kind: str  # "file" or "key" (Windows registry)
    where: str
    data: dict


#: The managed-preferences folder MDM profiles write on macOS (device-wide, and one folder per user).
MAC_MANAGED_PREFERENCES = "Library/Managed Preferences"


def _bundle_browser(browser: Browser) -> policy_bundle.Browser | None:
    """Where `browser` keeps its policies on Windows and macOS; Chrome's channels share Chrome's."""
    name = "chrome" if browser.name.startswith("chrome") else browser.name
    return next((b for b in policy_bundle.BROWSERS if b.name == name), None)


def windows_policies(browser: Browser, registry: install.RegistryAdapter | None) -> list[PolicySource]:
    """The policy keys of HKCU then HKLM, so that the machine's values, read last, win."""
    target = _bundle_browser(browser)
    if target is None or registry is None:
        return []
    found: list[PolicySource] = []
    for hive in ("HKCU", "HKLM"):
        values = registry.get_values(hive, target.registry_key)
        data: dict[str, object] = {}
        for name in LIST_POLICIES:
            items = registry.get_values(hive, f"{target.registry_key}\\{name}")
            if items is not None:
                data[name] = [v for _k, v in sorted(items.items(), key=lambda kv: _list_index(kv[0]))]
        if values is None and not data:
            continue
        for name, value in (values or {}).items():
            if name == "NativeMessagingUserLevelHosts" and isinstance(value, int):
                data[name] = bool(value)  # REG_DWORD 0/1
            elif name in DICT_POLICIES and isinstance(value, str):
                try:
                    data[name] = json.loads(value)
                except ValueError:
                    continue  # Chrome reports it as an error and ignores the policy
            elif name not in LIST_POLICIES:
                data[name] = value
        found.append(PolicySource("key", f"{hive}\\{target.registry_key}", data))
    return found


def _list_index(name: str) -> tuple[int, str]:
    return (int(name), "") if name.isdigit() else (1 << 30, name)


def macos_policy_files(browser: Browser, plat: Platform) -> list[Path]:
    """The managed plists, per-user first, so that the device-wide one, read last, wins."""
    target = _bundle_browser(browser)
    if target is None or plat.os != "macos":
        return []
    folder = plat.root / MAC_MANAGED_PREFERENCES
    return [folder / plat.home.name / f"{target.mac_domain}.plist", folder / f"{target.mac_domain}.plist"]


def check_policies(browser: Browser, plat: Platform, user_level_only: bool, prog: str,
                   registry: install.RegistryAdapter | None = None) -> tuple[dict, list[Problem]]:
    """Managed policies (NativeMessagingBlocklist / Allowlist / UserLevelHosts, ExtensionInstallBlocklist), as
    Chrome applies them, from the OS's policy store."""
    problems: list[Problem] = []
    sources: list[PolicySource] = []
    files: list[str] = []
    for folder in browsers.policy_dirs(browser, plat):
        try:
            # Chrome reads every file of the folder, whatever its name ends with (enterprise-policy probe).
            names = sorted(p for p in folder.iterdir() if p.is_file())
        except OSError:
            continue
        for path in names:
            data = _read_policy_file(browser, path, problems, parse_policy)
            if isinstance(data, dict):
                files.append(str(path))
                sources.append(PolicySource("file", str(path), data))
    for path in macos_policy_files(browser, plat):
        if install.exists_quietly(path):
            data = _read_policy_file(browser, path, problems, parse_plist)
            if isinstance(data, dict):
                files.append(str(path))
                sources.append(PolicySource("file", str(path), data))
    if plat.os == "windows":
        sources += windows_policies(browser, registry)
    policy, found = apply_policies(browser, sources, user_level_only, prog)
    policy["files"] = files
    return policy, problems + found


def _read_policy_file(browser: Browser, path: Path, problems: list[Problem],
                      parse: Callable[[bytes], object]) -> object:
    try:
        return parse(path.read_bytes())
    except PermissionError as exc:
        problems.append(Problem(browser.name, f"policy file {path} cannot be read ({exc.strerror}); the "
                                              "browser may apply policies doctor cannot see",
                                f"sudo chmod a+r {quote(path)}"))
    except OSError as exc:
        problems.append(Problem(browser.name, f"policy file {path} cannot be read ({exc.strerror or exc})",
                                f"administrator: check {path}"))
    except PolicySyntaxError as exc:
        kind = "a valid property list" if path.suffix == ".plist" else "valid JSON"
        problems.append(Problem(browser.name, (
            f"policy file {path} is not {kind}: {exc.problem} at line {exc.line}, column {exc.column}; "
            f"{browser.label} ignores the whole file, so none of the policies in it apply"),
            f"administrator: correct line {exc.line} of {path} (sudo -e {quote(path)})"))
    return None


def apply_policies(browser: Browser, sources: list[PolicySource], user_level_only: bool,
                   prog: str) -> tuple[dict, list[Problem]]:
    """The rules over (where, policies) pairs, in the order the browser lets later ones win."""
    blocklist: list[str] = []
    allowlist: list[str] = []
    user_level: bool | None = None
    blocking: list[PolicySource] = []
    extension_blocked: list[str] = []
    extension_blocklist: list[str] = []
    extension_allowed: set[str] = set()
    problems: list[Problem] = []
    for source in sources:
        where, data = f"{source.kind} {source.where}", source.data
        blocked = _strings(data.get("NativeMessagingBlocklist"))
        blocklist += blocked
        allowlist += _strings(data.get("NativeMessagingAllowlist"))
        if isinstance(data.get("NativeMessagingUserLevelHosts"), bool):
            user_level = data["NativeMessagingUserLevelHosts"]
        if "*" in blocked or HOST_NAME in blocked:
            blocking.append(source)
        install_blocked = _strings(data.get("ExtensionInstallBlocklist"))
        extension_blocklist += install_blocked
        if install_blocked:
            extension_blocked.append(where)
        extension_allowed |= _allowed_extensions(data)
    # The allowlist exempts hosts from the blocklist, whichever file sets it.
    if blocking and HOST_NAME not in allowlist:
        for source in blocking:
            problems.append(Problem(browser.name, f"policy {source.kind} {source.where} blocks native messaging "
                                                  f"host {HOST_NAME} (NativeMessagingBlocklist: {blocklist})",
                                    f"administrator: add \"{HOST_NAME}\" to \"NativeMessagingAllowlist\" in "
                                    f"{source.where}"))
    if user_level is False and user_level_only:
        problems.append(Problem(browser.name, "policy NativeMessagingUserLevelHosts is false: "
                                              f"{browser.label} ignores the per-user manifest",
                                install_command(prog, browser, "system", None)))
    # A fleet blocks "*" and force-installs its own build: only a block of every resocket ID is a problem.
    if extension_blocked and browser.family == CHROMIUM_FAMILY and all(
            (i in extension_blocklist or "*" in extension_blocklist) and i not in extension_allowed
            for i in _resocket_extension_ids()):
        problems.append(Problem(browser.name, (
            f"policy {', '.join(extension_blocked)} blocks installing the resocket extension "
            f"(ExtensionInstallBlocklist: {extension_blocklist})"),
            f"administrator: force-install it (resocket pack writes the policy) or add {EXTENSION_ID} to "
            "\"ExtensionInstallAllowlist\""))
    policy = {"sources": [source.where for source in sources], "blocklist": blocklist, "allowlist": allowlist,
              "user_level_hosts": user_level, "extension_blocklist": extension_blocklist}
    return policy, problems


def _resocket_extension_ids() -> list[str]:
    """resocket's own ID and the fleet's Chrome IDs (the fleet file holds them as origins)."""
    prefix = "chrome-extension://"
    origins = fleet.allowed_ids()[0]
    return [EXTENSION_ID, *(o.removeprefix(prefix).rstrip("/") for o in origins if o.startswith(prefix))]


def _allowed_extensions(data: dict) -> set[str]:
    """Extension IDs a policy exempts from ExtensionInstallBlocklist: allowed, force-installed (the
    forcelist's "id;update_url" entries) or given an installation mode other than "blocked"."""
    allowed = set(_strings(data.get("ExtensionInstallAllowlist")))
    allowed |= {entry.split(";", 1)[0] for entry in _strings(data.get("ExtensionInstallForcelist"))}
    settings = data.get("ExtensionSettings")
    if isinstance(settings, dict):
        allowed |= {ext for ext, entry in settings.items() if ext != "*" and isinstance(entry, dict)
                    and entry.get("installation_mode") in ("allowed", "force_installed", "normal_installed")}
    return allowed


def parse_plist(raw: bytes) -> object:
    """A managed plist (XML or binary) as macOS reads it; PolicySyntaxError when it does not parse."""
    try:
        return plistlib.loads(raw)
    except plistlib.InvalidFileException as exc:
        raise PolicySyntaxError(str(exc) or "not a property list", 1, 1) from None
    except Exception as exc:  # noqa: BLE001  (expat and the binary reader raise their own errors)
        line = getattr(exc, "lineno", 1)
        column = getattr(exc, "offset", 0) + 1
        raise PolicySyntaxError(type(exc).__name__ + (f": {exc}" if str(exc) else ""), line, column) from None


class PolicySyntaxError(ValueError):
    """A policy file Chrome cannot parse: where, and what is wrong."""

    def __init__(self, problem: str, line: int, column: int) -> None:
        super().__init__(f"{problem} at line {line}, column {column}")
        self.problem, self.line, self.column = problem, line, column


def parse_policy(raw: bytes) -> object:
    """A policy file's JSON as Chrome reads it: UTF-8, trailing commas accepted (enterprise-policy probe:
    Chrome applied a file with them). Raises PolicySyntaxError naming the line of the first error."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise PolicySyntaxError(f"byte {raw[exc.start]:#04x} is not UTF-8", line,
                                exc.start - raw.rfind(b"\n", 0, exc.start)) from None
    try:
        return json.loads(_drop_trailing_commas(text))
    except json.JSONDecodeError as exc:
        raise PolicySyntaxError(exc.msg, exc.lineno, exc.colno) from None


#: A JSON string (kept whole, so commas in it are left alone), or a comma before a closing ] or }.
_STRING_OR_TRAILING_COMMA = re.compile(r'("(?:[^"\\]|\\.)*")|,(?=\s*[]}])')


def _drop_trailing_commas(text: str) -> str:
    """`text` with each trailing comma made a space: positions stay, so json's error locations still point
    into the file."""
    return _STRING_OR_TRAILING_COMMA.sub(lambda m: m.group(1) or " ", text)


def _strings(value: object) -> list[str]:
    return [x for x in value if isinstance(x, str)] if isinstance(value, list) else []


# -- live self-test ------------------------------------------------------------------------------------
def self_test(host_path: Path, timeout: float = SELFTEST_TIMEOUT) -> dict:
    """Start the host as the browser does (argv[1] = caller origin, cwd = the host's folder, pipes) and do
    one framed hello round trip."""
    result: dict = {"path": str(host_path), "ok": False, "version": None, "protocol": None, "error": None,
                    "stderr": ""}
    hello = {"id": 1, "op": "hello", "args": {"protocol": PROTOCOL_VERSION, "client": f"resocket-doctor/{__version__}"}}
    try:
        proc = subprocess.Popen([str(host_path), EXTENSION_ORIGIN], cwd=str(host_path.parent),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        result["error"] = f"cannot start {host_path}: {exc.strerror or exc}"
        return result
    stderr_chunks: list[bytes] = []
    stderr_reader = threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    stderr_reader.start()
    reply: dict = {}
    reader = threading.Thread(target=_read_reply, args=(proc, reply), daemon=True)
    reader.start()
    try:
        assert proc.stdin is not None
        proc.stdin.write(framing.encode_frame(hello))
        proc.stdin.flush()
    except OSError:
        pass  # the host died at once: the reader reports what it saw
    reader.join(timeout)
    try:
        if proc.stdin is not None:
            proc.stdin.close()
    except OSError:
        pass
    try:
        code: int | None = proc.wait(_EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        code = None
        proc.kill()
        proc.wait()
    stderr_reader.join(_EXIT_TIMEOUT)
    result["stderr"] = b"".join(stderr_chunks).decode("utf-8", "replace")[-2000:]
    if reader.is_alive():
        result["error"] = f"no reply to hello within {timeout:g} s"
    elif "error" in reply:
        result["error"] = reply["error"]
    else:
        message = reply.get("message")
        outcome = message.get("result") if isinstance(message, dict) else None
        if not isinstance(outcome, dict):
            err = message.get("error") if isinstance(message, dict) else None
            result["error"] = f"hello failed: {err or message!r}"
        else:
            result["version"], result["protocol"] = outcome.get("version"), outcome.get("protocol")
            if outcome.get("protocol") != PROTOCOL_VERSION:
                result["error"] = (f"the host speaks protocol {outcome.get('protocol')}, this resocket "
                                   f"{PROTOCOL_VERSION}")
    if result["error"] is None and code is None:
        result["error"] = "the host did not exit after its stdin closed"
    if result["error"] is None and code is not None and code < 0:
        result["error"] = f"the host was killed by signal {-code} after its stdin closed"
    result["ok"] = result["error"] is None
    return result


def _read_reply(proc: subprocess.Popen, out: dict) -> None:
    """The host's first frame, decoded as the browser would (host->browser cap: framing.OUTBOUND_LIMIT)."""
    stream = proc.stdout
    assert stream is not None
    decoder = framing.FrameDecoder(max_frame=framing.OUTBOUND_LIMIT)
    head = b""  # the first bytes, to show what a non-frame looked like
    while True:
        event = decoder.next_event()
        if event is framing.NEED_DATA:
            chunk = stream.read1(65536)
            if chunk:
                head = (head + chunk)[:framing.HEADER.size]
                decoder.receive_data(chunk)
            else:
                decoder.receive_eof()
            continue
        break
    if event is framing.END_OF_INPUT:
        out["error"] = "the host exited without replying (\"Native host has exited\")"
    elif isinstance(event, framing.FrameError) and event.code == framing.FRAME_TOO_LARGE:
        text = head.decode("ascii", "replace")
        out["error"] = (f"the host wrote something that is not a frame on stdout (starts with {text!r}); "
                        "the browser reports \"Error when communicating with the native messaging host\"")
    elif isinstance(event, framing.FrameError) and event.message.startswith("input ended"):
        out["error"] = f"the host exited in the middle of a frame: {event.message}"
    elif isinstance(event, framing.FrameError):
        out["error"] = f"the host's reply is not UTF-8 JSON: {event.message}"
    else:
        out["message"] = event


# -- the whole report ----------------------------------------------------------------------------------
def run(plat: Platform, opts: Options, registry: install.RegistryAdapter | None) -> dict:
    problems: list[Problem] = []
    if opts.browsers:
        selected = [browsers.get(name) for name in opts.browsers]
    elif opts.user_data_dir is not None:
        selected = [browsers.get("chromium")]
    else:
        installed = install.installed_browsers(plat, registry)
        selected = [b for b in browsers.BROWSERS
                    if b in installed or any(d.is_dir() for d in browsers.config_dirs(b, plat))
                    or any(p.is_dir() for _kind, p in browsers.sandbox_locations(b, plat))]
        if not selected:
            problems.append(_no_browser_problem(plat, opts, registry))
    reports = []
    for browser in selected:
        report, found = check_browser(browser, plat, opts, registry)
        reports.append(report)
        problems += found
    selftest: dict = {"ok": None, "runs": []}
    if opts.selftest:
        paths = _host_paths(reports, plat)
        if not paths:
            try:
                paths = [install.find_host_path(plat.os)]
            except install.InstallError as exc:
                problems.append(Problem(None, f"self-test not run: {exc}", f"{opts.prog} install --host-path PATH"))
        for path in paths:
            run_ = self_test(path, opts.timeout)
            selftest["runs"].append(run_)
            if not run_["ok"]:
                problems.append(Problem(None, f"self-test of {path} failed: {run_['error']}"
                                        + (f"; its stderr: {run_['stderr'].strip()[-300:]}" if run_["stderr"].strip() else ""),
                                        _selftest_fix(path, run_, opts.prog)))
        runs = selftest["runs"]
        selftest["ok"] = bool(runs) and all(r["ok"] for r in runs)
        first_ok = next((r for r in runs if r["ok"]), None)
        selftest["version"] = first_ok["version"] if first_ok else None
        selftest["protocol"] = first_ok["protocol"] if first_ok else None
    return {"ok": not problems, "platform": plat.os, "browsers": reports, "selftest": selftest,
            "problems": [p.as_json() for p in problems]}


def _no_browser_problem(plat: Platform, opts: Options, registry: install.RegistryAdapter | None) -> Problem:
    """No browser at all, neither a profile folder nor a program: each fix is a complete command, one per
    browser (installing the host before the browser is fine: it finds the manifest when it starts)."""
    scope = opts.scope or "user"
    commands = [install_command(opts.prog, b, scope, None) for b in browsers.BROWSERS]
    where = f"for this user ({plat.home}) or on this machine (under {plat.root})"
    return Problem(None, f"no supported browser found {where}", commands[0], tuple(commands[1:]))


def _host_paths(reports: list[dict], plat: Platform) -> list[Path]:
    """Distinct host paths of the healthy manifests: the programs a browser would actually start."""
    paths: list[Path] = []
    for report in reports:
        for loc in report["locations"]:
            # A Flatpak's host path is a wrapper that only works inside the sandbox.
            if loc["status"] == "ok" and loc.get("host_path") and not loc.get("sandbox"):
                path = Path(loc["host_path"])
                if not path.is_absolute():
                    path = Path(loc["manifest"]).parent / path
                if path not in paths:
                    paths.append(path)
    return paths


def _selftest_fix(path: Path, run_: dict, prog: str) -> str:
    error = run_["error"] or ""
    if "protocol" in error and run_.get("protocol") is not None:
        return f"make the host and this resocket the same version: {reinstall_command()}, then {prog} install"
    if "not a frame" in error:
        return (f"remove whatever prints to stdout in {path} (a wrapper script's echo, a print in the host); "
                f"see it with: {quote(path)} {EXTENSION_ORIGIN} </dev/null | head -c 200")
    return f"run the host by hand and read its error: {quote(path)} {EXTENSION_ORIGIN} </dev/null"


def install_command(prog: str, browser: Browser, scope: str, user_data_dir: Path | None) -> str:
    if user_data_dir is not None:
        return f"{prog} install --browser {browser.name} --user-data-dir {quote(Path(os.path.abspath(user_data_dir)))}"
    if scope == "system":
        if os.name == "nt":
            return f"{prog} install --browser {browser.name} --scope system"
        return f"sudo {sudo_program(prog)} install --browser {browser.name} --scope system"
    return f"{prog} install --browser {browser.name}"


def quote(path: Path | str) -> str:
    """`path` as one word of a command line for this OS's shell."""
    return shlex.quote(str(path)) if os.name != "nt" else f'"{path}"'


#: Debian's and Ubuntu's sudo secure_path: what `sudo CMD` searches, whatever the caller's PATH holds.
SUDO_SECURE_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", "/snap/bin")


def program_name() -> str:
    """How to spell the `resocket` command in fixes: its bare name when PATH finds this very program, else
    its absolute path; `<python> -m resocket` when started so. A PyInstaller bundle (the .deb's, or an
    unpacked one) is the executable itself: argv[0] may be a bare name that PATH resolved."""
    if getattr(sys, "frozen", False):
        here = os.path.abspath(sys.executable)
    else:
        argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
        if Path(argv0).name == "__main__.py":
            return f"{quote(sys.executable)} -m resocket"
        if Path(argv0).name not in ("resocket", "resocket.exe"):
            return "resocket"
        here = os.path.abspath(argv0)
    found = shutil.which("resocket")
    if found and _same_file(found, here):
        return "resocket"
    return quote(here)


def sudo_program(prog: str) -> str:
    """`prog` as `sudo` finds it: a bare `resocket` outside sudo's secure_path (a venv, pipx's ~/.local/bin)
    becomes its absolute path."""
    if prog != "resocket":
        return prog
    found = shutil.which("resocket")
    if found and os.path.dirname(os.path.abspath(found)) not in SUDO_SECURE_PATH:
        return quote(os.path.abspath(found))
    return prog


def reinstall_command() -> str:
    """How this installation of resocket is replaced by another version, for the way it was installed."""
    if getattr(sys, "frozen", False):
        bundle = Path(sys.executable).resolve().parent
        if str(bundle) == "/opt/resocket":
            return "install the matching .deb (sudo apt install ./resocket_<version>_<arch>.deb)"
        return f"unpack the matching resocket bundle over {bundle}"
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "host" / "resocket").is_dir():
        return f"{quote(sys.executable)} -m pip install {quote(checkout)}"
    return f"{quote(sys.executable)} -m pip install --upgrade <the resocket wheel or source you installed from>"


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def format_text(report: dict) -> str:
    lines = []
    for b in report["browsers"]:
        mark = "ok  " if b["ok"] else "FAIL"
        extra = f" (sandboxed: {', '.join(b['sandboxed'])})" if b["sandboxed"] else ""
        lines.append(f"{mark} {b['label']}{extra}")
        for loc in b["locations"]:
            where = loc["registry_key"] or loc["manifest"]
            target = f" -> {loc['manifest']}" if loc["registry_key"] and loc["manifest"] else ""
            inside = f" (inside {loc['sandbox']})" if loc.get("sandbox") else ""
            lines.append(f"       {loc['scope']:<6} {loc['status']:<7} {where}{target}{inside}")
        lines += [f"       note: {note}" for note in b.get("notes", [])]
    st = report["selftest"]
    for r in st.get("runs", []):
        if r["ok"]:
            lines.append(f"ok   self-test: {r['path']} answered hello: version {r['version']}, protocol {r['protocol']}")
        else:
            lines.append(f"FAIL self-test: {r['path']}: {r['error']}")
    if report["problems"]:
        lines.append("")
        lines.append(f"{len(report['problems'])} problem(s):")
        for p in report["problems"]:
            who = f"[{p['browser']}] " if p["browser"] else ""
            lines.append(f"- {who}{p['problem']}")
            lines.append(f"  fix: {p['fix']}")
            lines += [f"   or: {alt}" for alt in p.get("alternatives") or []]
    else:
        lines.append("no problems found")
    return "\n".join(lines)
