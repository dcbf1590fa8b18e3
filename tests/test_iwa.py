"""`resocket convert-app --target iwa` and its signed web bundle: the bytes are parsed back and checked.

The web bundle (b2) and the integrity block (v2) are written by resocket.cli.webbundle with its own CBOR encoder;
these tests read them back with an independent walk of the bytes (major types, lengths, offsets), verify the
Ed25519 signature with `cryptography`, and check that the bundle ID is the key's, so a broken encoder cannot
agree with itself. Installing a signed bundle in Chromium could not be made to work on this machine
(docs/chromeos.md, "What could not be tested here"); the dev-mode proxy of the same files is tested in
tests/e2e/test_iwa.py.
"""
from __future__ import annotations

import base64
import hashlib
import json
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from resocket import cli
from resocket.cli import convert, iwa, webbundle
from resocket.cli.webbundle import BundleError

REPO = Path(__file__).resolve().parents[1]
ECHO_APP = REPO / "examples" / "echo-app"
MULTICAST_APP = REPO / "examples" / "multicast-chat"


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def head(data: bytes, pos: int) -> tuple[int, int, int]:
    """(major type, argument, position after the head) of the CBOR item at `pos`, read independently."""
    first = data[pos]
    major, info = first >> 5, first & 31
    if info < 24:
        return major, info, pos + 1
    size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
    value = int.from_bytes(data[pos + 1:pos + 1 + size], "big")
    assert value >= (24 if size == 1 else 1 << (4 * size)), "not the shortest form (deterministic CBOR)"
    return major, value, pos + 1 + size


# -- CBOR ----------------------------------------------------------------------------------------------------
def test_cbor_is_deterministic_shortest_lengths_and_sorted_map_keys() -> None:
    assert webbundle.cbor(0) == b"\x00" and webbundle.cbor(23) == b"\x17" and webbundle.cbor(24) == b"\x18\x18"
    assert webbundle.cbor(256) == b"\x19\x01\x00" and webbundle.cbor(1 << 32) == b"\x1b" + (1 << 32).to_bytes(8, "big")
    assert webbundle.cbor("a") == b"\x61a" and webbundle.cbor(b"\x00") == b"\x41\x00"
    # RFC 8949 4.2.1: keys sorted by their encoded bytes, so a shorter key comes first.
    assert webbundle.cbor({"bb": 1, "a": 2, "c": 3}) == b"\xa3\x61a\x02\x61c\x03\x62bb\x01"
    with pytest.raises(TypeError):
        webbundle.cbor(-1)
    with pytest.raises(TypeError):
        webbundle.cbor(True)


def test_cbor_decode_reads_back_what_it_writes_and_refuses_truncation() -> None:
    value = {"list": [1, b"\xff" * 300, "é"], "n": 70000}
    data = webbundle.cbor(value)
    assert webbundle.cbor_decode(data) == (value, len(data))
    with pytest.raises(BundleError):
        webbundle.cbor_decode(data[:-1])


# -- the web bundle ------------------------------------------------------------------------------------------
def test_web_bundle_has_the_b2_layout_and_its_index_points_at_each_response() -> None:
    resources = {"/": ("text/html", b"<p>home"), "/app.js": ("text/javascript", b"go()" * 100),
                 "/.well-known/manifest.webmanifest": ("application/manifest+json", b"{}")}
    data = webbundle.web_bundle(resources)
    major, count, pos = head(data, 0)
    assert (major, count) == (4, 5)  # [magic, version, section-lengths, sections, length]
    assert data[pos:pos + 9] == b"\x48" + "🌐📦".encode() and data[pos + 9:pos + 14] == b"\x44b2\x00\x00"
    assert struct.unpack(">Q", data[-8:])[0] == len(data) and data[-9] == 0x48
    parsed = webbundle.read_web_bundle(data)
    assert {url: payload for url, (_, payload) in parsed.items()} == {u: p for u, (_, p) in resources.items()}
    assert parsed["/app.js"][0] == {b":status": b"200", b"content-type": b"text/javascript"}
    # The index's offsets count from the start of the responses section, its own array head included.
    top, _ = webbundle.cbor_decode(data)
    index, responses = top[3]
    section = webbundle.cbor(responses)
    for url, (offset, length) in index.items():
        item, end = webbundle.cbor_decode(section, offset)
        assert end - offset == length and item[1] == resources[url][1]


def test_read_web_bundle_refuses_a_wrong_length_or_version() -> None:
    data = bytearray(webbundle.web_bundle({"/": ("text/plain", b"x")}))
    data[-1] ^= 1
    with pytest.raises(BundleError, match="length"):
        webbundle.read_web_bundle(bytes(data))
    with pytest.raises(BundleError, match="b2"):
        webbundle.read_web_bundle(bytes(webbundle.web_bundle({"/": ("text/plain", b"x")})).replace(b"b2\x00\x00", b"b1\x00\x00"))


# -- signing ---------------------------------------------------------------------------------------------------
def test_bundle_id_is_the_base32_of_the_public_key_and_the_ed25519_suffix(key: Ed25519PrivateKey) -> None:
    public = webbundle.raw_public_key(key)
    bundle_id = webbundle.web_bundle_id(public)
    assert len(bundle_id) == 56 and bundle_id == bundle_id.lower() and bundle_id.endswith("aaic")
    assert base64.b32decode(bundle_id.upper()) == public + b"\x00\x01\x02"


def test_signed_bundle_is_an_integrity_block_then_the_bundle_and_its_signature_verifies(key: Ed25519PrivateKey) -> None:
    bundle = webbundle.web_bundle({"/": ("text/html", b"hi")})
    signed = webbundle.sign_bundle(bundle, key)
    assert signed.endswith(bundle)
    block_bytes = signed[:-len(bundle)]
    block, end = webbundle.cbor_decode(block_bytes)
    assert end == len(block_bytes)
    magic, version, attributes, stack = block
    assert magic == "🖋📦".encode() and version == b"2b\x00\x00"
    public = webbundle.raw_public_key(key)
    assert attributes == {"webBundleId": webbundle.web_bundle_id(public)}
    [[signature_attributes, signature]] = stack
    assert signature_attributes == {"ed25519PublicKey": public} and len(signature) == 64
    # What was signed, rebuilt here from the spec: length-prefixed SHA-512 of the bundle, the block with an
    # empty signature stack, the signature's attributes.
    parts = [hashlib.sha512(bundle).digest(), webbundle.cbor([magic, version, attributes, []]),
             webbundle.cbor(signature_attributes)]
    key.public_key().verify(signature, b"".join(struct.pack(">Q", len(p)) + p for p in parts))
    assert webbundle.verify_signed_bundle(signed) == attributes["webBundleId"]


def test_a_changed_byte_or_a_foreign_id_fails_verification(key: Ed25519PrivateKey) -> None:
    signed = bytearray(webbundle.sign_bundle(webbundle.web_bundle({"/": ("text/html", b"hi")}), key))
    signed[-20] ^= 1
    with pytest.raises(BundleError, match="signature"):
        webbundle.verify_signed_bundle(bytes(signed))
    other = webbundle.web_bundle_id(webbundle.raw_public_key(Ed25519PrivateKey.generate()))
    mine = webbundle.web_bundle_id(webbundle.raw_public_key(key))
    forged = webbundle.sign_bundle(webbundle.web_bundle({"/": ("text/html", b"hi")}), key).replace(
        mine.encode(), other.encode())
    with pytest.raises(BundleError, match="not the ID"):
        webbundle.verify_signed_bundle(forged)


# -- the conversion ---------------------------------------------------------------------------------------------
def scripts() -> dict[str, bytes]:
    from resocket.cli.iwa_cli import iwa_scripts
    return iwa_scripts()


def test_convert_iwa_injects_the_backend_before_the_shim_and_writes_the_manifest(key: Ed25519PrivateKey) -> None:
    conv = iwa.convert_iwa(convert.read_source(ECHO_APP), scripts(), key)
    page = conv.files["index.html"].decode()
    order = [page.index(f"/{name}") for name in iwa.PAGE_SCRIPTS]
    assert order == sorted(order) and order[-1] < page.index("main.js")
    manifest = json.loads(conv.files[iwa.MANIFEST_PATH])
    assert manifest["id"] == "/" and manifest["start_url"] == "/resocket/background.html"
    assert set(manifest["permissions_policy"]) == set(iwa.POLICY_FEATURES)  # no multicast: the app joins no group
    assert conv.files[iwa.ICON_FILE].startswith(b"\x89PNG") and manifest["icons"][0]["src"] == "/" + iwa.ICON_FILE
    served = webbundle.read_web_bundle(webbundle.inspect_signed_bundle(conv.signed_bundle)[3])
    assert {url[1:]: payload for url, (_, payload) in served.items()} == conv.files
    assert served["/index.html"][0][b"content-type"] == b"text/html; charset=utf-8"


def test_an_app_that_joins_groups_gets_the_multicast_feature(key: Ed25519PrivateKey) -> None:
    conv = iwa.convert_iwa(convert.read_source(MULTICAST_APP), scripts(), key)
    assert iwa.MULTICAST_FEATURE in json.loads(conv.files[iwa.MANIFEST_PATH])["permissions_policy"]


def test_the_report_says_what_an_iwa_lacks_and_stubs_it(key: Ed25519PrivateKey, tmp_path: Path) -> None:
    files = {"manifest.json": json.dumps({"manifest_version": 2, "name": "S", "version": "2",
                                          "app": {"background": {"scripts": ["bg.js"]}},
                                          "permissions": ["storage", {"socket": ["tcp-connect"]}]}),
             "bg.js": "chrome.storage.local.get('x', function(){}); chrome.socket.create('tcp', {}, function(){});"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    conv = iwa.convert_iwa(convert.read_source(tmp_path), scripts(), key)
    status = {u.name: (u.status, u.how) for u in conv.report.apis}
    assert status["chrome.storage.local.get"] == (convert.MISSING, "not available in an Isolated Web App")
    assert status["chrome.socket.create"][1] == "resocket over Direct Sockets, in the page"
    assert "storage" in conv.files[convert.CONFIG_FILE].decode()


def test_cli_target_iwa_keeps_one_key_per_app_and_prints_the_url_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("RESOCKET_CONFIG_DIR", str(tmp_path / "config"))
    assert cli.main(["convert-app", str(ECHO_APP), str(tmp_path / "a"), "--target", "iwa"]) == 0
    first = capsys.readouterr().out.splitlines()[-1]
    assert cli.main(["convert-app", str(ECHO_APP), str(tmp_path / "a"), "--target", "iwa"]) == 0  # replaced
    assert capsys.readouterr().out.splitlines()[-1] == first
    bundle_id = first.removeprefix("isolated-app://").rstrip("/")
    assert webbundle.verify_signed_bundle((tmp_path / "a.swbn").read_bytes()) == bundle_id
    [pem] = (tmp_path / "config" / "app-keys").glob("*.ed25519.pem")
    assert pem.stat().st_mode & 0o077 == 0
    # --key: another Ed25519 key gives another ID; an RSA key is refused with a reason.
    other = tmp_path / "other.pem"
    other.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    assert cli.main(["convert-app", str(ECHO_APP), str(tmp_path / "b"), "--target", "iwa", "--key", str(other)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] != first
    from resocket.cli import crx
    rsa = tmp_path / "rsa.pem"
    crx.write_private_key(rsa, crx.generate_private_key())
    assert cli.main(["convert-app", str(ECHO_APP), str(tmp_path / "c"), "--target", "iwa", "--key", str(rsa)]) == 1
    assert "not an Ed25519 private key" in capsys.readouterr().err


def test_cli_target_iwa_refuses_a_folder_that_is_not_a_conversion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("RESOCKET_CONFIG_DIR", str(tmp_path / "config"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep me")
    assert cli.main(["convert-app", str(ECHO_APP), str(tmp_path / "out"), "--target", "iwa"]) == 1
    assert "not a previous conversion" in capsys.readouterr().err
    assert (tmp_path / "out" / "mine.txt").read_text() == "keep me" and not (tmp_path / "out.swbn").exists()
