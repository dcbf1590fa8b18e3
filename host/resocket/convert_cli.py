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

from resocket import convert
from resocket.convert import ConvertError

EXIT_OK = 0
EXIT_FAILED = 1

#: Where the shim lives in a source checkout, relative to this file (host/resocket/ -> extension/).
_REPO_SHIM = Path(__file__).resolve().parents[2] / "extension" / "chrome-socket.js"
_DATA = Path(__file__).resolve().parent / "data"


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
    _grant(conversion, args.yes)
    _register_origin(conversion.origin, args.user_data_dir, args.host_path)
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
    from resocket import crx

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
def _grant(conversion: convert.Conversion, yes: bool) -> None:
    from resocket.grants import GrantsCorrupt, GrantStore, InvalidRules

    rules = conversion.report.rules
    origin = conversion.origin
    if not rules:
        print(f"Socket rules: none declared; {origin} gets no socket access")
        return
    print(f"Socket rules declared by the app (origin {origin}):")
    for rule in rules:
        print(f"  {rule}")
    if not yes and not _ask(f"Grant these {len(rules)} rule(s) to {origin}? [y/N] "):
        print(f"Not granted: the app's socket calls will be denied. Later: resocket grant {origin} "
              + " ".join(rules))
        return
    try:
        GrantStore.open().grant(origin, rules)
    except (GrantsCorrupt, InvalidRules, OSError) as exc:
        print(f"Not granted: {exc}")
        print(f"resocket convert-app: grants not written: {exc}", file=sys.stderr)
        return
    print(f"Granted to {origin}")


def _ask(question: str) -> bool:
    print(question, end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        return False
    return answer.strip().lower() in ("y", "yes")


def _register_origin(origin: str, user_data_dir: str | None, host_path: str | None) -> None:
    """Add the origin to allowed_origins of every resocket host manifest already installed for this user
    (and of the --user-data-dir profile, installing the host there)."""
    from resocket import browsers, install

    plat = browsers.Platform.current()
    done: list[str] = []
    try:
        registry = install.default_registry(plat)
        if user_data_dir:
            targets, _ = install.targets_for([browsers.get("chromium")], plat, "user", Path(user_data_dir))
            done += _update(targets, install.find_host_path(plat.os, host_path), origin, registry)
        existing, _ = install.targets_for(install.found_browsers(plat), plat, "user")
        by_host: dict[str, list[install.Target]] = {}
        for target in existing:
            data = install.read_manifest(target.manifest) if install.is_resocket_manifest(target.manifest) else None
            if data and isinstance(data.get("path"), str) and target.browser.family == browsers.CHROMIUM_FAMILY:
                by_host.setdefault(data["path"], []).append(target)
        for path, targets in by_host.items():
            done += _update(targets, Path(path), origin, registry)
    except (install.InstallError, OSError) as exc:
        print(f"Host registration failed: {exc}")
        print(f"resocket convert-app: host not registered for {origin}: {exc}", file=sys.stderr)
        return
    if done:
        print("Allowed to start resocket-host in: " + ", ".join(done))
    else:
        print("No resocket-host manifest of your user was found to update: run `resocket install` "
              "(again, also for a system-wide install): it allows every granted app, this one included")


def _update(targets: list, host_path: Path, origin: str, registry: object) -> list[str]:
    from resocket import install

    changes, contents, _ = install.plan_install(targets, host_path, [origin], registry)  # type: ignore[arg-type]
    install.apply(changes, contents, registry)  # type: ignore[arg-type]
    return [c.where for c in changes if c.action in ("write", "unchanged") and c.where.endswith(".json")]
