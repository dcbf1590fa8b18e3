"""The policy bundle `resocket pack` writes: what an administrator hands to their management tool.

One output folder of `pack` is one bundle: a self-hosted update server (``updates.xml`` listing every
extension packed into the folder, each extension's CRX beside it) and the policies that force-install all
of them and allow the resocket host, for Chrome, Chromium, Edge and Brave:

    bundle.json                              what was packed here (the state each pack adds to)
    updates.xml, <name>-<id8>-<version>.crx  the update server's files: serve the folder at --update-url
    policy/linux/etc/.../policies/managed/resocket-<bundle>.json   one per browser, laid out as on disk
    policy/windows/resocket-<bundle>.reg     HKLM\\SOFTWARE\\Policies\\<browser> for the four browsers
    policy/macos/resocket-<bundle>.mobileconfig   a configuration profile with one payload per browser

Design rules:
- One policy per bundle, never one per extension: Chrome reads every file in a managed policy folder, but
  for the same policy name (ExtensionSettings) the file last in lexicographic order wins whole
  (components/policy/core/common/config_dir_policy_loader.cc); a registry value and a profile payload hold
  one value too. So every pack into a folder rewrites the policies with all of the folder's extensions,
  and the files carry the bundle's name, so two bundles never overwrite each other's files.
- A bundle has one update URL: each CRX's manifest carries it (`update_url`, where Chrome checks for
  updates later), and ExtensionSettings sets ``override_update_url`` so checks go to the admin's server even
  for a CRX packed without it.
- Pure: values in, text/bytes out; `write_bundle` alone touches files. Output is deterministic (sorted IDs,
  a profile UUID derived from the bundle name), so a rebuilt bundle compares equal.

Policy names and value shapes: Chrome Enterprise policy list (ExtensionSettings: installation_mode,
update_url, override_update_url; NativeMessagingAllowlist; NativeMessagingUserLevelHosts). On Windows a list
policy is a subkey with values "1", "2", ...; a dictionary policy a REG_SZ holding JSON.
"""
from __future__ import annotations

import json
import plistlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resocket import HOST_NAME

BUNDLE_FILE = "bundle.json"
BUNDLE_VERSION = 1
POLICY_DIR = "policy"


@dataclass(frozen=True)
class Browser:
    name: str
    label: str
    linux_dir: str  # the managed policy folder Chrome's Linux builds read
    registry_key: str  # under HKEY_LOCAL_MACHINE
    mac_domain: str  # the preference domain of the macOS app (its bundle ID)


BROWSERS = (
    Browser("chrome", "Google Chrome", "/etc/opt/chrome/policies/managed", r"SOFTWARE\Policies\Google\Chrome",
            "com.google.Chrome"),
    Browser("chromium", "Chromium", "/etc/chromium/policies/managed", r"SOFTWARE\Policies\Chromium",
            "org.chromium.Chromium"),
    Browser("edge", "Microsoft Edge", "/etc/opt/edge/policies/managed", r"SOFTWARE\Policies\Microsoft\Edge",
            "com.microsoft.Edge"),
    Browser("brave", "Brave", "/etc/brave/policies/managed", r"SOFTWARE\Policies\BraveSoftware\Brave",
            "com.brave.Browser"),
)


class BundleError(ValueError):
    """A bundle folder that cannot take this pack; the message says why and what to do."""


@dataclass(frozen=True)
class Packed:
    """One extension in a bundle: its ID, manifest name, version and CRX file name."""

    id: str
    name: str
    version: str
    crx: str


@dataclass(frozen=True)
class Bundle:
    name: str
    update_url: str
    extensions: tuple[Packed, ...] = ()
    system_hosts_only: bool = False

    def with_pack(self, pack: Packed) -> Bundle:
        """This bundle with ``pack`` added, or replacing the same ID's earlier version."""
        others = [p for p in self.extensions if p.id != pack.id]
        return Bundle(self.name, self.update_url, tuple(sorted([*others, pack], key=lambda p: p.id)),
                      self.system_hosts_only)

    def as_json(self) -> dict[str, Any]:
        return {"version": BUNDLE_VERSION, "name": self.name, "update_url": self.update_url,
                "system_hosts_only": self.system_hosts_only,
                "extensions": [{"id": p.id, "name": p.name, "version": p.version, "crx": p.crx}
                               for p in self.extensions]}


def bundle_name(out_dir: Path) -> str:
    """The bundle's name: its folder's, as a slug (the policy files are named after it)."""
    return re.sub(r"[^a-z0-9]+", "-", out_dir.resolve().name.lower()).strip("-") or "bundle"


def load_bundle(out_dir: Path, update_url: str, system_hosts_only: bool) -> Bundle:
    """The bundle already in ``out_dir`` (a new one when there is none). BundleError when it is served
    from another URL: each CRX in it names its URL, so a bundle cannot move by one pack."""
    path = out_dir / BUNDLE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Bundle(bundle_name(out_dir), update_url, (), system_hosts_only)
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path} cannot be read ({exc}): fix it or pack into an empty folder") from None
    try:
        if data["version"] != BUNDLE_VERSION:
            raise BundleError(f"{path} has format version {data['version']!r}; this resocket reads {BUNDLE_VERSION}")
        packs = tuple(Packed(e["id"], e["name"], e["version"], e["crx"]) for e in data["extensions"])
        bundle = Bundle(data["name"], data["update_url"], packs, bool(data.get("system_hosts_only")) or system_hosts_only)
    except (KeyError, TypeError) as exc:
        raise BundleError(f"{path} is not a resocket bundle ({exc!r} missing or wrong)") from None
    if bundle.update_url != update_url:
        raise BundleError(f"{out_dir} is served at {bundle.update_url}, and its CRX files say so; pack for "
                          f"{update_url} into another folder (one bundle, one update server)")
    return bundle


# -- the packed extension ----------------------------------------------------------------------------------
#: The resocket extension's content scripts: the relay and the page's shim (extension/manifest.json).
PAGE_SCRIPTS = ("relay.js", "chrome-socket.js")


def with_page_origins(manifest: dict[str, Any], origins: list[str]) -> dict[str, Any]:
    """The resocket extension's manifest with its page scripts also running on ``origins``.

    Other origins than loopback normally need each user's approval on the options page (a host permission
    asked in a click). Matches in the manifest itself are granted when the extension is installed, and a
    force-installed extension is installed without asking anyone: the fleet's pages work from the first
    start. A match pattern has no port, so ``https://host:8443`` runs the scripts on every port of host;
    what the page may do is still its origin's grant alone."""
    from resocket.grants import normalize_origin

    if not origins:
        return manifest
    patterns = []
    for origin in origins:
        normalized = normalize_origin(origin)
        if not normalized.startswith(("http://", "https://")):
            raise BundleError(f"--page-origin {origin}: a web page's origin (http:// or https://) is expected")
        scheme, rest = normalized.split("://", 1)
        host = rest.rsplit(":", 1)[0] if not rest.endswith("]") and ":" in rest else rest
        patterns.append(f"{scheme}://{host}/*")
    scripts = [dict(entry) for entry in manifest.get("content_scripts", []) if isinstance(entry, dict)]
    touched = False
    for entry in scripts:
        if any(name in entry.get("js", []) for name in PAGE_SCRIPTS):
            entry["matches"] = list(dict.fromkeys([*entry.get("matches", []), *patterns]))
            touched = True
    if not touched:
        raise BundleError("--page-origin is for the resocket extension (its relay.js and chrome-socket.js "
                          "content scripts); this manifest has neither")
    return {**manifest, "content_scripts": scripts}


# -- policy values ---------------------------------------------------------------------------------------
def policy_values(bundle: Bundle) -> dict[str, Any]:
    """The policies, as JSON values, that force-install every extension of the bundle and allow the host."""
    settings = {p.id: {"installation_mode": "force_installed", "update_url": bundle.update_url,
                       "override_update_url": True} for p in bundle.extensions}
    values: dict[str, Any] = {"ExtensionSettings": settings, "NativeMessagingAllowlist": [HOST_NAME]}
    if bundle.system_hosts_only:
        # Only hosts registered machine-wide (the .deb's, `install --scope system`) may start.
        values["NativeMessagingUserLevelHosts"] = False
    return values


def linux_json(values: Mapping[str, Any]) -> str:
    return json.dumps(values, indent=2, sort_keys=True) + "\n"


def _reg_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def windows_reg(values: Mapping[str, Any]) -> str:
    """A regedit file (`reg import`, or GPO Preferences) setting the policies for every browser."""
    lines = ["Windows Registry Editor Version 5.00", ""]
    for browser in BROWSERS:
        key = f"HKEY_LOCAL_MACHINE\\{browser.registry_key}"
        lines.append(f"[{key}]")
        for name, value in values.items():
            if isinstance(value, bool):
                lines.append(f'"{name}"=dword:{int(value):08x}')
            elif isinstance(value, dict):
                lines.append(f'"{name}"={_reg_string(json.dumps(value, sort_keys=True, separators=(",", ":")))}')
        lines.append("")
        for name, value in values.items():
            if isinstance(value, list):
                lines.append(f"[{key}\\{name}]")
                lines += [f'"{i}"={_reg_string(item)}' for i, item in enumerate(value, 1)]
                lines.append("")
    return "\r\n".join(lines)


def mobileconfig(values: Mapping[str, Any], name: str) -> bytes:
    """A macOS configuration profile with one payload per browser's preference domain (for an MDM)."""
    ident = f"org.resocket.policy.{name}"
    payloads = []
    for browser in BROWSERS:
        payloads.append({
            "PayloadType": browser.mac_domain, "PayloadVersion": 1,
            "PayloadIdentifier": f"{ident}.{browser.name}",
            "PayloadUUID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ident}.{browser.name}")).upper(),
            "PayloadDisplayName": f"resocket for {browser.label}", "PayloadEnabled": True,
            **values,
        })
    profile = {
        "PayloadType": "Configuration", "PayloadVersion": 1, "PayloadIdentifier": ident,
        "PayloadUUID": str(uuid.uuid5(uuid.NAMESPACE_URL, ident)).upper(),
        "PayloadDisplayName": f"resocket ({name})", "PayloadScope": "System",
        "PayloadDescription": "Force-installs the resocket extension and converted apps and allows the "
                              "org.resocket.host native messaging host.",
        "PayloadContent": payloads,
    }
    return plistlib.dumps(profile, sort_keys=True)


def policy_files(bundle: Bundle) -> dict[Path, bytes]:
    """Every policy file of the bundle, by path relative to the bundle folder."""
    values = policy_values(bundle)
    stem = f"resocket-{bundle.name}"
    files: dict[Path, bytes] = {}
    for browser in BROWSERS:
        files[Path(POLICY_DIR, "linux", browser.linux_dir.lstrip("/"), f"{stem}.json")] = \
            linux_json(values).encode("utf-8")
    # regedit reads version 5 files as UTF-16 LE with a byte order mark.
    files[Path(POLICY_DIR, "windows", f"{stem}.reg")] = b"\xff\xfe" + windows_reg(values).encode("utf-16-le")
    files[Path(POLICY_DIR, "macos", f"{stem}.mobileconfig")] = mobileconfig(values, bundle.name)
    return files


def write_bundle(out_dir: Path, bundle: Bundle, updates_xml: str) -> list[Path]:
    """Write bundle.json, updates.xml and every policy file; returns the policy files written."""
    written = []
    for rel, data in policy_files(bundle).items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    (out_dir / "updates.xml").write_text(updates_xml, encoding="utf-8")
    (out_dir / BUNDLE_FILE).write_text(json.dumps(bundle.as_json(), indent=2) + "\n", encoding="utf-8")
    return written
