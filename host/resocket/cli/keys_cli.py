"""`resocket extension-id`, `resocket keygen`, `resocket pack`: extension keys, IDs and CRX3 packages.

The work is in `crx.py`; this module only parses arguments and prints. Output meant for scripts (the ID)
goes to stdout alone; notes and errors go to stderr.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from urllib.parse import urljoin

from resocket.cli import crx

UPDATES_FILE = "updates.xml"
POLICY_FILE = "policy.json"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("extension-id", help="print the Chromium extension ID for a key",
                       description="Print the extension ID Chromium derives from a public key.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--key", metavar="FILE.pem", help="a PEM private key or PUBLIC KEY file")
    src.add_argument("--manifest", metavar="manifest.json", help='an extension manifest with a "key"')
    src.add_argument("--pubkey", metavar="BASE64", help="a base64 DER public key (a manifest key value)")
    p.set_defaults(func=cmd_extension_id)

    p = sub.add_parser("keygen", help="make an RSA key for your own build of the extension",
                       description="Write a new RSA-2048 private key (PKCS#8 PEM, mode 0600) and print "
                                   "the extension ID it gives. Keep the file out of any repository.")
    p.add_argument("out", metavar="OUT.pem")
    p.add_argument("--print-manifest-key", action="store_true",
                   help='also print the "key" line to put in manifest.json')
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("pack", help="pack the extension as a signed CRX3 with an update manifest",
                       description="Pack EXTENSION_DIR into a signed CRX3, write updates.xml and "
                                   "print the ExtensionInstallForcelist policy that installs it.")
    p.add_argument("extension_dir", metavar="EXTENSION_DIR")
    p.add_argument("--key", required=True, metavar="KEY.pem", help="RSA private key (resocket keygen)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    p.add_argument("--update-url", metavar="URL",
                   help="URL where updates.xml will be served; the .crx must be served beside it "
                        "(default: a file:// URL of DIR/updates.xml, for local tests)")
    p.add_argument("--version", metavar="V", help="version to write into the packed manifest")
    p.set_defaults(func=cmd_pack)


def _fail(message: str) -> int:
    print(f"resocket: {message}", file=sys.stderr)
    return 1


def cmd_extension_id(args: argparse.Namespace) -> int:
    try:
        if args.manifest:
            spki = crx.spki_from_manifest(args.manifest)
        elif args.pubkey:
            spki = crx.spki_from_b64(args.pubkey)
        else:
            spki = crx.spki_from_pem_file(args.key)
    except (crx.ExtensionKeyError, crx.CryptoMissing) as exc:
        return _fail(str(exc))
    print(crx.extension_id(spki))
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists():
        return _fail(f"{out} exists; not overwriting a key (an extension's ID depends on it)")
    try:
        key = crx.generate_private_key()
        crx.write_private_key(out, key)
        spki = crx.public_key_der(key)
    except crx.CryptoMissing as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {out}: {exc}")
    print(f"wrote {out} (keep it private and out of the repository)", file=sys.stderr)
    print(f"extension ID: {crx.extension_id(spki)}")
    if args.print_manifest_key:
        print(f'"key": {json.dumps(crx.manifest_key_value(spki))}')
    else:
        print("(--print-manifest-key prints the manifest.json \"key\" line that pins this ID when the "
              "extension is loaded unpacked)", file=sys.stderr)
    return 0


def _crx_name(extension_dir: Path, version: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", extension_dir.resolve().name.lower()).strip("-") or "extension"
    return f"{slug}-{version}.crx"


def cmd_pack(args: argparse.Namespace) -> int:
    ext = Path(args.extension_dir)
    out = Path(args.out)
    try:
        manifest = crx.read_manifest(ext)
        key = crx.load_private_key(args.key)
        spki = crx.public_key_der(key)
        version = args.version or manifest.get("version")
        if not isinstance(version, str) or not re.fullmatch(r"\d+(\.\d+){0,3}", version):
            return _fail(f"version {version!r} is not 1 to 4 dot-separated integers (Chrome's rule)")
        appid = crx.extension_id(spki)
        out.mkdir(parents=True, exist_ok=True)
        update_url = args.update_url or (out.resolve() / UPDATES_FILE).as_uri()
        name = _crx_name(ext, version)
        if isinstance(manifest.get("key"), str):
            manifest_id = crx.extension_id(crx.spki_from_b64(manifest["key"]))
            if manifest_id != appid:
                print(f"note: manifest.json's key gives ID {manifest_id} (unpacked), but this package is "
                      f"signed with {args.key} and installs as {appid}; allowed_origins of the native host "
                      f"manifest must list the ID the browser sees", file=sys.stderr)
        packed = crx.packed_manifest(manifest, version=version, update_url=args.update_url)
        package = crx.build_crx3(crx.zip_extension(ext, packed), key)
    except (crx.ExtensionKeyError, crx.CryptoMissing) as exc:
        return _fail(str(exc))
    (out / name).write_bytes(package)
    codebase = urljoin(update_url, name)
    (out / UPDATES_FILE).write_text(crx.updates_xml(appid, codebase, version), encoding="utf-8")
    policy = {"ExtensionInstallForcelist": [crx.forcelist_entry(appid, update_url)]}
    (out / POLICY_FILE).write_text(json.dumps(policy, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out / name} (extension ID {appid}, version {version})")
    print(f"wrote {out / UPDATES_FILE} (serve it at {update_url}, with {name} beside it)")
    print(f"wrote {out / POLICY_FILE}; force-install by policy, e.g. as "
          "/etc/opt/chrome/policies/managed/resocket.json or /etc/chromium/policies/managed/resocket.json:")
    print(json.dumps(policy, indent=2))
    return 0
