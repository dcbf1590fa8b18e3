"""`resocket install`, `resocket uninstall`, `resocket doctor`: register the host with browsers and check it.

Exit codes: 0 done; 1 some place could not be written (each problem printed with the command that fixes
it; with --json the report stays JSON); 2 usage errors and refusals before anything was changed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from resocket.cli import browsers, doctor, install
from resocket.cli.browsers import Platform


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("install", help="register resocket-host with browsers (writes native messaging manifests)",
                       description="Write the native messaging manifest (and on Windows the registry key) for "
                                   "each browser. Re-running repairs a moved host path.")
    _common(p)
    p.add_argument("--host-path", metavar="PATH",
                   help="the host executable to register (default: resocket-host of this installation)")
    p.add_argument("--extension-id", action="append", default=[], metavar="ID",
                   help="also allow this extension (Chrome ID or origin, or a Firefox add-on ID); repeatable")
    p.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    p.set_defaults(func=cmd_install)

    p = sub.add_parser("uninstall", help="remove the manifests and registry keys resocket wrote",
                       description="Remove resocket's manifests (and registry keys). Files resocket did not "
                                   "write are left alone.")
    _common(p)
    p.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
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
    # Tests: compute system-wide paths under another root instead of "/".
    p.add_argument("--root", type=Path, help=argparse.SUPPRESS)


def _platform(args: argparse.Namespace) -> Platform:
    plat = Platform.current()
    if args.root is not None:
        plat = Platform(plat.os, plat.home, args.root)
    return plat


def _selected(args: argparse.Namespace, plat: Platform) -> list[browsers.Browser]:
    selected = [browsers.get(name) for name in args.browser]
    if args.user_data_dir is not None:
        selected = selected or [browsers.get("chromium")]
        firefox = [b.label for b in selected if b.family != browsers.CHROMIUM_FAMILY]
        if firefox:
            raise install.InstallError(f"--user-data-dir is a Chromium-family option; not for {', '.join(firefox)}")
        if args.scope == "system":
            raise install.InstallError("--user-data-dir and --scope system exclude each other")
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
        host_path = install.find_host_path(plat.os, args.host_path)
        targets, notes = install.targets_for(selected, plat, args.scope or "user", args.user_data_dir)
        changes, contents, warnings = install.plan_install(targets, host_path, args.extension_id, registry)
        if not args.dry_run:
            install.apply(changes, contents, registry, _rerun(args))
            install.save_extra_ids(args.extension_id)
    except install.ApplyFailed as exc:
        return _write_failed(args, exc, [*notes, *warnings])
    except (install.InstallError, ValueError) as exc:
        return _fail(args, str(exc))
    except OSError as exc:
        return _fail(args, f"cannot keep the --extension-id list in {install.extras_path()}: "
                           f"{exc.strerror or exc}", code=1)
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
        print(f"{verbs.get(c.action, c.action):<11} {c.browser:<9} {c.scope:<6} {c.where}{points}")
    _print_warnings(warnings)
    return 0


def cmd_uninstall(args: argparse.Namespace) -> int:
    plat = _platform(args)
    registry = install.default_registry(plat)
    try:
        selected = _selected(args, plat)
        targets, notes = install.targets_for(selected, plat, args.scope or "user", args.user_data_dir)
        changes = install.plan_uninstall(targets, plat, registry)
        if not args.dry_run:
            install.apply(changes, {}, registry, _rerun(args))
    except install.ApplyFailed as exc:
        return _write_failed(args, exc, notes)
    except (install.InstallError, ValueError) as exc:
        return _fail(args, str(exc))
    if args.json:
        print(json.dumps({"ok": True, "dry_run": args.dry_run, "changes": [c.as_json() for c in changes],
                          "warnings": notes}, indent=2))
        return 0
    verbs = {"remove": "would remove" if args.dry_run else "removed",
             "delete-key": "would delete" if args.dry_run else "deleted", "keep": "kept"}
    for c in changes:
        why = f" ({c.detail})" if c.action == "keep" else ""
        print(f"{verbs.get(c.action, c.action):<12} {c.browser:<9} {c.scope:<6} {c.where}{why}")
    if not changes:
        print("nothing to remove: no manifest written by resocket was found")
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
        print(f"{c.action:<11} {c.browser:<9} {c.scope:<6} {c.where}")
    for p in exc.problems:
        print(f"resocket: [{p.browser}] {p.problem}", file=sys.stderr)
        print(f"  fix: {p.fix}", file=sys.stderr)
    _print_warnings(warnings)
    return 1


def _print_warnings(warnings: list[str]) -> None:
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
