"""`resocket install`, `resocket uninstall`, `resocket doctor`: register the host with browsers and check it.

Exit codes: 0 done; 1 some place could not be written (each problem printed with the command that fixes
it; with --json the report stays JSON); 2 usage errors and refusals before anything was changed.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from resocket import fleet
from resocket.cli import browsers, divert, doctor, install
from resocket.cli.browsers import Platform
from resocket.grants import system_config_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("install", help="register resocket-host with browsers (writes native messaging manifests)",
                       description="Write the native messaging manifest (and on Windows the registry key) for "
                                   "each browser. Re-running repairs a moved host path.")
    _common(p)
    p.add_argument("--host-path", metavar="PATH",
                   help="the host executable to register (default: resocket-host of this installation)")
    p.add_argument("--extension-id", action="append", default=[], metavar="ID",
                   help="also allow this extension (Chrome ID or origin, or a Firefox add-on ID); repeatable; "
                        "with --scope system kept in the system config for every user (docs/deploy.md)")
    p.add_argument("--relay-id", action="append", default=[], metavar="ID",
                   help="with --scope system: your own build of the resocket extension, allowed and trusted "
                        "to relay web pages; repeatable")
    p.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    p.set_defaults(func=cmd_install)

    p = sub.add_parser("uninstall", help="remove the manifests and registry keys resocket wrote",
                       description="Remove resocket's manifests (and registry keys) from every place any "
                                   "browser reads them, found or not. Files resocket did not write are left alone.")
    _common(p)
    p.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    p.add_argument("--purge", action="store_true",
                   help="also remove grants, app keys and saved extension IDs (resocket's config dir)")
    p.set_defaults(func=cmd_uninstall)

    p = sub.add_parser("doctor", help="check that browsers can start resocket-host; exit 1 on any problem",
                       description="Check each browser's manifest, policies and sandboxing, then start the "
                                   "host as the browser would and say hello. Each problem comes with its fix.")
    _common(p)
    p.add_argument("--no-selftest", dest="selftest", action="store_false",
                   help="skip starting the host")
    p.add_argument("--timeout", type=float, default=doctor.SELFTEST_TIMEOUT, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_doctor)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--browser", action="append", default=[], metavar="NAME",
                   help=f"one of {', '.join(browsers.BROWSER_NAMES)}; repeatable (default: every browser found)")
    p.add_argument("--user-data-dir", type=Path, metavar="DIR",
                   help="a Chromium-family profile started with --user-data-dir=DIR (default browser: chromium)")
    p.add_argument("--scope", choices=browsers.SCOPES, default=None,
                   help="user (default) or system (all users; needs root/administrator)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--root", type=Path, metavar="DIR",
                   help="system-wide paths (and the system config) under DIR instead of / (an OS image being "
                        "built)")


def _platform(args: argparse.Namespace) -> Platform:
    plat = Platform.current()
    if args.root is not None:
        plat = dataclasses.replace(plat, root=args.root)
    return plat


def _selected(args: argparse.Namespace, plat: Platform, every: bool = False) -> list[browsers.Browser]:
    """The browsers named, or the default: every browser found (install, doctor), every browser (`every`)."""
    selected = [browsers.get(name) for name in args.browser]
    if args.user_data_dir is not None:
        selected = selected or [browsers.get("chromium")]
        firefox = [b.label for b in selected if b.family != browsers.CHROMIUM_FAMILY]
        if firefox:
            raise install.InstallError(f"--user-data-dir is a Chromium-family option; not for {', '.join(firefox)}")
        if args.scope == "system":
            raise install.InstallError("--user-data-dir and --scope system exclude each other")
    if not selected and every:
        return list(browsers.BROWSERS)
    if not selected:
        scope = args.scope or "user"
        selected = install.found_browsers(plat, scope, install.default_registry(plat))
        if not selected:
            where = f"for this user ({plat.home})" if scope == "user" else f"on this machine (under {plat.root})"
            raise install.InstallError(f"no supported browser found {where}; name one with --browser NAME "
                                       f"({', '.join(browsers.BROWSER_NAMES)}), or give --user-data-dir DIR")
    return selected


def _rerun(args: argparse.Namespace) -> install.RerunCommand:
    prog = doctor.program_name()
    udd = args.user_data_dir
    return lambda browser, scope: doctor.install_command(prog, browsers.get(browser), scope, udd)


def cmd_install(args: argparse.Namespace) -> int:
    plat = _platform(args)
    registry = install.default_registry(plat)
    try:
        selected = _selected(args, plat)
        if args.user_data_dir is not None and not args.user_data_dir.is_dir():
            # A typo here would register the host for a profile no browser uses, and say "wrote".
            udd = os.path.abspath(args.user_data_dir)
            raise install.InstallError(
                f"--user-data-dir {udd} is not a folder ({'a file' if args.user_data_dir.exists() else 'it does not exist'}); "
                "give the folder the browser is started with (--user-data-dir=DIR); to register the host before "
                f"the browser first creates it: mkdir -p {doctor.quote(udd)}")
        host_path = _host_path(args, plat)
        targets, notes = install.targets_for(selected, plat, args.scope or "user", args.user_data_dir)
        system = args.scope == "system"
        if args.relay_id and not system:
            raise install.InstallError("--relay-id is an administrator's decision: use it with --scope system")
        extra = [*args.extension_id, *args.relay_id]
        if system and args.root is not None:  # an image's own fleet file, not this machine's
            extra += fleet.allowed_ids(system_config_dir(args.root))[0]
        changes, contents, warnings = install.plan_install(targets, host_path, extra, registry)
        if not args.dry_run:
            if system:
                fleet.add_to_fleet(args.extension_id, args.relay_id, system_config_dir(args.root))
                notes += divert.keep_from_package_upgrades(
                    [Path(c.where) for c in changes if c.action == "write" and c.where.endswith(".json")],
                    args.root)
            install.apply(changes, contents, registry, _rerun(args))
            if not system:
                install.save_extra_ids(args.extension_id)
    except install.ApplyFailed as exc:
        return _write_failed(args, exc, [*notes, *warnings])
    except (install.InstallError, ValueError) as exc:
        return _fail(args, str(exc))
    except OSError as exc:
        kept = fleet.fleet_path(system_config_dir(args.root)) if args.scope == "system" else install.extras_path()
        return _fail(args, f"cannot keep the --extension-id list in {kept}: {exc.strerror or exc}", code=1)
    warnings = [*notes, *warnings]
    if not targets:
        return _fail(args, "; ".join(warnings) or "nothing to install")
    if args.json:
        print(json.dumps({"ok": True, "dry_run": args.dry_run, "host_path": str(host_path),
                          "changes": [c.as_json() for c in changes], "warnings": warnings}, indent=2))
        return 0
    verbs = {"write": "would write" if args.dry_run else "wrote",
             "set-key": "would set" if args.dry_run else "set", "unchanged": "up to date"}
    print(f"host: {host_path}")
    for c in changes:
        points = f" -> {c.detail}" if c.action in ("set-key",) else ""
        print(f"{verbs.get(c.action, c.action):<11} {c.browser:<{_NAME_WIDTH}} {c.scope:<6} {c.where}{points}")
    _print_warnings(warnings)
    return 0


def _host_path(args: argparse.Namespace, plat: Platform) -> Path:
    """With --root, an absolute --host-path found inside the image names the image's host: it is checked
    there, and the manifests name it as the image's browsers will see it. Otherwise the path is this
    machine's."""
    if args.root is not None and args.host_path and Path(args.host_path).is_absolute():
        inside = args.root / Path(args.host_path).relative_to(Path(args.host_path).anchor)
        if inside.is_file():
            install.find_host_path(plat.os, str(inside))
            return Path(args.host_path)
    return install.find_host_path(plat.os, args.host_path)


def cmd_uninstall(args: argparse.Namespace) -> int:
    plat = _platform(args)
    registry = install.default_registry(plat)
    try:
        selected = _selected(args, plat, every=True)
        named = bool(args.browser) or args.user_data_dir is not None
        targets, notes = install.targets_for(selected, plat, args.scope or "user", args.user_data_dir,
                                             every=not named)
        changes = install.plan_uninstall(targets, plat, registry)
        kept: list[str] = []
        if args.purge:
            purge, kept = install.plan_purge(install.config_dir())
            changes += purge
        if not args.dry_run:
            install.apply(changes, {}, registry, _rerun(args))
            if args.scope == "system":  # a .deb's manifest that install diverted comes back (divert.py)
                notes += divert.restore_packaged([Path(c.where) for c in changes if c.action == "remove"],
                                                 args.root)
    except install.ApplyFailed as exc:
        return _write_failed(args, exc, notes)
    except (install.InstallError, ValueError) as exc:
        return _fail(args, str(exc))
    notes = [*notes, *(f"kept {k} in the config dir: resocket did not write it" for k in kept)]
    if args.json:
        print(json.dumps({"ok": True, "dry_run": args.dry_run, "changes": [c.as_json() for c in changes],
                          "warnings": notes}, indent=2))
        return 0
    removed = "would remove" if args.dry_run else "removed"
    verbs = {"remove": removed, "remove-dir": removed,
             "delete-key": "would delete" if args.dry_run else "deleted", "keep": "kept"}
    for c in changes:
        why = f" ({c.detail})" if c.detail and c.action != "delete-key" else ""  # a key's detail: its value
        print(f"{verbs.get(c.action, c.action):<12} {c.browser:<{_NAME_WIDTH}} {c.scope:<6} {c.where}{why}")
    if not changes:
        print("nothing to remove: no manifest written by resocket was found"
              + (" and the config dir holds nothing of resocket's" if args.purge else ""))
    _print_warnings(notes)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    plat = _platform(args)
    try:
        names = tuple(browsers.get(name).name for name in args.browser)
        if args.user_data_dir is not None and any(browsers.get(n).family != browsers.CHROMIUM_FAMILY for n in names):
            raise ValueError("--user-data-dir is a Chromium-family option; not for Firefox")
    except ValueError as exc:
        return _fail(args, str(exc))
    opts = doctor.Options(browsers=names, scope=args.scope, user_data_dir=args.user_data_dir,
                          selftest=args.selftest, timeout=args.timeout, prog=doctor.program_name())
    report = doctor.run(plat, opts, install.default_registry(plat))
    print(json.dumps(report, indent=2) if args.json else doctor.format_text(report))
    return 0 if report["ok"] else 1


#: The browser column of the text output: as wide as the longest name (chrome-canary).
_NAME_WIDTH = max(len(name) for name in browsers.BROWSER_NAMES)


def _fail(args: argparse.Namespace, message: str, code: int = 2) -> int:
    if args.json:
        print(json.dumps({"ok": False, "error": message}, indent=2))
    else:
        print(f"resocket: {message}", file=sys.stderr)
    return code


def _write_failed(args: argparse.Namespace, exc: install.ApplyFailed, warnings: list[str]) -> int:
    """Some places were changed, others not: say which, each problem with its fix; exit 1."""
    if args.json:
        print(json.dumps({"ok": False, "dry_run": False, "error": f"{len(exc.problems)} place(s) could not be changed",
                          "changes": [c.as_json() for c in exc.done],
                          "problems": [p.as_json() for p in exc.problems], "warnings": warnings}, indent=2))
        return 1
    for c in exc.done:
        print(f"{c.action:<11} {c.browser:<{_NAME_WIDTH}} {c.scope:<6} {c.where}")
    for p in exc.problems:
        print(f"resocket: [{p.browser}] {p.problem}", file=sys.stderr)
        print(f"  fix: {p.fix}", file=sys.stderr)
    _print_warnings(warnings)
    return 1


def _print_warnings(warnings: list[str]) -> None:
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
