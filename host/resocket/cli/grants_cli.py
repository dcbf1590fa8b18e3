"""`resocket grant`, `resocket grants`, `resocket revoke`: manage socket permission grants (docs/grants.md).

`--scope user` (default) changes the user's grants; `--scope system` the managed grants every user's host
reads (the administrator's; docs/deploy.md). `grants` always shows both layers and marks each rule.

Exit codes: 0 done; 1 a grants file is corrupt, unreadable or not writable, `revoke` found nothing to
revoke, or a user grant was refused because the managed set is locked; 2 usage errors (a bad origin or
rule; argparse also uses 2). Errors go to stderr, results to stdout.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from resocket.grants import (
    Grants,
    GrantsCorrupt,
    GrantStore,
    InvalidRules,
    normalize_origin,
    system_config_dir,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

RULE_HELP = ("a socket permission rule OP[:HOST[:PORT]], e.g. tcp-connect:localhost:8080, "
             "udp-bind:*:*, tcp-connect:*.example.com:443 (see docs/grants.md)")
ORIGIN_HELP = "chrome-extension://<id>/ or a web origin such as https://example.com"
SCOPE_HELP = ("user (default): your own grants; system: the managed grants of every user on this machine "
              "(needs root/administrator)")
ROOT_HELP = "the system scope under another root folder (an OS image being built)"


def _scope_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scope", choices=("user", "system"), default="user", help=SCOPE_HELP)
    p.add_argument("--root", type=Path, metavar="DIR", help=ROOT_HELP)


def register(sub: argparse._SubParsersAction) -> None:
    grant = sub.add_parser("grant", help="allow an origin to use sockets",
                           description="Allow ORIGIN the sockets the RULEs describe. Adds to what it has.")
    grant.add_argument("origin", metavar="ORIGIN", help=ORIGIN_HELP)
    grant.add_argument("rules", metavar="RULE", nargs="*", help=RULE_HELP)
    grant.add_argument("--sockets", metavar="JSON", action="append", default=[],
                       help='a chrome.sockets manifest `sockets` value, e.g. \'{"tcp":{"connect":"*"}}\' '
                            "(tcp.connect -> tcp-connect, tcpServer.listen -> tcp-listen, udp.bind -> udp-bind, "
                            "udp.send -> udp-send-to, udp.multicastMembership -> udp-multicast-membership)")
    grant.add_argument("--replace", action="store_true", help="set the origin's rules to RULEs instead of adding")
    _scope_args(grant)
    grant.set_defaults(func=_cmd_grant)

    grants = sub.add_parser("grants", help="list granted origins and their rules",
                            description="List every granted origin and its rules, managed (the "
                                        "administrator's) and the user's.")
    grants.add_argument("--json", action="store_true",
                        help='print {"config": PATH, "origins": {ORIGIN: [RULE, ...]}, "rules": {ORIGIN: '
                             '[{"rule": RULE, "source": "managed"|"user"}, ...]}, ...} instead of a table')
    lock = grants.add_mutually_exclusive_group()
    lock.add_argument("--lock", action="store_true",
                      help="lock the managed grants: every user's own grants are ignored (administrator)")
    lock.add_argument("--unlock", action="store_true", help="undo --lock (administrator)")
    grants.add_argument("--root", type=Path, metavar="DIR", help=ROOT_HELP)
    grants.set_defaults(func=_cmd_grants)

    revoke = sub.add_parser("revoke", help="remove every grant of an origin",
                            description="Remove every rule granted to ORIGIN in the scope. Exit status 1 "
                                        "if it had none.")
    revoke.add_argument("origin", metavar="ORIGIN", help=ORIGIN_HELP)
    _scope_args(revoke)
    revoke.set_defaults(func=_cmd_revoke)


def _store(args: argparse.Namespace) -> GrantStore:
    if args.scope == "system":
        return GrantStore.open_managed(system_config_dir(args.root))
    if args.root is not None:
        raise ValueError("--root is for --scope system")
    return GrantStore.open()


def _grants(args: argparse.Namespace) -> Grants:
    return Grants(GrantStore.open(), GrantStore.open_managed(system_config_dir(args.root)))


def _cmd_grant(args: argparse.Namespace) -> int:
    from resocket.chrome.permissions import rules_from_sockets_key

    for text in args.sockets:
        try:
            value = json.loads(text)
        except ValueError as exc:
            _error("grant", f"--sockets is not JSON: {exc}")
            return EXIT_USAGE
        if not isinstance(value, dict) or not rules_from_sockets_key(value):
            _error("grant", f"--sockets {text} grants nothing",
                   hint='expected the manifest\'s "sockets" value, e.g. {"tcp":{"connect":"*"},"udp":{"bind":"*"}}')
            return EXIT_USAGE
        args.rules += rules_from_sockets_key(value)
    if not args.rules:
        _error("grant", "give at least one RULE or --sockets JSON", hint="a rule is " + RULE_HELP.removeprefix(
            "a socket permission rule "))
        return EXIT_USAGE
    try:
        store = _store(args)
        if args.scope == "user":
            system = GrantStore.open_managed(system_config_dir())
            if system.locked():
                _error("grant", f"your administrator locked the grants ({system.path}): only the managed "
                                "grants apply on this machine, so nothing was granted",
                       hint="ask your administrator (sudo resocket grant --scope system ORIGIN RULE...)")
                return EXIT_FAILED
        rules = store.grant(args.origin, args.rules, replace=args.replace)
    except InvalidRules as exc:
        for _, reason in exc.invalid:
            _error("grant", f"invalid rule {reason}")
        _error("grant", "nothing was granted", hint="a rule is " + RULE_HELP.removeprefix("a socket permission rule "))
        return EXIT_USAGE
    except ValueError as exc:
        _error("grant", str(exc))
        return EXIT_USAGE
    except (GrantsCorrupt, OSError) as exc:
        return _storage_error("grant", exc)
    origin = normalize_origin(args.origin)
    scope = " (managed: every user of this machine)" if args.scope == "system" else ""
    print(f"{origin} may now use{scope}:" if rules else f"{origin} has no rules")
    for rule in rules:
        print(f"  {rule}")
    return EXIT_OK


def _cmd_grants(args: argparse.Namespace) -> int:
    try:
        layered = _grants(args)
        if args.lock or args.unlock:
            changed = layered.managed.set_locked(args.lock)
            state = "locked: only managed grants apply" if args.lock else "unlocked: users' grants apply too"
            print(f"Managed grants {state}{'' if changed else ' (no change)'} ({layered.managed.path})",
                  file=sys.stderr)
        effective = layered.all()
        sources = layered.sources()
        locked = layered.locked()
    except (GrantsCorrupt, OSError) as exc:
        return _storage_error("grants", exc)
    if args.json:
        print(json.dumps({"config": str(layered.user.path), "managed_config": str(layered.managed.path),
                          "locked": locked, "origins": effective, "rules": sources}, indent=2))
        return EXIT_OK
    where = f"(yours in {layered.user.path}; managed in {layered.managed.path}{', locked' if locked else ''})"
    if not sources:
        print(f"No grants. {where}")
        return EXIT_OK
    width = max(len("ORIGIN"), *(len(origin) for origin in sources))
    rule_width = max(len("RULES"), *(len(e["rule"]) for entries in sources.values() for e in entries))
    print(f"{'ORIGIN':<{width}}  {'RULES':<{rule_width}}  SOURCE")
    for origin, entries in sources.items():
        for i, entry in enumerate(entries):
            source = entry["source"] + (" (ignored: locked)" if entry.get("ignored") else "")
            print(f"{origin if i == 0 else '':<{width}}  {entry['rule']:<{rule_width}}  {source}")
    print(where)
    return EXIT_OK


def _cmd_revoke(args: argparse.Namespace) -> int:
    try:
        store = _store(args)
        revoked = store.revoke(args.origin)
    except ValueError as exc:
        _error("revoke", str(exc))
        return EXIT_USAGE
    except (GrantsCorrupt, OSError) as exc:
        return _storage_error("revoke", exc)
    origin = normalize_origin(args.origin)
    if not revoked:
        hint = None
        if args.scope == "user":
            with _quietly():
                if GrantStore.open_managed(system_config_dir()).rules_for(origin):
                    hint = (f"{origin}'s grant is managed by your administrator "
                            f"(sudo resocket revoke --scope system {origin})")
        _error("revoke", f"{origin} has no {'managed ' if args.scope == 'system' else ''}grants; nothing changed",
               hint=hint)
        return EXIT_FAILED
    print(f"Revoked every {'managed ' if args.scope == 'system' else ''}grant of {origin}")
    if origin.startswith("chrome-extension://") and args.root is None:
        _drop_from_host_manifests(origin)
    return EXIT_OK


def _drop_from_host_manifests(origin: str) -> None:
    """A revoked app also loses access to the host at once: every resocket host manifest this user can
    write is rebuilt from the current grants (docs/install.md)."""
    from resocket.cli import install
    from resocket.cli.browsers import Platform

    plat = Platform.current()
    updated, problems = install.refresh_manifests(plat, install.default_registry(plat))
    if updated:
        print(f"Removed {origin} from allowed_origins in: {', '.join(updated)}")
    for p in problems:
        print(f"warning: {p.where} still allows {origin}: {p.problem}; fix: {p.fix}", file=sys.stderr)


@contextlib.contextmanager
def _quietly() -> Iterator[None]:
    """A hint that cannot be computed is left out; the error it would explain is reported anyway."""
    try:
        yield
    except (GrantsCorrupt, OSError, ValueError):
        pass


def _storage_error(command: str, exc: BaseException) -> int:
    if isinstance(exc, PermissionError):
        _error(command, f"cannot write {exc.filename or 'the grants file'}: permission denied",
               hint="managed grants are the administrator's: run it as root (sudo resocket ...) or, on "
                    "Windows, from an administrator prompt")
        return EXIT_FAILED
    if isinstance(exc, GrantsCorrupt):
        _error(command, f"the grants file is unreadable: {exc}",
               hint=f"resocket never overwrites it. Fix it by hand, or move it aside to start over "
                    f"(e.g. rename it to {exc.path.name}.broken; the next grant creates a new one)")
    else:
        _error(command, f"cannot use the grants file: {exc}")
    return EXIT_FAILED


def _error(command: str, message: str, *, hint: str | None = None) -> None:
    print(f"resocket {command}: error: {message}", file=sys.stderr)
    if hint:
        print(f"resocket {command}: {hint}", file=sys.stderr)
