"""Legacy Chrome App -> Isolated Web App (`resocket convert-app SRC OUT --target iwa`, docs/chromeos.md).

An IWA has no native messaging, so chrome.socket runs on Direct Sockets in the page itself: the shim
(chrome-socket.js) gets a second transport, data/iwa/direct-sockets.js, which answers the shim's wire
protocol (docs/protocol.md) with TCPSocket, UDPSocket and TCPServerSocket instead of resocket-host.

Design rules:
- Pure except `write_iwa` and `load_or_make_key` (files at the edges), like convert.py, whose readers and
  scanners it reuses: the same inputs, the same report, the same rule that only the pages the app shows
  get scripts (convert.shown_pages), here direct-sockets.js, chrome-socket.js, app-config.js, iwa-runtime.js.
- OUT is a dev-mode proxy: any static HTTP server serving it (on 127.0.0.1) can be installed through
  chrome://iwa-dev. Next to it, OUT.swbn is the same files as a signed web bundle (webbundle.py), the form
  an admin force-installs. Both carry /.well-known/manifest.webmanifest with the permissions policy Direct
  Sockets needs (observed in Chromium 156: without `direct-sockets` the constructors do not exist, without
  `local-network` / `loopback-network` every socket to a local address fails).
- The bundle ID comes from an Ed25519 key kept per app in <config dir>/app-keys/ (as convert-app keeps the
  extension keys): converting the same app again gives the same isolated-app:// origin, so its storage and
  the admin's policy entry stay valid.
- The start page is the app's background page; chrome.app.window.create opens the app's windows inside it
  (iwa-runtime.js): an IWA may not open windows without a user gesture, and onLaunched has none.
"""
from __future__ import annotations

import json
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resocket.cli import convert, webbundle
from resocket.cli.convert import ConvertError

DIRECT_SOCKETS_FILE = f"{convert.RUNTIME_DIR}/direct-sockets.js"
IWA_RUNTIME_FILE = f"{convert.RUNTIME_DIR}/iwa-runtime.js"
ICON_FILE = f"{convert.RUNTIME_DIR}/icon-256.png"
MANIFEST_PATH = ".well-known/manifest.webmanifest"
#: Scripts every page the app shows gets, in this order: the backend must exist before the shim picks it.
PAGE_SCRIPTS = (DIRECT_SOCKETS_FILE, convert.SHIM_FILE, convert.CONFIG_FILE, IWA_RUNTIME_FILE)
#: Files of package data data/iwa/ copied into OUT/resocket/.
IWA_FILES = ("direct-sockets.js", "iwa-runtime.js")
#: Permissions-policy features (Chromium 156, direct-sockets-iwa observations): the last two gate sockets to
#: private and loopback addresses (Local Network Access); `direct-sockets-multicast` only for apps that join groups.
POLICY_FEATURES = ("cross-origin-isolated", "direct-sockets", "local-network", "loopback-network")
MULTICAST_FEATURE = "direct-sockets-multicast"
#: APIs that work in an IWA as in the extension target: the ones resocket itself provides or emulates.
IWA_PROVIDED = ("socket", "sockets", "experimental", "app", "runtime")

CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
                 ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".json": "application/json", ".webmanifest":
                 "application/manifest+json", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                 ".gif": "image/gif", ".svg": "image/svg+xml", ".ico": "image/x-icon", ".txt": "text/plain; charset=utf-8",
                 ".wasm": "application/wasm", ".woff": "font/woff", ".woff2": "font/woff2"}


@dataclass
class IwaConversion:
    """What `write_iwa` writes: the proxy folder's files and the signed bundle of the same files."""

    files: dict[str, bytes]
    report: convert.Report
    bundle_id: str
    signed_bundle: bytes

    @property
    def origin(self) -> str:
        return f"isolated-app://{self.bundle_id}"

    @property
    def launch_url(self) -> str:
        return f"{self.origin}/"


def content_type(path: str) -> str:
    return CONTENT_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")


def solid_png(size: int = 256, rgba: tuple[int, int, int, int] = (0x2a, 0x6f, 0xdb, 0xff)) -> bytes:
    """A square PNG of one colour: the icon an IWA manifest must have (Chromium 156 installed with 256 px)."""
    row = b"\x00" + bytes(rgba) * size

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * size)) + chunk(b"IEND", b"")


def iwa_version(version: Any) -> str:
    """The manifest `version` IWAs need (dot-separated integers); a Chrome App's "1.0" is already one."""
    text = str(version or "1")
    return text if re.fullmatch(r"\d+(\.\d+){0,3}", text) else "1.0.0"


def uses_multicast(rules: list[str], manifest: dict[str, Any]) -> bool:
    sockets = manifest.get("sockets")
    udp = sockets.get("udp") if isinstance(sockets, dict) else None
    return any(r.startswith("udp-multicast-membership") for r in rules) or (
        isinstance(udp, dict) and "multicastMembership" in udp)


def web_manifest(manifest: dict[str, Any], start: str, multicast: bool) -> dict[str, Any]:
    features = POLICY_FEATURES + ((MULTICAST_FEATURE,) if multicast else ())
    out: dict[str, Any] = {
        "name": str(manifest.get("name", "app")), "id": "/", "scope": "/", "start_url": f"/{start}",
        "display": "standalone", "version": iwa_version(manifest.get("version")),
        "icons": [{"src": f"/{ICON_FILE}", "sizes": "256x256", "type": "image/png"}],
        "permissions_policy": {feature: ["self"] for feature in features},
    }
    for key in ("short_name", "description"):
        if isinstance(manifest.get(key), str):
            out[key] = manifest[key]
    return out


def iwa_uses(uses: list[convert.ApiUse]) -> list[convert.ApiUse]:
    """The report's API lines as they hold in an IWA: chrome.socket / chrome.sockets over Direct Sockets, the app
    runtime rebuilt on frames, and what an extension page has but a web page does not (chrome.storage,
    chrome.notifications, chrome.i18n...) missing."""
    out = []
    for use in uses:
        ns = use.name.split(".")[1]
        if use.status == convert.MISSING:
            out.append(use)
        elif ns in ("socket", "sockets", "experimental"):
            out.append(convert.ApiUse(use.name, use.status, "resocket over Direct Sockets, in the page", use.files))
        elif use.name.startswith("chrome.app.window"):
            out.append(convert.ApiUse(use.name, convert.EMULATED, "windows are frames in the app's window", use.files))
        elif ns in IWA_PROVIDED:
            out.append(use)
        else:
            out.append(convert.ApiUse(use.name, convert.MISSING, "not available in an Isolated Web App", use.files))
    order = {convert.MISSING: 0, convert.EMULATED: 1, convert.SUPPORTED: 2}
    return sorted(out, key=lambda u: (order[u.status], u.name))


def iwa_missing(uses: list[convert.ApiUse]) -> list[str]:
    """Namespaces iwa-runtime.js stubs: the extension target's, and those only extension pages have (storage,
    i18n...), which convert.missing_namespaces leaves alone because they exist there."""
    out = set(convert.missing_namespaces(uses))
    for use in uses:
        parts = use.name.split(".")[1:]
        if use.status == convert.MISSING and parts[0] not in IWA_PROVIDED and len(parts) > 1:
            out.add(".".join(parts[:2] if parts[0] in ("system", "bluetoothSocket", "bluetoothLowEnergy") else parts[:1]))
    return sorted(out)


def convert_iwa(source: convert.AppSource, scripts: dict[str, bytes], private_key: Any,
                key_source: str = "") -> IwaConversion:
    """Build OUT's files and the signed bundle. `scripts` maps IWA_FILES and "chrome-socket.js" to their bytes;
    `private_key` is the app's Ed25519 key."""
    from resocket.chrome.permissions import RuleSet

    manifest = source.manifest
    translation = convert.translate_manifest(manifest)
    bundle_id = webbundle.web_bundle_id(webbundle.raw_public_key(private_key))
    tags = convert.runtime_script_tags(PAGE_SCRIPTS)
    sandboxed = [p for p in (translation.manifest.get("sandbox") or {}).get("pages") or [] if isinstance(p, str)]
    pages = convert.shown_pages(source.files, translation.background_page, sandboxed)
    files: dict[str, bytes] = {}
    for path, data in source.files.items():
        if path == "manifest.json" or (path.startswith("_") and not path.startswith("_locales/")):
            continue
        if path == convert.RUNTIME_DIR or path.startswith((convert.RUNTIME_DIR + "/", ".well-known/")):
            raise ConvertError(f"the app has its own {path.split('/')[0]}/ folder, which the IWA needs for resocket")
        files[path] = convert.inject_scripts(data, tags) if path in pages.runtime else data
    background = translation.background_page or convert.BACKGROUND_PAGE
    if translation.background_page is None:
        files[convert.BACKGROUND_PAGE] = convert.background_html(str(manifest["name"]), translation.background_scripts,
                                                                 tags)
    apis = iwa_uses(convert.scan_apis(source.files))
    rules = convert.socket_rules(manifest)
    _, invalid = RuleSet.parse(rules)
    notes = [n for n in translation.notes if "nativeMessaging" not in n]
    notes.append("target iwa: Direct Sockets in the page (no resocket-host); the socket rules are not enforced "
                 "by resocket, the browser's Direct Sockets and Local Network Access permissions apply "
                 "(docs/chromeos.md)")
    report = convert.Report(str(manifest["name"]), bundle_id, source.kind, key_source, apis, notes,
                            [r for r in rules if r not in invalid], list(invalid), pages)
    config = {"name": manifest["name"], "id": bundle_id, "background": background, "target": "iwa",
              "missing": iwa_missing(apis), "dataPages": list(pages.data)}
    files[convert.CONFIG_FILE] = ("// Written by resocket convert-app --target iwa: what the runtime needs.\n"
                                  f"self.__resocketApp = {json.dumps(config, indent=2)};\n").encode()
    for name, data in scripts.items():
        files[f"{convert.RUNTIME_DIR}/{name}"] = data
    files[ICON_FILE] = solid_png()
    report_json = report.as_json()
    report_json["launch_url"] = f"isolated-app://{bundle_id}/"
    report_json["target"] = "iwa"
    files[convert.REPORT_FILE] = (json.dumps(report_json, indent=2) + "\n").encode()
    files[MANIFEST_PATH] = (json.dumps(web_manifest(manifest, background, uses_multicast(rules, manifest)),
                                       indent=2, ensure_ascii=False) + "\n").encode()
    bundle = webbundle.web_bundle({"/" + path: (content_type(path), data) for path, data in files.items()})
    return IwaConversion(files, report, bundle_id, webbundle.sign_bundle(bundle, private_key))


def bundle_path(out: str | Path) -> Path:
    """OUT.swbn, next to the folder OUT."""
    out = Path(out)
    return out.with_name(out.name.rstrip("/") + ".swbn")


def write_iwa(conversion: IwaConversion, out: str | Path) -> Path:
    """Write the folder OUT (replacing an earlier conversion only, as write_extension) and OUT.swbn."""
    convert.write_extension(convert.Conversion(conversion.files, conversion.report, conversion.bundle_id), out)
    target = bundle_path(out)
    target.write_bytes(conversion.signed_bundle)
    return target


# -- the key -----------------------------------------------------------------------------------------------
def load_or_make_key(path: Path) -> tuple[Any, bool]:
    """The Ed25519 private key in PEM file `path`, made (mode 0600) if the file does not exist: (key, made)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ConvertError(f"{path} is not an Ed25519 private key (an IWA's bundle ID needs one)")
        return key, False
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.touch(mode=0o600)
    path.write_bytes(pem)
    return key, True
