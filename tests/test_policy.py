"""The policy bundle `resocket pack` writes (resocket.cli.policy): every file parsed the way the tool that reads
it would (JSON as Chrome's Linux loader, plistlib for the .mobileconfig, the .reg as regedit text), for
one extension and for several packed into one bundle, and the update server's updates.xml."""
from __future__ import annotations

import io
import json
import plistlib
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from resocket.cli import policy

RESOCKET = Path(sys.executable).with_name("resocket")
NS = "{http://www.google.com/update2/response}"
URL = "https://intranet.example/fleet/updates.xml"
LINUX_DIRS = {"chrome": "etc/opt/chrome/policies/managed", "chromium": "etc/chromium/policies/managed",
              "edge": "etc/opt/edge/policies/managed", "brave": "etc/brave/policies/managed"}
REG_KEYS = ["SOFTWARE\\Policies\\Google\\Chrome", "SOFTWARE\\Policies\\Chromium",
            "SOFTWARE\\Policies\\Microsoft\\Edge", "SOFTWARE\\Policies\\BraveSoftware\\Brave"]


def make_extension(root: Path, name: str, version: str = "1.0") -> Path:
    root.mkdir(parents=True)
    (root / "manifest.json").write_text(json.dumps({"manifest_version": 3, "name": name, "version": version}))
    (root / "sw.js").write_text("// test\n")
    return root


def keygen(path: Path) -> str:
    proc = subprocess.run([str(RESOCKET), "keygen", str(path)], capture_output=True, text=True, check=True)
    return proc.stdout.split("extension ID: ")[1].split()[0]


def pack(ext: Path, key: Path, out: Path, *more: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RESOCKET), "pack", str(ext), "--key", str(key), "--out", str(out), *more],
                          capture_output=True, text=True, check=False, timeout=120)


def parse_reg(data: bytes) -> dict[str, dict[str, str]]:
    """regedit's format: a UTF-16 LE file with BOM, [keys], "name"=value lines (value text kept raw)."""
    assert data.startswith(b"\xff\xfe")
    text = data[2:].decode("utf-16-le")
    lines = text.split("\r\n")
    assert lines[0] == "Windows Registry Editor Version 5.00"
    keys: dict[str, dict[str, str]] = {}
    current = None
    for line in lines[1:]:
        if line.startswith("["):
            current = keys.setdefault(line[1:-1], {})
        elif line:
            match = re.fullmatch(r'"([^"]+)"=(.*)', line)
            assert match and current is not None, line
            current[match.group(1)] = match.group(2)
    return keys


def reg_string(raw: str) -> str:
    assert raw.startswith('"') and raw.endswith('"'), raw
    return re.sub(r"\\(.)", r"\1", raw[1:-1])


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The resocket extension's own build and a converted app, packed into one bundle folder."""
    root = tmp_path_factory.mktemp("fleet")
    out = root / "fleet-2026"
    ids = {}
    for label in ("resocket", "legacy-app"):
        ext = make_extension(root / label, label, "1.0")
        ids[label] = keygen(root / f"{label}.pem")
        result = pack(ext, root / f"{label}.pem", out, "--update-url", URL, "--system-hosts-only")
        assert result.returncode == 0, result.stderr
    return {"root": root, "out": out, "ids": ids, "stdout": result.stdout}


def test_linux_json_for_each_browser_force_installs_every_extension_and_allows_the_host(fleet: dict) -> None:
    expected = {
        "ExtensionSettings": {appid: {"installation_mode": "force_installed", "update_url": URL,
                                      "override_update_url": True} for appid in fleet["ids"].values()},
        "NativeMessagingAllowlist": ["org.resocket.host"],
        "NativeMessagingUserLevelHosts": False,
    }
    for folder in LINUX_DIRS.values():
        files = list((fleet["out"] / "policy/linux" / folder).iterdir())
        assert [f.name for f in files] == ["resocket-fleet-2026.json"]  # named after the bundle
        assert json.loads(files[0].read_text()) == expected


def test_the_reg_file_sets_the_same_policies_under_hklm_for_each_browser(fleet: dict) -> None:
    keys = parse_reg((fleet["out"] / "policy/windows/resocket-fleet-2026.reg").read_bytes())
    assert set(keys) == {f"HKEY_LOCAL_MACHINE\\{k}" for k in REG_KEYS} | {
        f"HKEY_LOCAL_MACHINE\\{k}\\NativeMessagingAllowlist" for k in REG_KEYS}
    for key in REG_KEYS:
        values = keys[f"HKEY_LOCAL_MACHINE\\{key}"]
        settings = json.loads(reg_string(values["ExtensionSettings"]))
        assert set(settings) == set(fleet["ids"].values())
        assert all(s == {"installation_mode": "force_installed", "update_url": URL, "override_update_url": True}
                   for s in settings.values())
        assert values["NativeMessagingUserLevelHosts"] == "dword:00000000"
        assert keys[f"HKEY_LOCAL_MACHINE\\{key}\\NativeMessagingAllowlist"] == {"1": '"org.resocket.host"'}


def test_the_mobileconfig_has_one_payload_per_browser_domain(fleet: dict) -> None:
    profile = plistlib.loads((fleet["out"] / "policy/macos/resocket-fleet-2026.mobileconfig").read_bytes())
    assert profile["PayloadType"] == "Configuration" and profile["PayloadScope"] == "System"
    domains = {p["PayloadType"]: p for p in profile["PayloadContent"]}
    assert set(domains) == {"com.google.Chrome", "org.chromium.Chromium", "com.microsoft.Edge", "com.brave.Browser"}
    uuids = {profile["PayloadUUID"], *(p["PayloadUUID"] for p in domains.values())}
    assert len(uuids) == 5
    for payload in domains.values():
        assert set(payload["ExtensionSettings"]) == set(fleet["ids"].values())
        assert payload["NativeMessagingAllowlist"] == ["org.resocket.host"]
        assert payload["NativeMessagingUserLevelHosts"] is False


def test_one_update_server_serves_every_extension_of_the_bundle(fleet: dict) -> None:
    out = fleet["out"]
    apps = ET.parse(out / "updates.xml").getroot().findall(f"{NS}app")
    served = {app.get("appid"): app.find(f"{NS}updatecheck") for app in apps}
    assert set(served) == set(fleet["ids"].values())
    for appid, check in served.items():
        name = check.get("codebase").rsplit("/", 1)[1]
        assert check.get("codebase") == f"https://intranet.example/fleet/{name}" and check.get("version") == "1.0"
        assert appid[:8] in name  # unique per extension, even for folders of one name
        with zipfile.ZipFile(io.BytesIO(crx_zip(out / name))) as zf:
            assert json.loads(zf.read("manifest.json"))["update_url"] == URL


def crx_zip(path: Path) -> bytes:
    """The zip after a CRX3's "Cr24", version and header (tests/test_crx.py checks the header itself)."""
    data = path.read_bytes()
    header = int.from_bytes(data[8:12], "little")
    return data[12 + header:]


def test_packing_a_new_version_replaces_its_entry_and_keeps_the_others(fleet: dict, tmp_path: Path) -> None:
    out = tmp_path / "fleet-2026"
    shutil.copytree(fleet["out"], out)
    ext = make_extension(tmp_path / "legacy-app", "legacy-app", "1.1")
    result = pack(ext, fleet["root"] / "legacy-app.pem", out, "--update-url", URL)
    assert result.returncode == 0, result.stderr
    versions = {app.get("appid"): app.find(f"{NS}updatecheck").get("version")
                for app in ET.parse(out / "updates.xml").getroot().findall(f"{NS}app")}
    assert versions == {fleet["ids"]["resocket"]: "1.0", fleet["ids"]["legacy-app"]: "1.1"}
    assert "and 1 more packed into" in result.stdout
    bundle = json.loads((out / "bundle.json").read_text())
    assert bundle["system_hosts_only"] is True  # kept from the first packs


def test_a_bundle_has_one_update_url(fleet: dict, tmp_path: Path) -> None:
    out = tmp_path / "b"
    shutil.copytree(fleet["out"], out)
    result = pack(fleet["root"] / "resocket", fleet["root"] / "resocket.pem", out,
                  "--update-url", "https://elsewhere.example/updates.xml")
    assert result.returncode == 1
    assert f"is served at {URL}" in result.stderr and "into another folder" in result.stderr


def test_a_broken_bundle_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "bundle.json").write_text("{not json")
    with pytest.raises(policy.BundleError, match="cannot be read"):
        policy.load_bundle(tmp_path / "b", URL, False)


def test_policy_values_without_system_hosts_only_leave_user_hosts_alone() -> None:
    bundle = policy.Bundle("x", URL, (policy.Packed("a" * 32, "n", "1", "n-1.crx"),))
    values = policy.policy_values(bundle)
    assert "NativeMessagingUserLevelHosts" not in values
    assert values["ExtensionSettings"] == {"a" * 32: {"installation_mode": "force_installed", "update_url": URL,
                                                      "override_update_url": True}}
    assert policy.policy_files(bundle) == policy.policy_files(bundle)  # deterministic


def test_page_origins_join_the_resocket_extensions_page_scripts() -> None:
    manifest = json.loads((Path(__file__).resolve().parents[1] / "extension/manifest.json").read_text())
    packed = policy.with_page_origins(manifest, ["https://Intranet.example:8443", "http://[::2]:80"])
    for entry in packed["content_scripts"]:
        assert entry["matches"][-2:] == ["https://intranet.example/*", "http://[::2]/*"]
    assert manifest["content_scripts"][0]["matches"][-1] == "https://[::1]/*"  # the source is left alone
    with pytest.raises(policy.BundleError, match="neither"):
        policy.with_page_origins({"manifest_version": 3}, ["https://a.example"])
    with pytest.raises(ValueError):
        policy.with_page_origins(manifest, ["https://a.example/path"])
