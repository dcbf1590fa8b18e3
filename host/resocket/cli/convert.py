"""Convert a legacy Chrome App (folder, .zip or .crx) into an unpacked MV3 extension that runs it.

Design rules:
- Rule 1: everything here is pure except `read_source` and `write_extension` (file I/O at the edges):
  manifest translation, the API scan and the report are functions of bytes and dicts, unit-testable.
- Rule 2: nothing breaks silently. Every manifest field, permission and `chrome.*` API that the
  conversion cannot carry over ends up in the `Report`, and missing APIs are stubbed at run time so
  that a call fails loudly (console error + `chrome.runtime.lastError`) instead of `undefined is not a
  function`.
- Rule 3: the app's own files are copied unmodified except the HTML pages the app shows (`shown_pages`), which
  get the resocket scripts (`chrome-socket.js`, the app config, `app-runtime.js`) inserted before anything
  else in the page. Other HTML is data (a web server's `www/index.html`): its bytes are kept, and if an app
  window opens one after all, the runtime opens it through `resocket/page.html`, which adds the scripts then.

Layout of OUT (the files in `RUNTIME_FILES` come from package data `data/app-runtime/`):

    manifest.json              MV3, translated from the app's manifest (`translate_manifest`)
    <the app's files>          the pages the app shows with the resocket scripts injected, the rest unchanged
    resocket/chrome-socket.js  the chrome.socket shim (extension/chrome-socket.js)
    resocket/app-config.js     what the runtime needs to know about the app (JSON in a script)
    resocket/app-runtime.js    chrome.app.runtime / chrome.app.window / getBackgroundPage emulation
    resocket/app-filesystem.js chrome.fileSystem on the File System Access API
    resocket/choose.html       where the user answers a file chooser an app opened without a click
    resocket/background.html   the app's background scripts, run in an extension page
    resocket/launch.html       the launch URL: starts the background page, fires onLaunched
    resocket/page.html         loader for an HTML data file an app window shows: ?src=PATH, scripts added
    resocket/service-worker.js MV3 background: the toolbar action opens the launch URL
    resocket/report.json       the compatibility report

Chrome reserves file names starting with "_" (except `_locales`): an unpacked extension containing
`_resocket/` does not load ("Filenames starting with "_" are reserved for use by the system"), hence
`resocket/`. A CRX's `_metadata/` (verified contents) is dropped for the same reason.

CRX2 and CRX3 files are read by crx.parse_crx, next to the code that writes them.
"""
from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from resocket.chrome.permissions import rules_from_sockets_key
from resocket.cli.crx import CRX_MAGIC, CrxFormatError, extension_id, parse_crx

RUNTIME_DIR = "resocket"
LAUNCH_PAGE = f"{RUNTIME_DIR}/launch.html"
BACKGROUND_PAGE = f"{RUNTIME_DIR}/background.html"
SERVICE_WORKER = f"{RUNTIME_DIR}/service-worker.js"
SHIM_FILE = f"{RUNTIME_DIR}/chrome-socket.js"
CONFIG_FILE = f"{RUNTIME_DIR}/app-config.js"
RUNTIME_FILE = f"{RUNTIME_DIR}/app-runtime.js"
FILESYSTEM_FILE = f"{RUNTIME_DIR}/app-filesystem.js"
REPORT_FILE = f"{RUNTIME_DIR}/report.json"
PAGE_LOADER = f"{RUNTIME_DIR}/page.html"
#: Files copied verbatim from package data data/app-runtime/ into OUT/resocket/.
RUNTIME_FILES = ("app-runtime.js", "app-filesystem.js", "choose.html", "choose.js", "launch.html", "launch.js",
                 "page.html", "page.js", "service-worker.js")
#: A file in OUT that marks a previous conversion: OUT may then be replaced.
MARKER = CONFIG_FILE


class ConvertError(Exception):
    """The source cannot be converted; the message says why and what to do."""


# -- reading the source -------------------------------------------------------------------------------
@dataclass
class AppSource:
    """A legacy app's files (POSIX relative path -> bytes) and the public key of its CRX, if any."""

    files: dict[str, bytes]
    crx_key: bytes | None = None
    kind: str = "folder"  # folder | zip | crx2 | crx3

    @property
    def manifest(self) -> dict[str, Any]:
        try:
            data = loads_lenient(_strip_bom(self.files["manifest.json"]).decode("utf-8"))
        except KeyError:
            raise ConvertError("no manifest.json at the top of the app") from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise ConvertError(f"manifest.json is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ConvertError("manifest.json is not a JSON object")
        return data


def read_source(path: str | Path) -> AppSource:
    """Read a folder, a .zip or a .crx (v2 or v3), whatever its file name says."""
    p = Path(path)
    if p.is_dir():
        files = {}
        for f in sorted(p.rglob("*")):
            if f.is_file():
                files[f.relative_to(p).as_posix()] = f.read_bytes()
        return AppSource(_rebase(files), kind="folder")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConvertError(f"cannot read {p}: {exc.strerror or exc}") from None
    if data[:4] == CRX_MAGIC:
        try:
            key, zip_bytes, version = parse_crx(data)
        except CrxFormatError as exc:
            raise ConvertError(str(exc)) from None
        return AppSource(_unzip(zip_bytes, p), crx_key=key, kind=f"crx{version}")
    if data[:2] == b"PK":
        return AppSource(_unzip(data, p), kind="zip")
    raise ConvertError(f"{p} is not a folder, a .zip or a .crx (it starts with {data[:4]!r})")


def loads_lenient(text: str) -> Any:
    """JSON as Chrome read legacy manifests: `//` and `/* */` comments and trailing commas are accepted
    (base::JSONReader with JSON_ALLOW_TRAILING_COMMAS; comments were always skipped). Strings are kept as
    they are, `//` inside a URL included."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = _string_end(text, i)
            out.append(text[i:j])
            i = j
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ValueError("unterminated /* comment")
            out.append(" ")
            i = end + 2
        else:
            out.append(c)
            i += 1
    return json.loads(_drop_trailing_commas("".join(out)))


def _string_end(text: str, start: int) -> int:
    """The index just past the JSON string that opens at `start` (escapes skipped)."""
    j = start + 1
    while j < len(text) and text[j] != '"':
        j += 2 if text[j] == "\\" else 1
    return j + 1


def _drop_trailing_commas(text: str) -> str:
    """Remove each comma followed (after whitespace) by } or ], outside strings."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = _string_end(text, i)
            out.append(text[i:j])
            i = j
            continue
        if c == ",":
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            if j < n and text[j] in "}]":
                i += 1
                continue
        out.append(c)
        i += 1
    return "".join(out)


def _unzip(data: bytes, origin: Path) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            files = {}
            for info in zf.infolist():
                if info.is_dir():
                    continue
                name = PurePosixPath(info.filename.replace("\\", "/"))
                if name.is_absolute() or ".." in name.parts:
                    raise ConvertError(f"{origin}: unsafe path in archive: {info.filename}")
                files[name.as_posix()] = zf.read(info)
    except zipfile.BadZipFile as exc:
        raise ConvertError(f"{origin}: not a valid zip archive: {exc}") from None
    return _rebase(files)


def _rebase(files: dict[str, bytes]) -> dict[str, bytes]:
    """Zips made by "compress folder" hold one top folder: use the folder holding manifest.json."""
    if "manifest.json" in files:
        return files
    tops = {name.split("/", 1)[0] for name in files}
    if len(tops) == 1:
        top = tops.pop() + "/"
        if top + "manifest.json" in files:
            return {name[len(top):]: data for name, data in files.items() if name.startswith(top)}
    raise ConvertError("no manifest.json at the top of the app (or in its single top folder)")


def _strip_bom(data: bytes) -> bytes:
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


# -- keys and IDs ---------------------------------------------------------------------------------------
def key_from_manifest(manifest: dict[str, Any]) -> bytes | None:
    """The SPKI DER in the manifest's `key` (base64, PEM armour tolerated), or None."""
    value = manifest.get("key")
    if not isinstance(value, str) or not value.strip():
        return None
    body = re.sub(r"-----[A-Z ]+-----", "", value)
    try:
        return base64.b64decode("".join(body.split()), validate=True)
    except ValueError:
        raise ConvertError("the manifest's key is not valid base64") from None


def launch_url(ext_id: str) -> str:
    return f"chrome-extension://{ext_id}/{LAUNCH_PAGE}"


def origin_of(ext_id: str) -> str:
    return f"chrome-extension://{ext_id}/"


# -- socket permissions -----------------------------------------------------------------------------------
# The `sockets` manifest key of chrome.sockets.* (extensions/common/api/sockets/sockets_manifest_data.cc)
# expresses the same rules as the `socket` permission, under other names.
def socket_rules(manifest: dict[str, Any]) -> list[str]:
    """The socket permission rules an app declares: `{"socket": [...]}` permissions and the `sockets` key.

    A bare `"socket"` string permission (very old apps) meant every socket operation."""
    rules: list[str] = []
    for perm in manifest.get("permissions") or []:
        if isinstance(perm, dict) and isinstance(perm.get("socket"), list):
            rules += [r for r in perm["socket"] if isinstance(r, str)]
        elif isinstance(perm, dict) and isinstance(perm.get("socket"), str):
            rules.append(perm["socket"])
        elif perm == "socket":
            rules += ["tcp-connect", "tcp-listen", "udp-bind", "udp-send-to", "udp-multicast-membership"]
    rules += rules_from_sockets_key(manifest.get("sockets"))
    seen: list[str] = []
    for rule in rules:
        if rule not in seen:
            seen.append(rule)
    return seen


# -- manifest translation ---------------------------------------------------------------------------------
#: Permissions an MV3 extension page still has (developer.chrome.com/docs/extensions/reference/permissions-list).
MV3_PERMISSIONS = frozenset({
    "alarms", "background", "clipboardRead", "clipboardWrite", "contextMenus", "desktopCapture",
    "downloads", "fontSettings", "gcm", "geolocation", "identity", "identity.email", "idle",
    "management", "nativeMessaging", "notifications", "pageCapture", "power", "printerProvider",
    "privacy", "proxy", "storage", "system.cpu", "system.display", "system.memory", "system.network",
    "system.storage",
    "tabs", "tts", "ttsEngine", "unlimitedStorage", "webRequest", "offscreen", "favicon",
})
#: App-only permissions with no MV3 counterpart, and what happens to the app without them.
APP_ONLY_PERMISSIONS = {
    "socket": "provided by resocket (granted separately, see below)",
    "app.window.alpha": "ignored", "app.window.alwaysOnTop": "ignored", "app.window.shape": "ignored",
    "app.window.fullscreen": "windows go fullscreen through chrome.windows",
    "app.window.fullscreen.overrideEsc": "ignored", "alwaysOnTopWindows": "ignored",
    "fullscreen": "ignored", "overrideEscFullscreen": "ignored", "pointerLock": "ignored",
    "experimental": "chrome.experimental.socket is aliased to chrome.socket; other experimental APIs are missing",
    "fileSystem": "chrome.fileSystem is emulated on the browser's File System Access API",
    "syncFileSystem": "chrome.syncFileSystem is missing",
    "mediaGalleries": "chrome.mediaGalleries is missing", "serial": "chrome.serial is missing",
    "usb": "chrome.usb is missing", "hid": "chrome.hid is missing", "bluetooth": "chrome.bluetooth is missing",
    "webview": "<webview> is missing", "browser": "chrome.browser is missing",
    "audioCapture": "getUserMedia asks the user instead", "videoCapture": "getUserMedia asks the user instead",
    "audio": "chrome.audio is missing", "mdns": "chrome.mdns is missing",
    "fileSystemProvider": "chrome.fileSystemProvider is missing", "copresence": "missing",
    "usbDevices": "chrome.usb is missing", "sockets": "chrome.sockets.* is provided by resocket",
}
#: Top-level MV2 app fields that MV3 keeps as they are.
KEPT_FIELDS = ("name", "short_name", "version", "version_name", "description", "icons", "default_locale",
               "key", "author", "homepage_url", "oauth2", "commands", "storage", "externally_connectable",
               "offline_enabled", "minimum_chrome_version")
#: Dropped app fields whose consequence is worth naming (what the app will see without them).
DROPPED_FIELDS = {
    "file_handlers": ("dropped: the browser no longer offers the app for opening files, so onLaunched never "
                      "carries launchData.items; the app can ask with chrome.fileSystem.chooseEntry"),
    "url_handlers": "dropped: links to the app's URLs open as web pages in the browser, never in the app",
    "kiosk_enabled": "dropped: kiosk mode is gone from Chrome on Linux, Windows and macOS",
    "kiosk_only": "dropped: kiosk mode is gone from Chrome on Linux, Windows and macOS",
}
#: Top-level fields that are handled elsewhere in the translation, so not reported as dropped.
_HANDLED_FIELDS = frozenset({"manifest_version", "app", "permissions", "optional_permissions", "sockets",
                             "sandbox", "web_accessible_resources", "content_security_policy", "update_url"})
# MV3 requires script-src to hold only 'self', 'wasm-unsafe-eval', 'none' and localhost sources
# (developer.chrome.com/docs/extensions/reference/manifest/content-security-policy).
_MV3_SCRIPT_SOURCES = re.compile(r"^('self'|'none'|'wasm-unsafe-eval'|https?://(localhost|127\.0\.0\.1)(:\d+)?)$")


@dataclass
class Translation:
    manifest: dict[str, Any]
    background_scripts: list[str]
    background_page: str | None
    notes: list[str] = field(default_factory=list)  # what changed, one line each


def is_legacy_app(manifest: dict[str, Any]) -> bool:
    return isinstance(manifest.get("app"), dict) and isinstance(manifest["app"].get("background"), dict)


def translate_manifest(manifest: dict[str, Any]) -> Translation:
    """The MV3 manifest that runs this MV2 (or v1) app through resocket's runtime."""
    app = manifest.get("app")
    if not isinstance(app, dict):
        raise ConvertError("not a Chrome App: the manifest has no \"app\" section "
                           "(hosted apps and extensions need no conversion)")
    bg = app.get("background") if isinstance(app.get("background"), dict) else {}
    scripts = [s for s in bg.get("scripts") or [] if isinstance(s, str)]
    page = bg.get("page") if isinstance(bg.get("page"), str) else None
    launch = app.get("launch") if isinstance(app.get("launch"), dict) else {}
    if not scripts and not page:
        if isinstance(launch.get("web_url"), str) or "urls" in app:
            url = launch.get("web_url") or "its web site"
            raise ConvertError(f"a hosted app (app.launch.web_url: {url}) is a bookmark to a web site with no "
                               "code of its own to convert; open the site in the browser instead")
        if launch:
            raise ConvertError("a legacy packaged app (app.launch.local_path) has no background page; "
                               "only v2 Chrome Apps (app.background) can be converted")
        raise ConvertError("the app declares no background scripts or page (app.background)")
    if scripts and page:
        raise ConvertError("app.background has both \"scripts\" and \"page\"; Chrome refuses to load such an app "
                           "(\"The background.page and background.scripts properties cannot be used at the same "
                           "time\"): keep one (list the scripts in the page with <script> tags)")
    notes: list[str] = []
    out: dict[str, Any] = {"manifest_version": 3}
    for key in KEPT_FIELDS:
        if key in manifest:
            out[key] = manifest[key]
    if "name" not in out or "version" not in out:
        raise ConvertError("the manifest needs a name and a version")
    out["background"] = {"service_worker": SERVICE_WORKER}
    action: dict[str, Any] = {"default_title": f"Launch {manifest['name']}"}
    if isinstance(manifest.get("icons"), dict):
        action["default_icon"] = manifest["icons"]
    out["action"] = action

    permissions: list[str] = []
    hosts: list[str] = []
    for perm in manifest.get("permissions") or []:
        if isinstance(perm, dict):
            for name in perm:
                notes.append(f"permission {{{name!r}: ...}}: {APP_ONLY_PERMISSIONS.get(name, 'dropped')}")
        elif not isinstance(perm, str):
            continue
        elif perm in MV3_PERMISSIONS:
            permissions.append(perm)
        elif "://" in perm or perm == "<all_urls>":
            hosts.append(perm)
        elif perm in APP_ONLY_PERMISSIONS:
            notes.append(f"permission {perm!r}: {APP_ONLY_PERMISSIONS[perm]}")
        else:
            notes.append(f"permission {perm!r}: unknown to MV3, dropped")
    if "nativeMessaging" not in permissions:
        permissions.append("nativeMessaging")  # the chrome.socket shim talks to resocket-host
    out["permissions"] = permissions
    if hosts:
        out["host_permissions"] = hosts
    optional = [p for p in manifest.get("optional_permissions") or []
                if isinstance(p, str) and (p in MV3_PERMISSIONS or "://" in p)]
    if optional:
        out["optional_permissions"] = optional
    if "sockets" in manifest:
        notes.append("\"sockets\" key: its rules are granted as socket rules; chrome.sockets.tcp, .tcpServer and "
                     ".udp are provided by resocket")

    sandbox = manifest.get("sandbox")
    csp: dict[str, str] = {}
    if isinstance(sandbox, dict) and isinstance(sandbox.get("pages"), list):
        out["sandbox"] = {"pages": sandbox["pages"]}
        if isinstance(sandbox.get("content_security_policy"), str):
            csp["sandbox"] = sandbox["content_security_policy"]
    old_csp = manifest.get("content_security_policy")
    if isinstance(old_csp, str):
        translated, dropped = translate_csp(old_csp)
        csp["extension_pages"] = translated
        if dropped:
            notes.append(f"content_security_policy: removed {', '.join(dropped)} from script-src "
                         "(MV3 forbids remote code and eval in extension pages)")
    if csp:
        out["content_security_policy"] = csp
    war = manifest.get("web_accessible_resources")
    if isinstance(war, list) and war:
        out["web_accessible_resources"] = [{"resources": [r for r in war if isinstance(r, str)],
                                            "matches": ["<all_urls>"]}]
        notes.append("web_accessible_resources: now accessible from <all_urls> (MV3 form)")
    if "update_url" in manifest:
        notes.append("update_url: dropped (the converted app is loaded unpacked)")

    for key in sorted(manifest):
        if key not in KEPT_FIELDS and key not in _HANDLED_FIELDS:
            notes.append(f"manifest field {key!r}: {DROPPED_FIELDS.get(key, 'not supported in MV3, dropped')}")
    for key in sorted(app):
        if key != "background":
            notes.append(f"app.{key}: not supported in MV3, dropped")
    return Translation(out, scripts, page, notes)


def translate_csp(policy: str) -> tuple[str, list[str]]:
    """(MV3 extension_pages policy, the script-src sources it had to drop)."""
    dropped: list[str] = []
    directives = []
    for directive in (d.strip() for d in policy.split(";")):
        if not directive:
            continue
        name, *sources = directive.split()
        if name.lower() in ("script-src", "object-src", "worker-src"):
            kept = [s for s in sources if _MV3_SCRIPT_SOURCES.match(s)]
            dropped += [s for s in sources if s not in kept]
            sources = kept or ["'self'"]
        directives.append(" ".join([name, *sources]))
    if not any(d.split()[0].lower() in ("script-src", "default-src") for d in directives):
        directives.append("script-src 'self'")
    return "; ".join(directives), dropped


# -- the API scan ----------------------------------------------------------------------------------------
SUPPORTED, EMULATED, MISSING = "supported", "emulated", "missing"

#: chrome.socket's full API (Chromium's socket.idl, docs/chrome-behaviour.md 2); resocket provides all of them.
SOCKET_METHODS = frozenset({
    "create", "destroy", "connect", "bind", "disconnect", "read", "write", "recvFrom", "sendTo", "listen",
    "accept", "setKeepAlive", "setNoDelay", "getInfo", "getNetworkList", "joinGroup", "leaveGroup",
    "setMulticastTimeToLive", "setMulticastLoopbackMode", "getJoinedGroups", "secure",
})
#: chrome.sockets.* members (Chromium 156), all provided by resocket's shim.
_SOCKETS_COMMON = {"create", "update", "setPaused", "close", "getInfo", "getSockets"}
SOCKETS_MEMBERS: dict[str, frozenset[str]] = {
    "tcp": frozenset(_SOCKETS_COMMON | {"connect", "disconnect", "secure", "send", "setKeepAlive", "setNoDelay",
                                        "onReceive", "onReceiveError", "DnsQueryType"}),
    "tcpServer": frozenset(_SOCKETS_COMMON | {"listen", "disconnect", "onAccept", "onAcceptError"}),
    "udp": frozenset(_SOCKETS_COMMON | {"bind", "send", "joinGroup", "leaveGroup", "setMulticastTimeToLive",
                                        "setMulticastLoopbackMode", "getJoinedGroups", "setBroadcast",
                                        "onReceive", "onReceiveError", "DnsQueryType"}),
}
APP_WINDOW_MEMBERS = frozenset({"create", "current", "get", "getAll", "canSetVisibleOnAllWorkspaces"})

#: API name prefix -> (status, how). The longest matching prefix wins.
API_TABLE: dict[str, tuple[str, str]] = {
    "socket": (SUPPORTED, "resocket (native messaging to resocket-host)"),
    "experimental.socket": (SUPPORTED, "aliased to chrome.socket"),
    "sockets.tcp": (SUPPORTED, "resocket (native messaging to resocket-host)"),
    "sockets.tcpServer": (SUPPORTED, "resocket (native messaging to resocket-host)"),
    "sockets.udp": (SUPPORTED, "resocket (native messaging to resocket-host)"),
    "app.runtime.onLaunched": (EMULATED, "fired when the launch URL is opened or the toolbar button clicked"),
    "app.runtime.onRestarted": (EMULATED, "never fires (no session restore for converted apps)"),
    "app.runtime.onEmbedRequested": (EMULATED, "never fires"),
    "app.runtime": (EMULATED, "resocket app runtime"),
    "app.window": (EMULATED, "app windows are popup windows (chrome.windows)"),
    "experimental.app.onLaunched": (EMULATED, "alias of chrome.app.runtime.onLaunched"),
    "fileSystem": (EMULATED, "on the browser's File System Access API (resocket/app-filesystem.js)"),
    "fileSystem.chooseEntry": (EMULATED, ("the browser's picker; called without a click, a resocket window asks "
                                          "the user to choose or drop the file or folder")),
    "fileSystem.getDisplayPath": (EMULATED, ("the chosen file or folder's name and the path below it, not the "
                                             "absolute path (the browser does not reveal it)")),
    "fileSystem.retainEntry": (EMULATED, "kept in IndexedDB across restarts"),
    "fileSystem.restoreEntry": (EMULATED, "from IndexedDB; after a restart the browser may ask the user again"),
    "fileSystem.requestFileSystem": (EMULATED, "fails as in Chrome outside Chrome OS (kiosk only)"),
    "fileSystem.getVolumeList": (EMULATED, "fails as in Chrome outside Chrome OS (kiosk only)"),
    "fileSystem.onVolumeListChanged": (EMULATED, "never fires (Chrome OS only)"),
    "runtime.getBackgroundPage": (EMULATED, "the background page is an extension page; same process"),
    "extension.getBackgroundPage": (EMULATED, "the background page is an extension page; same process"),
    "runtime.onSuspend": (EMULATED, "never fires (the background page is not suspended)"),
    "runtime.onSuspendCanceled": (EMULATED, "never fires"),
    "runtime.onInstalled": (EMULATED, "fires in the service worker only, not in the app's background page"),
    "runtime.onStartup": (EMULATED, "fires in the service worker only, not in the app's background page"),
    "runtime.onRestartRequired": (EMULATED, "never fires"),
    "runtime.lastError": (SUPPORTED, "native"),
    "runtime.getPackageDirectoryEntry": (SUPPORTED, ("native (the package is the converted extension); a window's call "
                                                     "is answered by the background page, so the entry outlives it")),
    "runtime.reload": (SUPPORTED, ("native: reloads the converted extension, which closes the app's windows and "
                                   "background page until the app is launched again")),
    "runtime": (SUPPORTED, "native in MV3"),
    "storage": (SUPPORTED, "native in MV3 (needs the storage permission, kept)"),
    "i18n": (SUPPORTED, "native in MV3"), "alarms": (SUPPORTED, "native in MV3"),
    "notifications": (SUPPORTED, "native in MV3"), "identity": (SUPPORTED, "native in MV3"),
    "idle": (SUPPORTED, "native in MV3"), "power": (SUPPORTED, "native in MV3"),
    "tts": (SUPPORTED, "native in MV3"), "contextMenus": (SUPPORTED, "native in MV3"),
    "permissions": (SUPPORTED, "native in MV3"), "commands": (SUPPORTED, "native in MV3"),
    "gcm": (SUPPORTED, "native in MV3"), "management": (SUPPORTED, "native in MV3"),
    "system.cpu": (SUPPORTED, "native in MV3"), "system.memory": (SUPPORTED, "native in MV3"),
    "system.display": (SUPPORTED, "native in MV3"), "system.storage": (SUPPORTED, "native in MV3"),
    "system.network": (SUPPORTED, "native in MV3 (the system.network permission is kept)"),
    "extension.getViews": (SUPPORTED, "native in MV3"), "extension.getURL": (MISSING, "removed in MV3"),
    "windows": (SUPPORTED, "native in MV3"), "tabs": (SUPPORTED, "native in MV3"),
    "desktopCapture": (SUPPORTED, "native in MV3"), "downloads": (SUPPORTED, "native in MV3"),
    "webRequest": (SUPPORTED, "native in MV3"), "fontSettings": (SUPPORTED, "native in MV3"),
}
_API_NAME = re.compile(r"\bchrome\.([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)")
_SOCKET_ALIAS = re.compile(r"\b([A-Za-z_$][\w$]*)\s*=\s*(?:\(?\s*)?chrome\.(?:experimental\.)?socket\b")
_SCANNED_SUFFIXES = (".js", ".html", ".htm")
_NESTED_NAMESPACES = frozenset({"app", "system", "sockets", "experimental", "storage"})


@dataclass(frozen=True)
class ApiUse:
    name: str  # "chrome.socket.connect"
    status: str  # supported | emulated | missing
    how: str
    files: tuple[str, ...]


def classify(api: str) -> tuple[str, str]:
    """(status, how) for an API name without the `chrome.` prefix, e.g. "socket.connect"."""
    parts = api.split(".")
    if parts[0] == "socket" or parts[:2] == ["experimental", "socket"]:
        method = parts[2] if parts[0] == "experimental" and len(parts) > 2 else (
            parts[1] if parts[0] == "socket" and len(parts) > 1 else None)
        if method is not None and method not in SOCKET_METHODS:
            return MISSING, "not a chrome.socket method"
    if parts[0] == "sockets" and len(parts) > 2 and parts[1] in SOCKETS_MEMBERS \
            and parts[2] not in SOCKETS_MEMBERS[parts[1]]:
        return MISSING, f"not a chrome.sockets.{parts[1]} member"
    if parts[:2] == ["app", "window"] and len(parts) > 2 and parts[2] not in APP_WINDOW_MEMBERS:
        return MISSING, "not emulated"
    for i in range(len(parts), 0, -1):
        hit = API_TABLE.get(".".join(parts[:i]))
        if hit:
            return hit
    return MISSING, "not available to MV3 extension pages; calls fail with chrome.runtime.lastError"


def api_key(api: str) -> str:
    """The level at which uses are reported: namespace + member. chrome.socket.create.call -> socket.create;
    namespaces with a level more (app.window, system.cpu, storage.local) keep three parts."""
    parts = api.split(".")
    return ".".join(parts[:3] if parts[0] in _NESTED_NAMESPACES else parts[:2])


def scan_apis(files: dict[str, bytes]) -> list[ApiUse]:
    """Every chrome.* API the app's scripts and pages name, sorted by status then name."""
    found: dict[str, set[str]] = {}
    for path, data in files.items():
        if not path.lower().endswith(_SCANNED_SUFFIXES) or path.startswith(RUNTIME_DIR + "/"):
            continue
        text = data.decode("utf-8", "replace")
        names = [m.group(1) for m in _API_NAME.finditer(text)]
        # `var socket = chrome.socket || chrome.experimental.socket; socket.create(...)`
        for alias in {m.group(1) for m in _SOCKET_ALIAS.finditer(text)}:
            for m in re.finditer(rf"(?<![\w$.]){re.escape(alias)}\.([A-Za-z_$][\w$]*)", text):
                names.append(f"socket.{m.group(1)}")
        for name in names:
            key = api_key(name)
            if key in ("socket", "sockets", "experimental", "app", "experimental.socket") and name == key:
                continue  # a bare namespace reference (feature test); its members are listed
            found.setdefault(key, set()).add(path)
    order = {MISSING: 0, EMULATED: 1, SUPPORTED: 2}
    uses = [ApiUse(f"chrome.{name}", *classify(name), tuple(sorted(paths))) for name, paths in found.items()]
    uses += platform_features(files)
    return sorted(uses, key=lambda u: (order[u.status], u.name))


#: App platform features that are not chrome.* calls: (report name, pattern in a page or script, status, how).
PLATFORM_FEATURES = (
    ("<webview>", re.compile(r"""<webview\b|createElement\(\s*['"]webview['"]""", re.IGNORECASE), MISSING,
     ("extension pages have no <webview>: the element stays empty and its methods are missing; open the site in "
      "an app window (chrome.app.window.create(url)), an <iframe> or a tab")),
    ("chrome.app.window.create({frame: 'none'})",
     re.compile(r"""\bframe\s*:\s*(?:['"]none['"]|\{\s*type\s*:\s*['"]none['"])"""), EMULATED,
     ("a popup window with the browser's frame: frameless windows and their -webkit-app-region drag areas are "
      "not reproduced")),
    ("chrome.app.window.create({alwaysOnTop: true})", re.compile(r"\balwaysOnTop\s*:\s*true\b"), EMULATED,
     "ignored: a popup window cannot stay on top of others"),
)


def platform_features(files: dict[str, bytes]) -> list[ApiUse]:
    """Uses of PLATFORM_FEATURES in the app's scripts and pages."""
    uses = []
    for name, pattern, status, how in PLATFORM_FEATURES:
        paths = sorted(p for p, data in files.items() if p.lower().endswith(_SCANNED_SUFFIXES)
                       and not p.startswith(RUNTIME_DIR + "/") and pattern.search(data.decode("utf-8", "replace")))
        if paths:
            uses.append(ApiUse(name, status, how, tuple(paths)))
    return uses


def file_system_permission(manifest: dict[str, Any]) -> list[str] | None:
    """The app's fileSystem permission: its options (`write`, `directory`, `retainEntries`), [] for a bare
    "fileSystem", None without one (then Chrome gave the app no chrome.fileSystem, and neither does the runtime)."""
    found: list[str] | None = None
    for perm in manifest.get("permissions") or []:
        if perm == "fileSystem":
            found = found or []
        elif isinstance(perm, dict) and isinstance(perm.get("fileSystem"), list):
            found = [*(found or []), *(o for o in perm["fileSystem"] if isinstance(o, str))]
    return found


def without_file_system(uses: list[ApiUse]) -> list[ApiUse]:
    """The report of an app that names chrome.fileSystem without the permission: Chrome gave it no
    chrome.fileSystem, so the runtime has none either; the calls are missing (stubbed, failing loudly)."""
    how = "the manifest asks for no fileSystem permission: Chrome gave the app no chrome.fileSystem, and calls fail"
    out = [replace(u, status=MISSING, how=how) if u.name.startswith("chrome.fileSystem.") else u for u in uses]
    order = {MISSING: 0, EMULATED: 1, SUPPORTED: 2}
    return sorted(out, key=lambda u: (order[u.status], u.name))


def missing_namespaces(uses: Iterable[ApiUse]) -> list[str]:
    """Namespaces the runtime stubs (e.g. "serial", "bluetoothSocket") so that calls fail loudly."""
    out: set[str] = set()
    for use in uses:
        if use.status != MISSING or not use.name.startswith("chrome.") or "(" in use.name:
            continue
        parts = use.name.split(".")[1:]
        if parts[0] in ("socket", "app", "runtime", "extension", "storage", "experimental"):
            continue  # an unknown member of a namespace that exists: nothing to stub
        depth = 2 if parts[0] in ("system", "sockets", "bluetoothSocket", "bluetoothLowEnergy") else 1
        if len(parts) > depth:
            out.add(".".join(parts[:depth]))
    return sorted(out)


# -- which HTML files are pages ---------------------------------------------------------------------------
# A Chrome App shows HTML as pages in three ways: its background page, chrome.app.window.create(url) and
# links/frames from a page it shows. Any other HTML in the package is data the app reads (a web server's
# www/), and its bytes must not change. The scan sees string literals only; a window the scan missed
# (`create(name + '.html')`) is opened through resocket/page.html at run time (app-runtime.js).
HTML_SUFFIXES = (".html", ".htm")
_WINDOW_CREATE = re.compile(r"""\bapp\s*\.\s*window\s*\.\s*create\s*\(\s*"""
                            r"""(?:'([^'\\\n]*)'|"([^"\\\n]*)"|`([^`\\$]*)`)(?=\s*[,)])""")
_LINK = re.compile(rb"""<(?:a|area|iframe|frame)\b[^>]*?\s(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""",
                   re.IGNORECASE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class Pages:
    """The app's HTML files by what the conversion does with them (POSIX paths, sorted)."""

    runtime: tuple[str, ...]  # pages the app shows: the resocket scripts are injected
    data: tuple[str, ...]  # everything else: copied byte for byte
    sandboxed: tuple[str, ...]  # manifest sandbox.pages: copied as is, no chrome.* there anyway


def resolve_url(url: str, base_dir: str, files: dict[str, bytes]) -> str | None:
    """The app file an extension-relative URL names (from a page in `base_dir`), or None: other origins,
    fragments only, paths outside the app or to files it does not have."""
    from posixpath import normpath
    from urllib.parse import unquote

    url = url.strip().split("#", 1)[0].split("?", 1)[0]
    if not url or url.startswith("//") or _SCHEME.match(url):
        return None
    path = unquote(url.lstrip("/") if url.startswith("/") else f"{base_dir}/{url}".lstrip("/"))
    path = normpath(path) if path else path
    if not path or path == "." or path.startswith("../"):
        return None
    return path if path in files else None


def window_create_urls(text: str) -> list[str]:
    """The string-literal URLs a script passes to chrome.app.window.create: `create("a.html", {...}, cb)`,
    `create('index.html')`, a template literal without substitutions."""
    return [next(g for g in m.groups() if g is not None) for m in _WINDOW_CREATE.finditer(text)]


def page_links(html: bytes) -> list[str]:
    """href/src of the page's <a>, <area>, <iframe> and <frame> elements, as written."""
    out = []
    for m in _LINK.finditer(html):
        raw = next(g for g in m.groups() if g is not None)
        out.append(raw.decode("utf-8", "replace").replace("&amp;", "&"))
    return out


def shown_pages(files: dict[str, bytes], background_page: str | None, sandboxed: Iterable[str] = ()) -> Pages:
    """Classify the app's HTML files: the background page, every page a script opens with a literal
    chrome.app.window.create(url) (URLs are relative to the app's root, as the runtime resolves them), and
    what those pages reach by relative links and frames get the runtime; the rest stay data."""
    html = sorted(p for p in files if p.lower().endswith(HTML_SUFFIXES) and p != "manifest.json")
    sandbox = {p.lstrip("/") for p in sandboxed}
    todo: list[str] = []
    if background_page:
        todo.append(background_page.lstrip("/"))
    for path, data in files.items():
        if path.lower().endswith(_SCANNED_SUFFIXES):
            for url in window_create_urls(data.decode("utf-8", "replace")):
                found = resolve_url(url, "", files)
                if found is None and "/" in path:  # also try the script's own folder
                    found = resolve_url(url, path.rsplit("/", 1)[0], files)
                if found:
                    todo.append(found)
    shown: set[str] = set()
    while todo:
        page = todo.pop()
        if page in shown or page not in files or not page.lower().endswith(HTML_SUFFIXES):
            continue
        shown.add(page)
        base = page.rsplit("/", 1)[0] if "/" in page else ""
        for url in page_links(files[page]):
            found = resolve_url(url, base, files)
            if found and found not in shown:
                todo.append(found)
    return Pages(runtime=tuple(p for p in html if p in shown and p not in sandbox),
                 data=tuple(p for p in html if p not in shown and p not in sandbox),
                 sandboxed=tuple(p for p in html if p in sandbox))


# -- the report ------------------------------------------------------------------------------------------
@dataclass
class Report:
    app_name: str
    ext_id: str
    source_kind: str
    key_source: str
    apis: list[ApiUse]
    manifest_notes: list[str]
    rules: list[str]
    invalid_rules: list[str]
    pages: Pages = field(default_factory=lambda: Pages((), (), ()))

    def as_json(self) -> dict[str, Any]:
        return {
            "app": self.app_name, "id": self.ext_id, "source": self.source_kind, "key": self.key_source,
            "launch_url": launch_url(self.ext_id),
            "apis": [{"name": u.name, "status": u.status, "how": u.how, "files": list(u.files)}
                     for u in self.apis],
            "manifest": self.manifest_notes, "socket_rules": self.rules, "invalid_socket_rules": self.invalid_rules,
            "pages": {"runtime": list(self.pages.runtime), "data": list(self.pages.data),
                      "sandboxed": list(self.pages.sandboxed)},
        }

    def lines(self) -> list[str]:
        counts = {s: sum(1 for u in self.apis if u.status == s) for s in (SUPPORTED, EMULATED, MISSING)}
        out = [f"Compatibility report for {self.app_name!r} ({self.source_kind}, ID {self.ext_id}, {self.key_source})",
               (f"chrome.* APIs used: {len(self.apis)} ({counts[SUPPORTED]} supported, "
                f"{counts[EMULATED]} emulated, {counts[MISSING]} missing)")]
        width = max((len(u.name) for u in self.apis), default=0)
        for use in self.apis:
            out.append(f"  {use.status:<9} {use.name:<{width}}  {use.how}")
        out.append("HTML pages:")
        if self.pages.runtime:
            out.append(f"  with the resocket runtime: {', '.join(self.pages.runtime)}")
        if self.pages.data:
            out.append(f"  left as data, unchanged: {', '.join(self.pages.data)} "
                       f"(an app window showing one gets the runtime through {PAGE_LOADER})")
        if self.pages.sandboxed:
            out.append(f"  sandboxed, unchanged: {', '.join(self.pages.sandboxed)}")
        if self.manifest_notes:
            out.append("Manifest:")
            out += [f"  {note}" for note in self.manifest_notes]
        for rule in self.invalid_rules:
            out.append(f"  invalid socket rule skipped: {rule}")
        return out


# -- writing OUT ------------------------------------------------------------------------------------------
_HEAD = re.compile(rb"<head(\s[^>]*)?>", re.IGNORECASE)
_HTML = re.compile(rb"<html(\s[^>]*)?>", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!doctype[^>]*>", re.IGNORECASE)


#: The scripts every page the app shows gets first, in this order (page.js has the same list).
RUNTIME_SCRIPTS = (SHIM_FILE, CONFIG_FILE, RUNTIME_FILE, FILESYSTEM_FILE)


def runtime_script_tags(scripts: Iterable[str] = RUNTIME_SCRIPTS) -> bytes:
    """The <script> tags of the runtime; another target (an Isolated Web App, iwa.py) names its own scripts."""
    return b"".join(f'<script src="/{src}"></script>'.encode() for src in scripts)


def inject_scripts(html: bytes, tags: bytes | None = None) -> bytes:
    """The page with the resocket scripts first: right after <head>, else <html>, else the doctype."""
    tags = b"\n" + (runtime_script_tags() if tags is None else tags) + b"\n"
    for pattern in (_HEAD, _HTML, _DOCTYPE):
        m = pattern.search(html)
        if m:
            return html[:m.end()] + tags + html[m.end():]
    return tags.lstrip() + html


def background_html(app_name: str, scripts: list[str], tags: bytes | None = None) -> bytes:
    lines = ["<!DOCTYPE html>", "<html>", "<head>", '<meta charset="utf-8">',
             f"<title>{_html_escape(app_name)} (background)</title>",
             (runtime_script_tags() if tags is None else tags).decode()]
    lines += [f'<script src="/{_html_escape(s.lstrip("/"))}"></script>' for s in scripts]
    lines += ["</head>", "<body></body>", "</html>", ""]
    return "\n".join(lines).encode()


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


@dataclass
class Conversion:
    """Everything `write_extension` puts in OUT, computed without touching the disk."""

    files: dict[str, bytes]
    report: Report
    ext_id: str

    @property
    def launch_url(self) -> str:
        return launch_url(self.ext_id)

    @property
    def origin(self) -> str:
        return origin_of(self.ext_id)


def convert(source: AppSource, runtime: dict[str, bytes], *, key: bytes | None = None,
            key_source: str = "") -> Conversion:
    """Build OUT's files. `runtime` maps RUNTIME_FILES and "chrome-socket.js" to their bytes; `key` is the
    SPKI DER to use when neither the manifest nor the CRX has one (required then)."""
    from resocket.chrome.permissions import RuleSet

    manifest = source.manifest
    translation = translate_manifest(manifest)
    own_key = key_from_manifest(manifest)
    if own_key is not None:
        spki, key_source = own_key, "the app's own key: same ID as before"
    elif source.crx_key:
        spki, key_source = source.crx_key, "the CRX's key: same ID as the installed app"
    elif key is not None:
        spki = key
    else:
        raise ConvertError("the app has no key: a key must be supplied")
    translation.manifest["key"] = base64.b64encode(spki).decode("ascii")
    ext_id = extension_id(spki)

    files: dict[str, bytes] = {}
    sandboxed = [p for p in (translation.manifest.get("sandbox") or {}).get("pages") or [] if isinstance(p, str)]
    pages = shown_pages(source.files, translation.background_page, sandboxed)
    injected = set(pages.runtime)
    for path, data in source.files.items():
        if path == "manifest.json":
            continue
        if path.startswith("_") and not path.startswith("_locales/"):
            continue  # reserved by Chrome (_metadata/ of a CRX): the extension would not load
        if path == RUNTIME_DIR or path.startswith(RUNTIME_DIR + "/"):
            raise ConvertError(f"the app has its own {RUNTIME_DIR}/ folder, which resocket needs for its runtime")
        if path in injected:
            data = inject_scripts(data)
        files[path] = data

    background = translation.background_page or BACKGROUND_PAGE
    if translation.background_page is None:
        files[BACKGROUND_PAGE] = background_html(str(manifest["name"]), translation.background_scripts)
    for script in translation.background_scripts:
        if script.lstrip("/") not in source.files:
            translation.notes.append(f"background script {script!r} is listed but not in the app")

    apis = scan_apis(source.files)
    if file_system_permission(manifest) is None:
        apis = without_file_system(apis)
    rules = socket_rules(manifest)
    _, invalid = RuleSet.parse(rules)
    valid = [r for r in rules if r not in invalid]
    report = Report(str(manifest["name"]), ext_id, source.kind, key_source, apis, translation.notes, valid,
                    list(invalid), pages)
    config = {"name": manifest["name"], "id": ext_id, "background": background,
              "launch": LAUNCH_PAGE, "missing": missing_namespaces(apis), "dataPages": list(pages.data),
              "fileSystem": file_system_permission(manifest)}
    files[CONFIG_FILE] = ("// Written by resocket convert-app: what the app runtime needs to know.\n"
                          f"self.__resocketApp = {json.dumps(config, indent=2)};\n").encode()
    for name, data in runtime.items():
        files[f"{RUNTIME_DIR}/{name}"] = data
    files[REPORT_FILE] = (json.dumps(report.as_json(), indent=2) + "\n").encode()
    files["manifest.json"] = (json.dumps(translation.manifest, indent=2, ensure_ascii=False) + "\n").encode()
    return Conversion(files, report, ext_id)


def write_extension(conversion: Conversion, out: str | Path) -> None:
    """Write OUT. An existing OUT is replaced only if it holds a previous conversion (or nothing)."""
    import shutil

    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise ConvertError(f"{out} exists and is not a folder")
        if any(out.iterdir()):
            if not (out / MARKER).is_file():
                raise ConvertError(f"{out} is not empty and is not a previous conversion; "
                                   "choose a new folder or remove it")
            shutil.rmtree(out)
    for path, data in conversion.files.items():
        dest = out / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
