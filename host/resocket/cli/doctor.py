"""`resocket doctor`: find out why a browser cannot reach resocket-host, and say how to fix it.

Design rules:
- Check what the browser checks, in the place it checks it: the manifest file (or the Windows registry key
  pointing at it), its bytes (BOM), its JSON, `name` == file name, an absolute executable `path`, the
  extension's origin. Then start the host exactly as the browser does and say hello.
- Every problem carries the exact command that fixes it (`Problem.fix`); `--json` gives the same report
  to programs. Any problem makes the command exit 1.
- Sandboxed (Flatpak/Snap) browsers and enterprise policies cannot be fixed from here: they are detected
  and explained plainly.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from resocket import EXTENSION_ORIGIN, HOST_NAME, PROTOCOL_VERSION, __version__
from resocket.cli import browsers, install
from resocket.cli.browsers import CHROMIUM_FAMILY, Browser, Platform

_BOM = b"\xef\xbb\xbf"
#: Chrome caps host->browser messages at 1 MiB (docs/protocol.md); a bigger length prefix is garbage.
_MAX_REPLY = 1024 * 1024
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
        return None, [Problem(who, f"{path} cannot be read: {exc.strerror}", f"sudo chmod a+r {_q(path)}")]
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
                        f"chmod +x {_q(host)}")]
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
        if manifest is not None and _exists(manifest):
            _data, found = check_manifest(manifest, browser.family, plat.os, browser.name, "")
            if not found:
                return True
    return False


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def check_browser(browser: Browser, plat: Platform, opts: Options,
                  registry: install.RegistryAdapter | None) -> tuple[dict, list[Problem]]:
    scopes = [opts.scope] if opts.scope else list(browsers.SCOPES)
    locations: list[dict] = []
    problems: list[Problem] = []
    candidates = _candidates(browser, plat, scopes, opts.user_data_dir, registry)
    for scope, manifest, key in candidates:
        where = {"scope": scope, "manifest": str(manifest) if manifest else None, "registry_key": key}
        fix = install_command(opts.prog, browser, scope, opts.user_data_dir)
        blocked = obstacle_problem(manifest, browser.name, fix) if manifest is not None else None
        if blocked is not None:
            locations.append({**where, "status": "broken", "host_path": None, "problems": [blocked.problem]})
            problems.append(blocked)
            continue
        if manifest is None or (not _exists(manifest) and key is None):
            locations.append({**where, "status": "missing"})
            continue
        data, found = check_manifest(manifest, browser.family, plat.os, browser.name, fix)
        if key is not None and not manifest.exists():
            found = [Problem(browser.name, f"registry key {key} points at {manifest}, which does not exist", fix)]
        locations.append({**where, "status": "broken" if found else "ok",
                          "host_path": data.get("path") if data else None,
                          "problems": [p.problem for p in found]})
        problems += found
    ok_scopes = {loc["scope"] for loc in locations if loc["status"] == "ok"}
    sandboxed = sorted({kind for kind, path in browsers.sandbox_locations(browser, plat) if path.is_dir()})
    native = opts.user_data_dir is not None or any(d.is_dir() for d in browsers.config_dirs(browser, plat))
    if sandboxed:
        kinds = " and ".join(k.capitalize() for k in sandboxed)
        text = (f"{browser.label} is installed as a {kinds} package: its sandbox cannot see or start programs "
                "of the host system, so it cannot reach resocket-host whatever is installed")
        fix = (f"use a {browser.label} installed from your distribution's package or the vendor's .deb/.rpm "
               f"(then: {opts.prog} install --browser {browser.name})")
        if not native:
            problems.append(Problem(browser.name, text, fix))
    if not ok_scopes and not any(loc["status"] == "broken" for loc in locations) and (native or not sandboxed):
        scope = opts.scope or "user"
        where = ", ".join(str(c[1] or c[2]) for c in candidates) or f"no {scope} location on {plat.os}"
        problems.append(Problem(browser.name, f"no resocket manifest where {browser.label} looks ({where})",
                                install_command(opts.prog, browser, scope, opts.user_data_dir)))
    # The policy only matters when the per-user manifest is all there is: a sound system-wide manifest
    # serves the browser even when doctor was asked about the user scope (or a --user-data-dir) alone.
    user_level_only = ("user" in ok_scopes and "system" not in ok_scopes
                       and not _healthy_system_manifest(browser, plat, registry))
    policy, policy_problems = check_policies(browser, plat, user_level_only=user_level_only, prog=opts.prog)
    problems += policy_problems
    report = {"browser": browser.name, "label": browser.label, "installed": native, "sandboxed": sandboxed,
              "locations": locations, "policy": policy,
              "ok": not any(p.browser == browser.name for p in problems)}
    return report, problems


def check_policies(browser: Browser, plat: Platform, user_level_only: bool, prog: str) -> tuple[dict, list[Problem]]:
    """Linux managed policies: NativeMessagingBlocklist / Allowlist / UserLevelHosts, as Chrome applies them."""
    blocklist: list[str] = []
    allowlist: list[str] = []
    user_level: bool | None = None
    files: list[str] = []
    blocking: list[Path] = []
    problems: list[Problem] = []
    for folder in browsers.policy_dirs(browser, plat):
        try:
            names = sorted(p for p in folder.iterdir() if p.suffix == ".json")
        except OSError:
            continue
        for path in names:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                problems.append(Problem(browser.name, f"policy file {path} cannot be read ({exc}); the browser may "
                                                      "apply policies doctor cannot see", f"sudo chmod a+r {_q(path)}"))
                continue
            if not isinstance(data, dict):
                continue
            files.append(str(path))
            blocked = _strings(data.get("NativeMessagingBlocklist"))
            blocklist += blocked
            allowlist += _strings(data.get("NativeMessagingAllowlist"))
            if isinstance(data.get("NativeMessagingUserLevelHosts"), bool):
                user_level = data["NativeMessagingUserLevelHosts"]
            if "*" in blocked or HOST_NAME in blocked:
                blocking.append(path)
    # The allowlist exempts hosts from the blocklist, whichever file sets it.
    if blocking and HOST_NAME not in allowlist:
        for path in blocking:
            problems.append(Problem(browser.name, f"policy file {path} blocks native messaging host {HOST_NAME} "
                                                  f"(NativeMessagingBlocklist: {blocklist})",
                                    f"administrator: add \"{HOST_NAME}\" to \"NativeMessagingAllowlist\" in {path}"))
    if user_level is False and user_level_only:
        problems.append(Problem(browser.name, "policy NativeMessagingUserLevelHosts is false: "
                                              f"{browser.label} ignores the per-user manifest",
                                f"sudo {prog} install --browser {browser.name} --scope system"))
    policy = {"files": files, "blocklist": blocklist, "allowlist": allowlist, "user_level_hosts": user_level}
    return policy, problems


def _strings(value: object) -> list[str]:
    return [x for x in value if isinstance(x, str)] if isinstance(value, list) else []


# -- live self-test ------------------------------------------------------------------------------------
def self_test(host_path: Path, timeout: float = SELFTEST_TIMEOUT) -> dict:
    """Start the host as the browser does (argv[1] = caller origin, cwd = the host's folder, pipes) and do
    one framed hello round trip."""
    result: dict = {"path": str(host_path), "ok": False, "version": None, "protocol": None, "error": None,
                    "stderr": ""}
    hello = {"id": 1, "op": "hello", "args": {"protocol": PROTOCOL_VERSION, "client": f"resocket-doctor/{__version__}"}}
    body = json.dumps(hello).encode("utf-8")
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
        proc.stdin.write(struct.pack("=I", len(body)) + body)
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
    stream = proc.stdout
    assert stream is not None
    head = _read_exact(stream, 4)
    if head is None:
        out["error"] = "the host exited without replying (\"Native host has exited\")"
        return
    (length,) = struct.unpack("=I", head)
    if length > _MAX_REPLY:
        text = head.decode("ascii", "replace")
        out["error"] = (f"the host wrote something that is not a frame on stdout (starts with {text!r}); "
                        "the browser reports \"Error when communicating with the native messaging host\"")
        return
    body = _read_exact(stream, length)
    if body is None:
        out["error"] = f"the host exited in the middle of a {length}-byte frame"
        return
    try:
        out["message"] = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        out["error"] = f"the host's reply is not UTF-8 JSON: {body[:80]!r}"


def _read_exact(stream, n: int) -> bytes | None:  # type: ignore[no-untyped-def]
    buf = b""
    while len(buf) < n:
        part = stream.read(n - len(buf))
        if not part:
            return None
        buf += part
    return buf


# -- the whole report ----------------------------------------------------------------------------------
def run(plat: Platform, opts: Options, registry: install.RegistryAdapter | None) -> dict:
    problems: list[Problem] = []
    if opts.browsers:
        selected = [browsers.get(name) for name in opts.browsers]
    elif opts.user_data_dir is not None:
        selected = [browsers.get("chromium")]
    else:
        selected = [b for b in browsers.BROWSERS
                    if any(d.is_dir() for d in browsers.config_dirs(b, plat))
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
    """No profile folder of any browser: each fix is a complete command, for the browsers installed on the
    machine first (a browser never started yet has no profile), then every other one."""
    installed = install.installed_browsers(plat, registry)
    order = [*installed, *(b for b in browsers.BROWSERS if b not in installed)]
    scope = opts.scope or "user"
    commands = [install_command(opts.prog, b, scope, None) for b in order]
    seen = ", ".join(b.label for b in installed)
    text = f"no supported browser found for this user ({plat.home})"
    if seen:
        text += f"; installed on this machine but never started by this user: {seen}"
    return Problem(None, text, commands[0], tuple(commands[1:]))


def _host_paths(reports: list[dict], plat: Platform) -> list[Path]:
    """Distinct host paths of the healthy manifests: the programs a browser would actually start."""
    paths: list[Path] = []
    for report in reports:
        for loc in report["locations"]:
            if loc["status"] == "ok" and loc.get("host_path"):
                path = Path(loc["host_path"])
                if not path.is_absolute():
                    path = Path(loc["manifest"]).parent / path
                if path not in paths:
                    paths.append(path)
    return paths


def _selftest_fix(path: Path, run_: dict, prog: str) -> str:
    error = run_["error"] or ""
    if "protocol" in error and run_.get("protocol") is not None:
        return f"update resocket so the host and the CLI match (pip install -U resocket), then {prog} install"
    if "not a frame" in error:
        return (f"remove whatever prints to stdout in {path} (a wrapper script's echo, a print in the host); "
                f"see it with: {_q(path)} {EXTENSION_ORIGIN} </dev/null | head -c 200")
    return f"run the host by hand and read its error: {_q(path)} {EXTENSION_ORIGIN} </dev/null"


def install_command(prog: str, browser: Browser, scope: str, user_data_dir: Path | None) -> str:
    if user_data_dir is not None:
        return f"{prog} install --browser {browser.name} --user-data-dir {_q(Path(os.path.abspath(user_data_dir)))}"
    if scope == "system":
        sudo = "" if os.name == "nt" else "sudo "
        return f"{sudo}{prog} install --browser {browser.name} --scope system"
    return f"{prog} install --browser {browser.name}"


def _q(path: Path | str) -> str:
    return shlex.quote(str(path)) if os.name != "nt" else f'"{path}"'


def program_name() -> str:
    """How to spell the `resocket` command in fixes: its bare name when that is what PATH finds."""
    here = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    found = shutil.which("resocket")
    if not here or Path(here).name not in ("resocket", "resocket.exe"):
        return "resocket"
    if found and os.path.abspath(found) == here:
        return "resocket"
    return _q(here)


def format_text(report: dict) -> str:
    lines = []
    for b in report["browsers"]:
        mark = "ok  " if b["ok"] else "FAIL"
        extra = f" (sandboxed: {', '.join(b['sandboxed'])})" if b["sandboxed"] else ""
        lines.append(f"{mark} {b['label']}{extra}")
        for loc in b["locations"]:
            where = loc["registry_key"] or loc["manifest"]
            target = f" -> {loc['manifest']}" if loc["registry_key"] and loc["manifest"] else ""
            lines.append(f"       {loc['scope']:<6} {loc['status']:<7} {where}{target}")
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
