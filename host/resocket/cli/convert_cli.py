"""`resocket convert-app SRC OUT`: turn a legacy Chrome App into an MV3 extension that runs it (docs/convert-app.md).

Output order is part of the interface: the compatibility report, the socket rules and what was done
with them, where the host was registered, and last the launch URL alone on its line (scripts take
`tail -n 1`). Questions and warnings go to stderr.

Exit codes: 0 converted (even if the rules were not granted: the report says so); 1 the app cannot be
converted or a file could not be written; 2 usage errors.
"""
from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

from resocket.cli import convert
from resocket.cli.convert import ConvertError

EXIT_OK = 0
EXIT_FAILED = 1

#: Where the shim lives in a source checkout, relative to this file (host/resocket/cli/ -> extension/).
_REPO_SHIM = Path(__file__).resolve().parents[3] / "extension" / "chrome-socket.js"
_DATA = Path(__file__).resolve().parents[1] / "data"


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
    p.add_argument("--key", metavar="PEM", help="private (or public) key giving the extension its ID, for apps "
                                               "whose manifest and package carry no key")
    p.add_argument("--user-data-dir", metavar="DIR",
                   help="also register the host for Chromium started with --user-data-dir=DIR")
    p.add_argument("--host-path", metavar="PATH", help="resocket-host executable to register with --user-data-dir")
    # Tests: look for system-wide host manifests under another root instead of "/".
    p.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    p.set_defaults(func=_cmd_convert)


def _cmd_convert(args: argparse.Namespace) -> int:
    try:
        source = convert.read_source(args.src)
        key, key_note = _fallback_key(source, args.key)
        conversion = convert.convert(source, runtime_files(), key=key, key_source=key_note)
        convert.write_extension(conversion, args.out)
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
    """extension/chrome-socket.js: shipped as package data in wheels, read from the checkout otherwise."""
    for path in (_DATA / "extension" / "chrome-socket.js", _REPO_SHIM):
        if path.is_file():
            return path
    raise ConvertError("the chrome.socket shim (chrome-socket.js) is not installed with this resocket; "
                       f"looked in {_DATA / 'extension'} and {_REPO_SHIM.parent}")


# -- the key ----------------------------------------------------------------------------------------------
def _fallback_key(source: convert.AppSource, key_file: str | None) -> tuple[bytes | None, str]:
    """The SPKI for an app with no key of its own: --key, else one kept per app in the config dir so that
    converting the same app again gives the same ID (and its storage and grants carry over)."""
    from resocket.cli import crx

    if convert.key_from_manifest(source.manifest) is not None or source.crx_key:
        return None, ""
    try:
        if key_file:
            return crx.spki_from_pem_file(key_file), f"key from {key_file}"
        path = app_key_path(str(source.manifest.get("name", "app")))
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            crx.write_private_key(path, crx.generate_private_key())
            return crx.public_key_der(crx.load_private_key(path)), f"new key, kept in {path}"
        return crx.public_key_der(crx.load_private_key(path)), f"key kept in {path}"
    except (crx.CryptoMissing, crx.ExtensionKeyError) as exc:
        raise ConvertError(f"the app has no key, so one must be made or given with --key: {exc}") from None


def app_key_path(app_name: str) -> Path:
    """<config dir>/app-keys/<slug>-<hash>.pem, one per app name."""
    from resocket.grants import default_config_dir

    slug = re.sub(r"[^a-z0-9]+", "-", app_name.lower()).strip("-")[:40] or "app"
    digest = hashlib.sha256(app_name.encode("utf-8")).hexdigest()[:8]
    return default_config_dir() / "app-keys" / f"{slug}-{digest}.pem"


# -- grants and host registration -------------------------------------------------------------------------
def _grant(conversion: convert.Conversion, yes: bool) -> bool:
    """Ask for (or with --yes, make) the grant of the app's declared rules; whether the origin holds one now."""
    from resocket.grants import GrantsCorrupt, GrantStore, InvalidRules

    rules = conversion.report.rules
    origin = conversion.origin
    if not rules:
        print(f"Socket rules: none declared; {origin} gets no socket access")
        return False
    print(f"Socket rules declared by the app (origin {origin}):")
    for rule in rules:
        print(f"  {rule}")
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
    print(question, end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        return False
    return answer.strip().lower() in ("y", "yes")


def _register_origin(origin: str, granted: bool, user_data_dir: str | None, host_path: str | None,
                     root: Path | None) -> None:
    """Rewrite every resocket host manifest this user can write, user-wide and system-wide (and the
    --user-data-dir profile's, installing the host there): each allows exactly the granted extensions, so
    this app's origin is added only when it was granted. Manifests that cannot be written are named with the
    command that updates them."""
    from resocket.cli import browsers, install

    plat = browsers.Platform.current()
    if root is not None:
        plat = browsers.Platform(plat.os, plat.home, root)
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
