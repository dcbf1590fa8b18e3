"""`resocket convert-app SRC OUT`: turn a legacy Chrome App into an MV3 extension that runs it (docs/convert-app.md).

Output order is part of the interface: the compatibility report, the socket rules and what was done
with them, where the host was registered, and last the launch URL alone on its line (scripts take
`tail -n 1`). Questions and warnings go to stderr.

Exit codes: 0 converted (even if the rules were not granted: the report says so); 1 the app cannot be
converted, a file could not be written, or its ID could not be chosen (an app of the same name was converted
before and the user did not say whether this is it); 2 usage errors. Whenever the exit code is not 0, no key
is left behind (appkeys: a key is written only once the extension is).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from resocket.cli import appkeys, convert, packaged_extension
from resocket.cli.convert import ConvertError

EXIT_OK = 0
EXIT_FAILED = 1

_DATA = Path(__file__).resolve().parents[1] / "data"  # resocket/data (this module is in cli/)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert-app", help="convert a legacy Chrome App that uses chrome.socket into an MV3 extension",
        description="Convert SRC (a Chrome App folder, .zip or .crx) into OUT, an unpacked MV3 extension that "
                    "runs the app unmodified with chrome.socket provided by resocket. Grants the app's "
                    "declared socket rules to its origin (asks first unless --yes), registers the origin "
                    "with the installed resocket-host, and prints the launch URL last.")
    p.add_argument("src", metavar="SRC", help="the app: a folder, .zip or .crx (v2 or v3)")
    p.add_argument("out", metavar="OUT", help="folder to write the extension to (replaced if it holds an "
                                              "earlier conversion)")
    p.add_argument("--yes", "-y", action="store_true", help="grant the app's socket rules without asking")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--key", metavar="PEM", help="private (or public) key giving the extension its ID, for apps "
                                                   "whose manifest and package carry no key (a key convert-app kept "
                                                   "converts this app as the app it was made for)")
    which.add_argument("--new-key", action="store_true",
                       help="give an app with no key of its own a new ID, even if an app of the same name was "
                            "converted before")
    p.add_argument("--user-data-dir", metavar="DIR",
                   help="also register the host for Chromium started with --user-data-dir=DIR")
    p.add_argument("--host-path", metavar="PATH", help="resocket-host executable to register with --user-data-dir")
    p.add_argument("--target", choices=("extension", "iwa"), default="extension",
                   help="extension (default): an MV3 extension using resocket-host; iwa: an Isolated Web App on "
                        "Direct Sockets, no host (OUT is a dev-mode proxy folder, OUT.swbn its signed web bundle; "
                        "--key is then an Ed25519 key; docs/chromeos.md)")
    # Tests: look for system-wide host manifests under another root instead of "/".
    p.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    p.set_defaults(func=_cmd_convert)


def _cmd_convert(args: argparse.Namespace) -> int:
    if args.target == "iwa":
        from resocket.cli import iwa_cli
        return iwa_cli.convert_to_iwa(args)
    try:
        source = convert.read_source(args.src)
        convert.translate_manifest(source.manifest)  # not an app: say so before asking anything about its ID
        choice = _choose_key(source, args)
        conversion = convert.convert(source, runtime_files(), key=choice.spki if choice else None,
                                     key_source=choice.note if choice else "")
        convert.write_extension(conversion, args.out)
        if choice is not None:
            choice.keep()
    except ConvertError as exc:
        print(f"resocket convert-app: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"resocket convert-app: {exc}", file=sys.stderr)
        return EXIT_FAILED
    report = conversion.report
    for line in report.lines():
        print(line)
    print(f"Wrote {Path(args.out).resolve()}")
    granted = _grant(conversion, args.yes)
    _register_origin(conversion.origin, granted, args.user_data_dir, args.host_path, args.root)
    print(conversion.launch_url, flush=True)
    return EXIT_OK


def runtime_files() -> dict[str, bytes]:
    """The app runtime (package data) and the chrome.socket shim, by file name in OUT/resocket/."""
    files = {name: (_DATA / "app-runtime" / name).read_bytes() for name in convert.RUNTIME_FILES}
    files["chrome-socket.js"] = shim_source().read_bytes()
    return files


def shim_source() -> Path:
    """extension/chrome-socket.js of the extension this install carries (packaged_extension.find())."""
    try:
        return packaged_extension.find() / "chrome-socket.js"
    except packaged_extension.ExtensionMissing as exc:
        raise ConvertError(f"the chrome.socket shim is not installed with this resocket: {exc}") from None


# -- the key ----------------------------------------------------------------------------------------------
def _choose_key(source: convert.AppSource, args: argparse.Namespace) -> appkeys.Choice | None:
    """The key of an app with none of its own (appkeys): --key, --new-key, else the one kept for this app; when
    an app of the same name was converted before and nothing says this is it, the user is asked (or, with
    --yes, the conversion is refused). None: the app's manifest or CRX has a key."""
    from resocket.cli import crx

    if convert.key_from_manifest(source.manifest) is not None or source.crx_key:
        return None
    name = str(source.manifest.get("name", "app"))
    where = str(Path(args.src).resolve())
    try:
        if args.key:
            return appkeys.given_key(name, args.key, where, source.files)
        if args.new_key:
            return appkeys.new_key(name, where, source.files)
        try:
            return appkeys.choose(name, where, source.files)
        except appkeys.Unsure as unsure:
            return _ask_which_app(unsure, where, source, args.yes)
    except appkeys.KeyStoreError as exc:
        raise ConvertError(str(exc)) from None
    except (crx.CryptoMissing, crx.ExtensionKeyError) as exc:
        raise ConvertError(f"the app has no key, so one must be made or given with --key: {exc}") from None


def _ask_which_app(unsure: appkeys.Unsure, where: str, source: convert.AppSource, yes: bool) -> appkeys.Choice:
    """Same name, not known to be the same app: a newer version of one converted before keeps its ID, a
    different app gets its own; only the user can tell which, so they are asked (never with --yes)."""
    known = unsure.candidates
    that = "that app" if len(known) == 1 else "one of those apps"
    listing = [f"an app named {unsure.name!r} was converted before, and nothing says this one ({where}) is {that}:"]
    listing += [f"  {i}. {record.describe()}" for i, record in enumerate(known, 1)]
    keep = " or ".join(f"--key {record.key} (app {i})" for i, record in enumerate(known, 1))
    how = (f"Choose its ID: to convert it as a newer version of {that} (same ID, grants and storage), {keep}; "
           "as a different app with an ID of its own, --new-key")
    if yes:
        raise ConvertError("\n".join([*listing, how]))
    print("\n".join(listing), file=sys.stderr)
    answer = _answer(f"Is it {that}? Its number keeps that ID (a newer version of it); 'new' gives it an ID of "
                     "its own: ")
    if answer == "new":
        return appkeys.new_key(unsure.name, where, source.files)
    if answer.isdigit() and 1 <= int(answer) <= len(known):
        return appkeys.choice_for(known[int(answer) - 1], where, source.files)
    raise ConvertError(f"not converted: the answer did not say which app it is. {how}")


# -- grants and host registration -------------------------------------------------------------------------
def _grant(conversion: convert.Conversion, yes: bool) -> bool:
    """Ask for (or with --yes, make) the grant of the app's declared rules; whether the origin holds one now."""
    from resocket.grants import Grants, GrantsCorrupt, GrantStore, InvalidRules

    rules = conversion.report.rules
    origin = conversion.origin
    if not rules:
        print(f"Socket rules: none declared; {origin} gets no socket access")
        return False
    print(f"Socket rules declared by the app (origin {origin}):")
    for rule in rules:
        print(f"  {rule}")
    try:
        layered = Grants.open()
        if layered.locked():  # a user grant would be ignored: say who decides instead of writing one
            managed = bool(layered.rules_for(origin))
            print(f"Not granted: your administrator locked the grants ({layered.managed.path}), so only managed "
                  f"grants apply{' (this app holds one)' if managed else ''}. An administrator grants it with: "
                  f"resocket grant --scope system {origin} " + " ".join(rules))
            return managed
    except GrantsCorrupt as exc:
        print(f"Not granted: {exc}")
        print(f"resocket convert-app: grants not written: {exc}", file=sys.stderr)
        return False
    if not yes and not _ask(f"Grant these {len(rules)} rule(s) to {origin}? [y/N] "):
        print(f"Not granted: the app's socket calls will be denied. Later: resocket grant {origin} "
              + " ".join(rules) + ", then resocket install")
        return False
    try:
        GrantStore.open().grant(origin, rules)
    except (GrantsCorrupt, InvalidRules, OSError) as exc:
        print(f"Not granted: {exc}")
        print(f"resocket convert-app: grants not written: {exc}", file=sys.stderr)
        return False
    print(f"Granted to {origin}")
    return True


def _ask(question: str) -> bool:
    return _answer(question) in ("y", "yes")


def _answer(question: str) -> str:
    """The user's answer on stdin, stripped and lowercased ("" at end of input)."""
    print(question, end="", file=sys.stderr, flush=True)
    try:
        return sys.stdin.readline().strip().lower()
    except (OSError, ValueError):
        return ""


def _register_origin(origin: str, granted: bool, user_data_dir: str | None, host_path: str | None,
                     root: Path | None) -> None:
    """Rewrite every resocket host manifest this user can write, user-wide and system-wide (and the
    --user-data-dir profile's, installing the host there): each allows exactly the granted extensions, so
    this app's origin is added only when it was granted. Manifests that cannot be written are named with the
    command that updates them."""
    from resocket.cli import browsers, install

    plat = browsers.Platform.current()
    if root is not None:
        plat = dataclasses.replace(plat, root=root)
    updated: list[str] = []
    problems: list[install.WriteProblem] = []
    try:
        registry = install.default_registry(plat)
        if user_data_dir:
            targets, _ = install.targets_for([browsers.get("chromium")], plat, "user", Path(user_data_dir))
            changes, contents, _ = install.plan_install(targets, install.find_host_path(plat.os, host_path), [],
                                                        registry)
            rerun = f"resocket install --browser chromium --user-data-dir {Path(user_data_dir).resolve()}"
            try:
                install.apply(changes, contents, registry, lambda _b, _s: rerun)
                updated += [c.where for c in changes if c.where.endswith(".json")]
            except install.ApplyFailed as exc:
                problems += exc.problems
        existing = [t for t in install.installed_targets(plat, registry)
                    if t.browser.family == browsers.CHROMIUM_FAMILY]
        done, failed = install.refresh_targets(existing, registry)
        updated += [w for w in done if w not in updated]
        problems += failed
    except (install.InstallError, OSError) as exc:
        print(f"Host registration failed: {exc}")
        print(f"resocket convert-app: host not registered for {origin}: {exc}", file=sys.stderr)
        return
    verb = "Allowed to start resocket-host in" if granted else "Host manifests updated (this app not allowed: not granted)"
    if updated:
        print(f"{verb}: " + ", ".join(updated))
    for p in problems:
        who = "the system-wide host" if p.scope == "system" else "this host"
        print(f"Not updated: {p.where}: {p.problem}; run `{p.fix}` to let {who} accept this app")
        print(f"resocket convert-app: {p.where} not updated: {p.problem}", file=sys.stderr)
    if not updated and not problems:
        print("No resocket-host manifest was found to update: run `resocket install` (or `sudo resocket install "
              "--scope system`): it allows every granted app, this one included")
