"""`resocket extension-path`, `extension-id`, `keygen`, `pack`: the installed extension, keys, IDs and CRX3.

The work is in `packaged_extension.py` (the installed extension), `crx.py` (keys, CRX3) and `policy.py` (the
bundle pack adds to: update server files and policies for every browser); this module only parses arguments
and prints. Output meant for scripts (the folder, the ID) goes to stdout alone; notes and errors go to stderr.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from urllib.parse import urljoin

from resocket import EXTENSION_ID
from resocket.cli import crx, packaged_extension

UPDATES_FILE = "updates.xml"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("extension-path", help="print the folder of the resocket extension to Load unpacked",
                       description="Print the absolute path of the unpacked resocket extension that comes "
                                   "with this install (in a source checkout: its extension/ folder).")
    p.set_defaults(func=cmd_extension_path)

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

    p = sub.add_parser("pack", help="pack an extension or converted app as a signed CRX3 into a policy bundle",
                       description="Pack EXTENSION_DIR (the resocket extension, your build of it, or a converted "
                                   "app) into a signed CRX3 in DIR, a bundle: updates.xml serves every extension "
                                   "packed into DIR, and DIR/policy/ holds the policies that force-install all of "
                                   "them and allow the resocket host, for Chrome, Chromium, Edge and Brave on "
                                   "Linux (JSON), Windows (.reg) and macOS (.mobileconfig). See docs/deploy.md.")
    p.add_argument("extension_dir", metavar="EXTENSION_DIR")
    p.add_argument("--key", required=True, metavar="KEY.pem", help="RSA private key (resocket keygen)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="the bundle folder (created if missing; packing again into it adds or updates)")
    p.add_argument("--update-url", metavar="URL",
                   help="URL where DIR/updates.xml will be served, with the .crx files beside it "
                        "(default: a file:// URL of DIR/updates.xml, for one machine and tests)")
    p.add_argument("--version", metavar="V", help="version to write into the packed manifest")
    p.add_argument("--page-origin", action="append", default=[], metavar="ORIGIN",
                   help="(the resocket extension) also run its page scripts on this web origin, with no "
                        "approval on the options page; repeatable. The origin still needs a grant")
    p.add_argument("--system-hosts-only", action="store_true",
                   help="the policies also set NativeMessagingUserLevelHosts=false: only hosts registered "
                        "machine-wide (the .deb, `install --scope system`) may run")
    p.set_defaults(func=cmd_pack)


def _fail(message: str) -> int:
    print(f"resocket: {message}", file=sys.stderr)
    return 1


def cmd_extension_path(_args: argparse.Namespace) -> int:
    try:
        folder = packaged_extension.find()
    except packaged_extension.ExtensionMissing as exc:
        return _fail(str(exc))
    print(folder)
    print(f"Load it: chrome://extensions -> Developer mode -> Load unpacked -> this folder (ID {EXTENSION_ID}); "
          "Firefox: about:debugging -> Load Temporary Add-on -> its manifest.json", file=sys.stderr)
    return 0


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


def _crx_name(extension_dir: Path, appid: str, version: str) -> str:
    """Unique per extension and version: two apps in folders of one name never share a file."""
    slug = re.sub(r"[^a-z0-9]+", "-", extension_dir.resolve().name.lower()).strip("-") or "extension"
    return f"{slug}-{appid[:8]}-{version}.crx"


def cmd_pack(args: argparse.Namespace) -> int:
    from resocket.cli import policy

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
        update_url = args.update_url or (out.resolve() / UPDATES_FILE).as_uri()
        bundle = policy.load_bundle(out, update_url, args.system_hosts_only)
        out.mkdir(parents=True, exist_ok=True)
        name = _crx_name(ext, appid, version)
        if isinstance(manifest.get("key"), str):
            manifest_id = crx.extension_id(crx.spki_from_b64(manifest["key"]))
            if manifest_id != appid:
                print(f"note: manifest.json's key gives ID {manifest_id} (unpacked), but this package is "
                      f"signed with {args.key} and installs as {appid}: register that ID with the host "
                      f"(resocket install --scope system --relay-id {appid} for your build of the resocket "
                      f"extension, --extension-id {appid} for an app; docs/deploy.md)", file=sys.stderr)
        packed = crx.packed_manifest(policy.with_page_origins(manifest, args.page_origin), version=version,
                                     update_url=args.update_url)
        package = crx.build_crx3(crx.zip_extension(ext, packed), key)
    except (crx.ExtensionKeyError, crx.CryptoMissing, policy.BundleError, ValueError) as exc:
        return _fail(str(exc))
    (out / name).write_bytes(package)
    label = manifest.get("name") if isinstance(manifest.get("name"), str) else ext.name
    bundle = bundle.with_pack(policy.Packed(appid, label, version, name))
    updates = crx.updates_xml((p.id, urljoin(update_url, p.crx), p.version) for p in bundle.extensions)
    written = policy.write_bundle(out, bundle, updates)
    print(f"wrote {out / name} (extension ID {appid}, version {version})")
    others = len(bundle.extensions) - 1
    print(f"wrote {out / UPDATES_FILE} (serve {out} at {update_url.rsplit('/', 1)[0]}/; it lists this extension"
          f"{f' and {others} more packed into {out}' if others else ''})")
    print("wrote the policies that force-install every extension in this bundle and allow org.resocket.host:")
    for path in written:
        print(f"  {path}")
    print(f"Linux: copy {out / policy.POLICY_DIR / 'linux' / 'etc'} over /etc; Windows: reg import (or GPO/Intune) "
          "the .reg; macOS: deploy the .mobileconfig with your MDM (docs/deploy.md)")
    return 0
