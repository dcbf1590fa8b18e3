"""Extension keys, IDs and CRX packages: writing CRX3 (pack) and reading CRX2/CRX3 (convert-app).

Design rules:
- Rule 1: the host never imports this module, and this module never imports `cryptography` at import
  time. Only signing and key generation need it (`_crypto()`); IDs from a public key are hashlib only.
- Rule 2: the CRX3 container is written by hand, byte for byte, from Chromium's format
  (components/crx_file/crx3.proto, crx_creator.cc); no protobuf dependency.
- Rule 3: packing is deterministic: same directory + same key -> same zip bytes (sorted entries,
  fixed timestamps), so a package can be rebuilt and compared.

CRX3 layout (crx_file/crx3.proto, crx_verifier.cc):

    "Cr24" | le32 version = 3 | le32 header_size | CrxFileHeader (header_size bytes) | zip archive

    CrxFileHeader { repeated AsymmetricKeyProof sha256_with_rsa = 2;   // {public_key = 1, signature = 2}
                    bytes signed_header_data = 10000; }                 // a serialized SignedData
    SignedData    { bytes crx_id = 1; }                                 // first 16 bytes of SHA-256(SPKI)

    signature = RSA PKCS#1 v1.5 SHA-256 over
        "CRX3 SignedData\\x00" | le32 len(signed_header_data) | signed_header_data | zip archive

CRX2, read only (legacy apps were shipped so): "Cr24" | le32 2 | le32 key_len | le32 sig_len | key (SPKI
DER) | signature | zip. Reading checks the layout and finds the key; it does not verify signatures (a
converted app gets its key so that its ID stays, not because the file is trusted).
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shlex
import struct
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

CRX_MAGIC = b"Cr24"
CRX_VERSION = 3
# crx_verifier.cc: the signature covers this context string (with its NUL) before the signed data.
SIGNATURE_CONTEXT = b"CRX3 SignedData\x00"
# crx3.proto field numbers.
FIELD_SHA256_WITH_RSA = 2
FIELD_SHA256_WITH_ECDSA = 3
FIELD_SIGNED_HEADER_DATA = 10000
FIELD_PROOF_PUBLIC_KEY = 1
FIELD_PROOF_SIGNATURE = 2
FIELD_SIGNED_DATA_CRX_ID = 1
# Chrome Web Store and `chrome --pack-extension` use RSA-2048.
KEY_BITS = 2048
# zip's earliest representable time; used for every entry so the archive is reproducible.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def crypto_hint() -> str:
    """How to get `cryptography` back, for the way this resocket was installed. It is a dependency of every
    install (pip, .deb, bundles), so it is missing only from a broken or hand-made environment."""
    if getattr(sys, "frozen", False):
        # PyInstaller bundle (.deb, tarball, zip): the CLI half carries cryptography (installer/resocket.spec).
        return ("this command needs the 'cryptography' package, which this resocket bundle lacks: "
                "reinstall resocket from its package (.deb, tarball or zip)")
    # The interpreter running resocket, so pip installs into the same environment (venv, user or system).
    python = sys.executable or "python3"
    python = f'"{python}"' if os.name == "nt" and " " in python else shlex.quote(python)
    # Double quotes: the requirement reads the same in sh, cmd.exe and PowerShell.
    return ("this command needs the 'cryptography' package (a dependency of resocket, missing here): "
            f'{python} -m pip install "cryptography>=41"')


class CryptoMissing(RuntimeError):
    """`cryptography` is not installed; the message says how to get it."""


class ExtensionKeyError(ValueError):
    """A key, manifest or extension directory that cannot be used; the message says why."""


class CrxFormatError(ValueError):
    """A file that is not a CRX we can read; the message says what is wrong and what to do."""


# -- IDs ----------------------------------------------------------------------------------------------

def crx_id(spki_der: bytes) -> bytes:
    """The 16-byte CRX ID: the first half of SHA-256 over the DER SubjectPublicKeyInfo."""
    return hashlib.sha256(spki_der).digest()[:16]


def extension_id(spki_der: bytes) -> str:
    """Chromium's extension ID: the CRX ID in hex with the digits 0-f written as the letters a-p."""
    return "".join(chr(ord("a") + int(c, 16)) for c in crx_id(spki_der).hex())


def spki_from_b64(text: str) -> bytes:
    """Decode a manifest `key` value (base64 DER SubjectPublicKeyInfo), tolerating whitespace."""
    cleaned = "".join(text.split())
    try:
        der = base64.b64decode(cleaned, validate=True)
    except ValueError as exc:
        raise ExtensionKeyError(f"not valid base64: {exc}") from None
    # A DER SEQUENCE starts with 0x30; anything else is not a public key (catches pasted PEM bodies of
    # private keys only partly, but catches text and hex).
    if not der or der[0] != 0x30:
        raise ExtensionKeyError("not a DER SubjectPublicKeyInfo (expected a base64 public key)")
    return der


def spki_from_manifest(path: str | os.PathLike[str]) -> bytes:
    try:
        manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExtensionKeyError(f"cannot read {path}: {exc}") from None
    key = manifest.get("key") if isinstance(manifest, dict) else None
    if not isinstance(key, str):
        raise ExtensionKeyError(f'{path} has no "key": its unpacked ID depends on the folder it is loaded from')
    return spki_from_b64(key)


def spki_from_pem_file(path: str | os.PathLike[str]) -> bytes:
    """SPKI from a PEM file: a PUBLIC KEY block is read directly, a private key needs `cryptography`."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ExtensionKeyError(f"cannot read {path}: {exc}") from None
    if b"-----BEGIN PUBLIC KEY-----" in data:
        body = data.split(b"-----BEGIN PUBLIC KEY-----", 1)[1].split(b"-----END PUBLIC KEY-----", 1)[0]
        return spki_from_b64(body.decode("ascii", "replace"))
    return public_key_der(load_private_key(path))


# -- keys (cryptography) -------------------------------------------------------------------------------

def _crypto() -> Any:
    """Import `cryptography` on demand (Rule 1)."""
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError:
        raise CryptoMissing(crypto_hint()) from None

    class _Ns:
        pass

    ns = _Ns()
    ns.hashes, ns.serialization, ns.padding, ns.rsa = hashes, serialization, padding, rsa  # type: ignore[attr-defined]
    return ns


def generate_private_key() -> Any:
    c = _crypto()
    return c.rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def private_key_pem(key: Any) -> bytes:
    """PKCS#8 PEM, unencrypted: the form `chrome --pack-extension` writes and reads."""
    c = _crypto()
    return key.private_bytes(c.serialization.Encoding.PEM, c.serialization.PrivateFormat.PKCS8,
                             c.serialization.NoEncryption())


def write_private_key(path: str | os.PathLike[str], key: Any) -> None:
    """Write the key with mode 0600 from the first byte (never world-readable, not even briefly)."""
    pem = private_key_pem(key)
    fd = os.open(os.fspath(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def load_private_key(path: str | os.PathLike[str]) -> Any:
    c = _crypto()
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ExtensionKeyError(f"cannot read {path}: {exc}") from None
    try:
        key = c.serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ExtensionKeyError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, c.rsa.RSAPrivateKey):
        raise ExtensionKeyError(f"{path} is not an RSA key (CRX3 packages here are signed with sha256_with_rsa)")
    return key


def public_key_der(key: Any) -> bytes:
    """DER SubjectPublicKeyInfo of a private key's public half (what manifest `key` holds, base64)."""
    c = _crypto()
    return key.public_key().public_bytes(c.serialization.Encoding.DER,
                                         c.serialization.PublicFormat.SubjectPublicKeyInfo)


def manifest_key_value(spki_der: bytes) -> str:
    return base64.b64encode(spki_der).decode("ascii")


# -- minimal protobuf writer --------------------------------------------------------------------------

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _bytes_field(number: int, value: bytes) -> bytes:
    """A length-delimited field (wire type 2): tag, length, bytes."""
    return _varint(number << 3 | 2) + _varint(len(value)) + value


# -- zip ----------------------------------------------------------------------------------------------

def _skip(rel: Path) -> bool:
    """Files never packed: dotfiles/dirs (.git, .DS_Store) and private keys (a .pem in the folder)."""
    return any(part.startswith(".") for part in rel.parts) or rel.suffix.lower() == ".pem"


def read_manifest(extension_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(extension_dir) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExtensionKeyError(f"cannot read {path}: {exc}") from None
    if not isinstance(manifest, dict):
        raise ExtensionKeyError(f"{path} is not a JSON object")
    return manifest


def zip_extension(extension_dir: str | os.PathLike[str], manifest: dict[str, Any]) -> bytes:
    """Zip the extension folder with `manifest` in place of its manifest.json (Rule 3)."""
    root = Path(extension_dir)
    files = sorted(p for p in root.rglob("*") if p.is_file() and not _skip(p.relative_to(root)))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            rel = path.relative_to(root).as_posix()
            data = path.read_bytes()
            if rel == "manifest.json":
                data = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
            info = zipfile.ZipInfo(rel, ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def packed_manifest(manifest: dict[str, Any], *, version: str | None = None,
                    update_url: str | None = None) -> dict[str, Any]:
    """The manifest as packed: without `key` (the CRX's own key fixes the ID, and Chrome replaces a
    manifest key with it on install anyway), with an optional version and update_url."""
    out = {k: v for k, v in manifest.items() if k != "key"}
    if version is not None:
        out["version"] = version
    if update_url is not None:
        out["update_url"] = update_url
    return out


# -- CRX3 ---------------------------------------------------------------------------------------------

def signed_header_data(spki_der: bytes) -> bytes:
    return _bytes_field(FIELD_SIGNED_DATA_CRX_ID, crx_id(spki_der))


def signed_payload(header_data: bytes, zip_bytes: bytes) -> bytes:
    return SIGNATURE_CONTEXT + struct.pack("<I", len(header_data)) + header_data + zip_bytes


def build_crx3(zip_bytes: bytes, private_key: Any) -> bytes:
    c = _crypto()
    spki = public_key_der(private_key)
    header_data = signed_header_data(spki)
    signature = private_key.sign(signed_payload(header_data, zip_bytes), c.padding.PKCS1v15(),
                                 c.hashes.SHA256())
    proof = _bytes_field(FIELD_PROOF_PUBLIC_KEY, spki) + _bytes_field(FIELD_PROOF_SIGNATURE, signature)
    header = _bytes_field(FIELD_SHA256_WITH_RSA, proof) + _bytes_field(FIELD_SIGNED_HEADER_DATA, header_data)
    return CRX_MAGIC + struct.pack("<II", CRX_VERSION, len(header)) + header + zip_bytes


# -- reading CRX2 / CRX3 (components/crx_file/crx_verifier.cc) ---------------------------------------------

def parse_crx(data: bytes) -> tuple[bytes | None, bytes, int]:
    """(public key SPKI DER, zip bytes, CRX version) of a CRX2 or CRX3 file.

    A CRX3 whose header holds no key proof is refused: Chrome refuses to install it, and without the key
    the app's ID (and so its storage and grants) cannot be kept."""
    if data[:4] != CRX_MAGIC:
        raise CrxFormatError("not a CRX file (no Cr24 magic)")
    if len(data) < 12:
        raise CrxFormatError(f"truncated CRX file: {len(data)} bytes, shorter than the 12-byte header "
                             "(magic, version, lengths)")
    (version,) = struct.unpack_from("<I", data, 4)
    if version == 2:
        if len(data) < 16:
            raise CrxFormatError("truncated CRX2 header")
        key_len, sig_len = struct.unpack_from("<II", data, 8)
        start = 16 + key_len + sig_len
        if start > len(data):
            raise CrxFormatError("truncated CRX2 file: key and signature run past the end")
        return data[16:16 + key_len], data[start:], 2
    if version == 3:
        (header_len,) = struct.unpack_from("<I", data, 8)
        start = 12 + header_len
        if start > len(data):
            raise CrxFormatError("truncated CRX3 file: the header runs past the end")
        key = _crx3_key(data[12:start])
        if key is None:
            raise CrxFormatError("the CRX3 header holds no public key (no RSA or ECDSA key proof): Chrome "
                                 "refuses to install such a file and the app's ID cannot be recovered from it; "
                                 "unzip the archive after the header and convert that folder (with --key to "
                                 "choose the ID)")
        return key, data[start:], 3
    raise CrxFormatError(f"unsupported CRX version {version} (only 2 and 3 exist)")


def _crx3_key(header: bytes) -> bytes | None:
    """The key whose SHA-256 prefix is the header's crx_id (Chrome's rule for the ID), else the first RSA key."""
    keys: list[bytes] = []
    wanted: bytes | None = None
    for number, value in _protobuf_fields(header):
        if number in (FIELD_SHA256_WITH_RSA, FIELD_SHA256_WITH_ECDSA) and isinstance(value, bytes):
            for sub_number, sub_value in _protobuf_fields(value):
                if sub_number == FIELD_PROOF_PUBLIC_KEY and isinstance(sub_value, bytes):
                    keys.append(sub_value)
        elif number == FIELD_SIGNED_HEADER_DATA and isinstance(value, bytes):
            for sub_number, sub_value in _protobuf_fields(value):
                if sub_number == FIELD_SIGNED_DATA_CRX_ID and isinstance(sub_value, bytes):
                    wanted = sub_value
    for key in keys:
        if wanted is not None and crx_id(key) == wanted:
            return key
    return keys[0] if keys else None


def _protobuf_fields(buf: bytes) -> Iterable[tuple[int, bytes | int]]:
    """(field number, value) pairs of a protobuf message: varints as int, length-delimited as bytes."""
    pos = 0
    while pos < len(buf):
        tag, pos = _read_varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
            yield number, value
        elif wire == 2:
            length, pos = _read_varint(buf, pos)
            if pos + length > len(buf):
                raise CrxFormatError("corrupt CRX3 header: a field runs past the end")
            yield number, buf[pos:pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise CrxFormatError(f"corrupt CRX3 header: wire type {wire}")


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise CrxFormatError("corrupt CRX3 header: bad varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def updates_xml(apps: Iterable[tuple[str, str, str]]) -> str:
    """A gupdate update manifest, the format Chrome fetches from an `update_url` (and from a policy's),
    with one <app> per ``(appid, codebase, version)``: one server answers for every extension it serves."""
    entries = "".join(
        f"  <app appid={quoteattr(appid)}>\n"
        f"    <updatecheck codebase={quoteattr(codebase)} version={quoteattr(version)} />\n"
        "  </app>\n" for appid, codebase, version in apps)
    return ("<?xml version='1.0' encoding='UTF-8'?>\n"
            "<gupdate xmlns='http://www.google.com/update2/response' protocol='2.0'>\n"
            f"{entries}</gupdate>\n")
