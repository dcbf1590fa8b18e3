"""CRX3 packages and extension IDs (resocket/cli/crx.py), checked with an independent CRX3 reader."""
from __future__ import annotations

import hashlib
import io
import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from resocket import EXTENSION_ID
from resocket.cli import crx

cryptography = pytest.importorskip("cryptography")
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

# The public key committed in extension/manifest.json (it pins the ID resocket.EXTENSION_ID).
RESOCKET_PUBKEY = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA3iwiUPw+j/Qg7UrWTxNa6BueRpPT+tFGQadxvPNStVnUk4L+1Y8D6kb+LY22"
    "VSHmFolJ/pEibyO10wusc7aqXVseRZDYJulg+gFDI/VDFjf15BnWcnO1lCQR2Q9Y/RG7Isy57jauv0glYok1ZFQ0vtAEuapHn3gFkZLp"
    "6f+rWZASibotrf3eEqGMU/Jo8/y7Ho0MVxZgaX/JI42OXKzKxOWQfprmO5hjR/PRU/I99T4I5xN3uKtmYoHukyYs7Wa8kflCKjtnvrfH"
    "iO3J0nRO8NhjV9xG6WFAgqnPztlU9zZ7VZDX/8boFbhJsZ1WiL4VJ/sRZk0v/BcK6bpAfD5BYwIDAQAB"
)


# -- an independent reader: CRX3 container + the protobuf wire format, written from the spec ------

def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def read_fields(buf: bytes) -> list[tuple[int, bytes]]:
    """(field number, value) for every length-delimited field; any other wire type fails the test."""
    fields, pos = [], 0
    while pos < len(buf):
        tag, pos = read_varint(buf, pos)
        assert tag & 7 == 2, f"unexpected wire type {tag & 7}"
        length, pos = read_varint(buf, pos)
        fields.append((tag >> 3, buf[pos:pos + length]))
        pos += length
    assert pos == len(buf)
    return fields


def parse_crx3(data: bytes) -> dict:
    assert data[:4] == b"Cr24"
    version, header_len = struct.unpack("<II", data[4:12])
    header = data[12:12 + header_len]
    fields = read_fields(header)
    proofs = [dict(read_fields(v)) for n, v in fields if n == 2]
    signed = [v for n, v in fields if n == 10000]
    assert len(signed) == 1
    return {"version": version, "proofs": proofs, "signed_header_data": signed[0],
            "signed_data": dict(read_fields(signed[0])), "zip": data[12 + header_len:]}


# -- fixtures ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def key():
    return crx.generate_private_key()


@pytest.fixture
def extension(tmp_path: Path) -> Path:
    ext = tmp_path / "ext"
    (ext / "lib").mkdir(parents=True)
    (ext / "manifest.json").write_text(json.dumps(
        {"manifest_version": 3, "name": "t", "version": "1.0", "key": RESOCKET_PUBKEY}))
    (ext / "background.js").write_text("// sw\n")
    (ext / "lib" / "chrome-socket.js").write_text("// shim\n")
    (ext / ".git").mkdir()
    (ext / ".git" / "HEAD").write_text("ref\n")
    (ext / "signing.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    return ext


def pack(extension: Path, key, **kw) -> bytes:
    manifest = crx.packed_manifest(crx.read_manifest(extension), **kw)
    return crx.build_crx3(crx.zip_extension(extension, manifest), key)


# -- IDs --------------------------------------------------------------------------------------------

def test_resocket_public_key_gives_the_pinned_extension_id():
    assert crx.extension_id(crx.spki_from_b64(RESOCKET_PUBKEY)) == EXTENSION_ID == "flgdmcpaemonpacjpigcafobmllikoco"


def test_committed_extension_manifest_key_gives_the_pinned_id():
    manifest = Path(__file__).resolve().parents[1] / "extension" / "manifest.json"
    assert crx.extension_id(crx.spki_from_manifest(manifest)) == EXTENSION_ID


def test_extension_id_maps_hex_digits_to_letters_a_to_p():
    spki = b"0\x00any bytes"
    hexdigits = hashlib.sha256(spki).hexdigest()[:32]
    assert crx.extension_id(spki) == hexdigits.translate(str.maketrans("0123456789abcdef", "abcdefghijklmnop"))


def test_manifest_without_key_is_explained(tmp_path: Path):
    (tmp_path / "manifest.json").write_text('{"name": "x"}')
    with pytest.raises(crx.ExtensionKeyError, match="no \"key\""):
        crx.spki_from_manifest(tmp_path / "manifest.json")


def test_garbage_public_key_is_refused():
    with pytest.raises(crx.ExtensionKeyError):
        crx.spki_from_b64("not base64 at all!")
    with pytest.raises(crx.ExtensionKeyError, match="SubjectPublicKeyInfo"):
        crx.spki_from_b64("aGVsbG8=")


# -- CRX3 -------------------------------------------------------------------------------------------

def test_crx3_header_holds_one_rsa_proof_and_the_crx_id(extension, key):
    spki = crx.public_key_der(key)
    parsed = parse_crx3(pack(extension, key))
    assert parsed["version"] == 3
    assert len(parsed["proofs"]) == 1
    assert parsed["proofs"][0][1] == spki
    assert parsed["signed_data"] == {1: hashlib.sha256(spki).digest()[:16]}


def test_the_reader_convert_app_uses_gets_back_the_key_and_zip_pack_wrote(extension, key):
    data = pack(extension, key)
    assert crx.parse_crx(data) == (crx.public_key_der(key), parse_crx3(data)["zip"], 3)
    with pytest.raises(crx.CrxFormatError, match="header runs past the end"):
        crx.parse_crx(data[:40])
    with pytest.raises(crx.CrxFormatError, match="unsupported CRX version 4"):
        crx.parse_crx(b"Cr24" + (4).to_bytes(4, "little") + bytes(8))


def test_crx3_signature_verifies_over_context_signed_data_and_zip(extension, key):
    parsed = parse_crx3(pack(extension, key))
    proof = parsed["proofs"][0]
    public = serialization.load_der_public_key(proof[1])
    shd = parsed["signed_header_data"]
    message = b"CRX3 SignedData\x00" + struct.pack("<I", len(shd)) + shd + parsed["zip"]
    public.verify(proof[2], message, padding.PKCS1v15(), hashes.SHA256())  # raises if wrong
    with pytest.raises(cryptography.exceptions.InvalidSignature):
        public.verify(proof[2], message + b"x", padding.PKCS1v15(), hashes.SHA256())


def test_crx_id_in_header_maps_to_the_extension_id_of_the_signing_key(extension, key):
    parsed = parse_crx3(pack(extension, key))
    letters = "".join(chr(ord("a") + int(c, 16)) for c in parsed["signed_data"][1].hex())
    assert letters == crx.extension_id(crx.public_key_der(key))


def test_zip_holds_the_extension_without_dotfiles_private_keys_or_manifest_key(extension, key):
    parsed = parse_crx3(pack(extension, key, version="1.2.3", update_url="https://example.test/u.xml"))
    with zipfile.ZipFile(io.BytesIO(parsed["zip"])) as zf:
        assert sorted(zf.namelist()) == ["background.js", "lib/chrome-socket.js", "manifest.json"]
        assert zf.read("lib/chrome-socket.js") == b"// shim\n"
        manifest = json.loads(zf.read("manifest.json"))
    assert "key" not in manifest
    assert manifest["version"] == "1.2.3"
    assert manifest["update_url"] == "https://example.test/u.xml"
    assert manifest["name"] == "t"


def test_packing_twice_gives_the_same_zip(extension, key):
    assert parse_crx3(pack(extension, key))["zip"] == parse_crx3(pack(extension, key))["zip"]


def test_updates_xml_names_each_apps_codebase_and_version():
    import xml.etree.ElementTree as ET

    root = ET.fromstring(crx.updates_xml([("abcdefghijklmnopabcdefghijklmnop", "https://h/x.crx?a=1&b=2", "1.0"),
                                          ("ponmlkjihgfedcbaponmlkjihgfedcba", "https://h/y.crx", "2.3.4")]))
    ns = "{http://www.google.com/update2/response}"
    assert root.tag == f"{ns}gupdate" and root.get("protocol") == "2.0"
    apps = {app.get("appid"): app.find(f"{ns}updatecheck") for app in root.findall(f"{ns}app")}
    assert {appid: (check.get("codebase"), check.get("version")) for appid, check in apps.items()} == {
        "abcdefghijklmnopabcdefghijklmnop": ("https://h/x.crx?a=1&b=2", "1.0"),
        "ponmlkjihgfedcbaponmlkjihgfedcba": ("https://h/y.crx", "2.3.4")}


def test_importing_cli_and_crx_does_not_import_cryptography():
    code = "import sys, resocket.cli, resocket.cli.crx; print('cryptography' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# -- a real Chromium installs what `resocket pack` writes ---------------------------------------------

CHROMIUM = Path("/usr/lib/chromium/chromium")
# Runs in a private user + mount + network namespace: the policy folder bind-mounted over /etc/chromium
# exists only for this Chromium, so browsers other tests start at the same time never see the policy.
FORCE_INSTALL_SCRIPT = r"""
set -eu
tmp=$1; id=$2
ip link set lo up
mkdir -p "$tmp/etc/policies/managed"
cp "$tmp"/out/policy/linux/etc/chromium/policies/managed/*.json "$tmp/etc/policies/managed/"
mount --bind "$tmp/etc" /etc/chromium
"$3" --headless=new --no-sandbox --disable-gpu --no-first-run --no-default-browser-check --disable-sync \
    --disable-component-update --user-data-dir="$tmp/udd" about:blank >"$tmp/chromium.log" 2>&1 &
pid=$!
i=0
while [ ! -f "$tmp/udd/Default/Extensions/$id/2.5_0/manifest.json" ] && [ $i -lt 120 ]; do
    sleep 0.25; i=$((i + 1))
done
kill $pid; wait $pid || true
"""


def test_chromium_force_installs_the_packed_crx_by_policy(tmp_path: Path, key):
    if not CHROMIUM.exists() or not Path("/etc/chromium").is_dir():
        pytest.skip("Debian's Chromium is not installed")
    if subprocess.run(["unshare", "-rnm", "true"], capture_output=True, check=False).returncode != 0:
        pytest.skip("no user/mount namespaces here")
    ext = tmp_path / "ext"
    ext.mkdir()
    (ext / "manifest.json").write_text(json.dumps(
        {"manifest_version": 3, "name": "crx test", "version": "1.0", "background": {"service_worker": "sw.js"}}))
    (ext / "sw.js").write_text("// packed by resocket\n")
    (tmp_path / "k.pem").write_bytes(crx.private_key_pem(key))
    from resocket.cli import main

    assert main(["pack", str(ext), "--key", str(tmp_path / "k.pem"), "--out", str(tmp_path / "out"),
                 "--version", "2.5"]) == 0
    spki = crx.public_key_der(key)
    appid = crx.extension_id(spki)
    subprocess.run(["unshare", "-rnm", "sh", "-c", FORCE_INSTALL_SCRIPT, "sh", str(tmp_path), appid, str(CHROMIUM)],
                   check=True, timeout=120)
    installed = tmp_path / "udd" / "Default" / "Extensions" / appid / "2.5_0"
    assert (installed / "sw.js").read_text() == "// packed by resocket\n", (tmp_path / "chromium.log").read_text()
    # Chromium unpacks only a CRX whose signature verified, and writes its public key into the manifest.
    assert json.loads((installed / "manifest.json").read_text())["key"] == crx.manifest_key_value(spki)
