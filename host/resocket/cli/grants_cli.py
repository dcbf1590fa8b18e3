"""`resocket grant`, `resocket grants`, `resocket revoke`: manage socket permission grants (docs/grants.md).

Exit codes: 0 done; 1 the grants file is corrupt or unreadable, or `revoke` found nothing to revoke;
2 usage errors (a bad origin or rule; argparse also uses 2). Errors go to stderr, results to stdout.
"""
from __future__ import annotations

import argparse
import json
import sys

from resocket.grants import GrantsCorrupt, GrantStore, InvalidRules, normalize_origin

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

RULE_HELP = ("a socket permission rule OP[:HOST[:PORT]], e.g. tcp-connect:localhost:8080, "
             "udp-bind:*:*, tcp-connect:*.example.com:443 (see docs/grants.md)")
ORIGIN_HELP = "chrome-extension://<id>/ or a web origin such as https://example.com"


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
    grant.set_defaults(func=_cmd_grant)

    grants = sub.add_parser("grants", help="list granted origins and their rules",
                            description="List every granted origin and its rules.")
    grants.add_argument("--json", action="store_true",
                        help='print {"config": PATH, "origins": {ORIGIN: [RULE, ...]}} instead of a table')
    grants.set_defaults(func=_cmd_grants)

    revoke = sub.add_parser("revoke", help="remove every grant of an origin",
                            description="Remove every rule granted to ORIGIN. Exit status 1 if it had none.")
    revoke.add_argument("origin", metavar="ORIGIN", help=ORIGIN_HELP)
    revoke.set_defaults(func=_cmd_revoke)


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
        store = GrantStore.open()
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
    print(f"{origin} may now use:" if rules else f"{origin} has no rules")
    for rule in rules:
        print(f"  {rule}")
    return EXIT_OK


def _cmd_grants(args: argparse.Namespace) -> int:
    try:
        store = GrantStore.open()
        grants = store.all()
    except (GrantsCorrupt, OSError) as exc:
        return _storage_error("grants", exc)
    if args.json:
        print(json.dumps({"config": str(store.path), "origins": grants}, indent=2))
        return EXIT_OK
    if not grants:
        print(f"No grants. (stored in {store.path})")
        return EXIT_OK
    width = max(len("ORIGIN"), *(len(origin) for origin in grants))
    print(f"{'ORIGIN':<{width}}  RULES")
    for origin, rules in grants.items():
        for i, rule in enumerate(rules):
            print(f"{origin if i == 0 else '':<{width}}  {rule}")
    print(f"(stored in {store.path})")
    return EXIT_OK


def _cmd_revoke(args: argparse.Namespace) -> int:
    try:
        store = GrantStore.open()
        revoked = store.revoke(args.origin)
    except ValueError as exc:
        _error("revoke", str(exc))
        return EXIT_USAGE
    except (GrantsCorrupt, OSError) as exc:
        return _storage_error("revoke", exc)
    origin = normalize_origin(args.origin)
    if not revoked:
        _error("revoke", f"{origin} has no grants; nothing changed")
        return EXIT_FAILED
    print(f"Revoked every grant of {origin}")
    if origin.startswith("chrome-extension://"):
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


def _storage_error(command: str, exc: BaseException) -> int:
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
