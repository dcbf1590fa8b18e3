"""`resocket convert-app SRC OUT --target iwa`: a legacy Chrome App as an Isolated Web App (docs/chromeos.md).

Output order follows convert-app's: the report, what was written, how to install it, and last the app's
`isolated-app://` URL alone on its line (`tail -n 1`). There is no grant and no host to register: an IWA's
sockets are allowed by the browser (its Direct Sockets permissions, set by policy on managed ChromeOS).
Exit codes as convert-app: 0 written, 1 the app cannot be converted or a file not written, 2 usage.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from resocket.cli import appkeys, convert, crx, iwa, packaged_extension
from resocket.cli.convert import ConvertError

#: convert-app's exit codes (convert_cli.py): 0 written, 1 not converted or not written.
EXIT_OK = 0
EXIT_FAILED = 1

_DATA = Path(__file__).resolve().parents[1] / "data"  # resocket/data (this module is in cli/)


def iwa_scripts() -> dict[str, bytes]:
    """The IWA's scripts by file name in OUT/resocket/: the shim, its Direct Sockets backend, the runtime."""
    files = {name: (_DATA / "iwa" / name).read_bytes() for name in iwa.IWA_FILES}
    try:
        files["chrome-socket.js"] = (packaged_extension.find() / "chrome-socket.js").read_bytes()
    except packaged_extension.ExtensionMissing as exc:
        raise ConvertError(f"the chrome.socket shim is not installed with this resocket: {exc}") from None
    return files


def app_key(source: convert.AppSource, key_file: str | None) -> tuple[object, str]:
    """The Ed25519 key that fixes the bundle ID: --key, else one kept per app next to the extension keys."""
    try:
        if key_file:
            key, _ = iwa.load_or_make_key(_existing(key_file))
            return key, f"Ed25519 key from {key_file}"
        # One key per app name, as keys were chosen before one-app-one-ID (appkeys.py): see docs/chromeos.md.
        path = appkeys.legacy_key_path(str(source.manifest.get("name", "app")))
        path = path.with_name(path.stem + ".ed25519.pem")
        key, made = iwa.load_or_make_key(path)
        return key, f"{'new Ed25519 key, kept' if made else 'Ed25519 key kept'} in {path}"
    except ImportError:
        raise ConvertError(crx.crypto_hint()) from None
    except ValueError as exc:  # a PEM that cryptography cannot read
        raise ConvertError(f"cannot read the key: {exc}") from None


def _existing(path: str) -> Path:
    if not Path(path).is_file():
        raise ConvertError(f"--key {path}: no such file")
    return Path(path)


def convert_to_iwa(args: argparse.Namespace) -> int:
    try:
        source = convert.read_source(args.src)
        key, key_note = app_key(source, args.key)
        conversion = iwa.convert_iwa(source, iwa_scripts(), key, key_note)
        bundle = iwa.write_iwa(conversion, args.out)
    except (ConvertError, OSError) as exc:
        print(f"resocket convert-app: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for line in conversion.report.lines():
        print(line)
    if args.yes or args.user_data_dir or args.host_path:
        print("Note: --yes, --user-data-dir and --host-path do nothing with --target iwa (no grants, no host)")
    print(f"Wrote {Path(args.out).resolve()} (dev-mode proxy: serve it over HTTP, install it at chrome://iwa-dev)")
    print(f"Wrote {bundle.resolve()} (signed web bundle, ID {conversion.bundle_id}; docs/chromeos.md)")
    print(conversion.launch_url, flush=True)
    return EXIT_OK
