"""`resocket extension-id`, `keygen` and `pack`, run as a user runs them (a real process)."""
from __future__ import annotations

import json
import shlex
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest
from resocket import EXTENSION_ID
from test_crx import RESOCKET_PUBKEY, parse_crx3

pytest.importorskip("cryptography")

REPO = Path(__file__).resolve().parents[1]
NS = "{http://www.google.com/update2/response}"


def resocket(*args: str, cwd: Path | None = None, pre: str = "") -> subprocess.CompletedProcess:
    code = f"{pre}\nimport sys\nfrom resocket.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], check=False, capture_output=True, text=True,
                          cwd=cwd, timeout=60)


@pytest.fixture
def extension(tmp_path: Path) -> Path:
    ext = tmp_path / "my-ext"
    ext.mkdir()
    (ext / "manifest.json").write_text(json.dumps(
        {"manifest_version": 3, "name": "t", "version": "0.3", "key": RESOCKET_PUBKEY}))
    (ext / "sw.js").write_text("// sw\n")
    return ext


def test_extension_id_of_a_public_key():
    r = resocket("extension-id", "--pubkey", RESOCKET_PUBKEY)
    assert (r.returncode, r.stdout) == (0, EXTENSION_ID + "\n")


def test_extension_id_of_the_committed_manifest():
    manifest = REPO / "extension" / "manifest.json"
    r = resocket("extension-id", "--manifest", str(manifest))
    assert (r.returncode, r.stdout) == (0, EXTENSION_ID + "\n")


def test_extension_id_of_a_manifest_without_key_fails_with_a_reason(tmp_path: Path):
    (tmp_path / "manifest.json").write_text('{"name": "x"}')
    r = resocket("extension-id", "--manifest", str(tmp_path / "manifest.json"))
    assert r.returncode == 1
    assert 'no "key"' in r.stderr and r.stdout == ""


def test_extension_id_needs_a_source():
    r = resocket("extension-id")
    assert r.returncode == 2
    assert "one of the arguments" in r.stderr


def test_keygen_writes_a_private_pkcs8_key_and_prints_its_id(tmp_path: Path):
    r = resocket("keygen", "k.pem", "--print-manifest-key", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    pem = tmp_path / "k.pem"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert pem.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")
    lines = r.stdout.splitlines()
    assert lines[0].startswith("extension ID: ")
    printed_id = lines[0].split(": ", 1)[1]
    assert resocket("extension-id", "--key", str(pem)).stdout.strip() == printed_id
    key_value = json.loads("{" + lines[1] + "}")["key"]
    assert resocket("extension-id", "--pubkey", key_value).stdout.strip() == printed_id


def test_keygen_refuses_to_overwrite_a_key(tmp_path: Path):
    (tmp_path / "k.pem").write_text("precious")
    r = resocket("keygen", str(tmp_path / "k.pem"))
    assert r.returncode == 1 and "not overwriting" in r.stderr
    assert (tmp_path / "k.pem").read_text() == "precious"


def test_pack_writes_crx_update_manifest_and_the_policy_bundle(tmp_path: Path, extension: Path):
    assert resocket("keygen", str(tmp_path / "k.pem")).returncode == 0
    appid = resocket("extension-id", "--key", str(tmp_path / "k.pem")).stdout.strip()
    out = tmp_path / "out"
    r = resocket("pack", str(extension), "--key", str(tmp_path / "k.pem"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    # The manifest's key is resocket's, the package is signed with another: the user is told.
    assert EXTENSION_ID in r.stderr and appid in r.stderr

    chromium = out / "policy/linux/etc/chromium/policies/managed/resocket-out.json"
    policy = json.loads(chromium.read_text())
    update_url = (out / "updates.xml").resolve().as_uri()
    assert policy == {"ExtensionSettings": {appid: {"installation_mode": "force_installed", "update_url": update_url,
                                                    "override_update_url": True}},
                      "NativeMessagingAllowlist": ["org.resocket.host"]}
    assert str(chromium) in r.stdout and str(out / "policy/windows/resocket-out.reg") in r.stdout

    check = ET.parse(out / "updates.xml").getroot().find(f"{NS}app/{NS}updatecheck")
    assert check is not None and check.get("version") == "0.3"
    crx_path = Path(url2pathname(urlparse(check.get("codebase", "")).path))
    assert crx_path == out / f"my-ext-{appid[:8]}-0.3.crx"
    assert parse_crx3(crx_path.read_bytes())["version"] == 3


def test_pack_with_update_url_serves_crx_beside_updates_xml(tmp_path: Path, extension: Path):
    resocket("keygen", str(tmp_path / "k.pem"))
    r = resocket("pack", str(extension), "--key", str(tmp_path / "k.pem"), "--out", str(tmp_path / "o"),
                 "--update-url", "https://example.test/resocket/updates.xml", "--version", "2.0.1")
    assert r.returncode == 0, r.stderr
    app = ET.parse(tmp_path / "o" / "updates.xml").getroot().find(f"{NS}app")
    assert app is not None
    check = app.find(f"{NS}updatecheck")
    assert check is not None
    appid = app.get("appid", "")
    assert check.get("codebase") == f"https://example.test/resocket/my-ext-{appid[:8]}-2.0.1.crx"
    assert check.get("version") == "2.0.1"
    assert (tmp_path / "o" / f"my-ext-{appid[:8]}-2.0.1.crx").exists()


def test_pack_refuses_a_version_chrome_would_reject(tmp_path: Path, extension: Path):
    resocket("keygen", str(tmp_path / "k.pem"))
    r = resocket("pack", str(extension), "--key", str(tmp_path / "k.pem"), "--out", str(tmp_path / "o"),
                 "--version", "1.0-beta")
    assert r.returncode == 1 and "dot-separated integers" in r.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_commands_needing_cryptography_say_how_to_install_it(tmp_path: Path, extension: Path):
    block = "import sys; sys.modules['cryptography'] = None"
    r = resocket("keygen", str(tmp_path / "k.pem"), pre=block)
    assert r.returncode == 1
    # The fix names this very interpreter, so it installs where resocket runs (no extra that pip cannot find).
    assert f'{shlex.quote(sys.executable)} -m pip install "cryptography>=41"' in r.stderr
    assert "resocket[" not in r.stderr
    assert not (tmp_path / "k.pem").exists()
    # IDs from public keys need no cryptography.
    r = resocket("extension-id", "--pubkey", RESOCKET_PUBKEY, pre=block)
    assert r.stdout.strip() == EXTENSION_ID
