"""Signed web bundles (`.swbn`) for Isolated Web Apps: a small CBOR encoder, the web bundle, its integrity block.

Design rules:
- Pure: bytes in, bytes out; signing takes an Ed25519 private key object from `cryptography` (the only
  dependency, the `crypto` extra that `resocket keygen` already uses). No CBOR package is needed: the
  formats use five CBOR types (unsigned integers, byte and text strings, arrays, maps), written here in
  the deterministic encoding Chromium's parser insists on (shortest lengths, map keys sorted by their
  encoded bytes, length first: RFC 8949 section 4.2.1 / "canonical" of RFC 7049).
- The formats, as Chromium 156 reads them:
    web bundle, version b2 (draft-ietf-wpack-bundled-responses):
      [magic "🌐📦", version "b2\\0\\0", bstr(cbor [name, length, ...]), [sections...], bstr(8-byte BE length)]
      sections "index" {url: [offset, length]} and "responses" [[bstr(cbor headers), payload], ...];
      an offset counts from the start of the responses section; headers are {bstr: bstr} with ":status".
    integrity block, version 2 (WICG isolated-web-apps, "Integrity Block and Signature"):
      [magic "🖋📦", version "2b\\0\\0", {"webBundleId": id}, [[{"ed25519PublicKey": key}, signature], ...]]
      signed data: for each of (SHA-512 of the web bundle, the block with an empty signature stack, the
      signature's attribute map) its length as an 8-byte big-endian number, then its bytes.
    signed web bundle = integrity block followed by the web bundle.
- A bundle's ID (its `isolated-app://` host) is base32 (RFC 4648, lowercase, no padding) of the Ed25519 public
  key followed by the type suffix 00 01 02 (WICG isolated-web-apps, Scheme.md "Signed Web Bundle IDs"): the
  same key always gives the same origin, which is why convert-app keeps one key per app.
- URLs in an IWA's bundle are paths ("/", "/index.html"): the origin is only known from the key.
"""
from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Mapping, Sequence
from typing import Any, Union

BUNDLE_MAGIC = "🌐📦".encode()
BUNDLE_VERSION_B2 = b"b2\x00\x00"
INTEGRITY_MAGIC = "🖋📦".encode()
INTEGRITY_VERSION_2 = b"2b\x00\x00"
ED25519_ATTRIBUTE = "ed25519PublicKey"
WEB_BUNDLE_ID_ATTRIBUTE = "webBundleId"
#: Scheme.md "Signed Web Bundle IDs": appended to an Ed25519 public key before base32.
ED25519_ID_SUFFIX = b"\x00\x01\x02"

CborValue = Union[int, bytes, str, Sequence["CborValue"], Mapping[Any, "CborValue"]]


class BundleError(ValueError):
    """Bytes that are not the format this module writes (raised by the parsers)."""


# -- CBOR --------------------------------------------------------------------------------------------------
def _head(major: int, n: int) -> bytes:
    """The initial byte(s) of an item: major type and argument, in the shortest form (deterministic)."""
    if n < 24:
        return bytes([major << 5 | n])
    for extra, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | extra]) + struct.pack(fmt, n)
    raise ValueError(f"CBOR argument too large: {n}")


def cbor(value: CborValue) -> bytes:
    """Deterministic CBOR of unsigned ints, bytes, str, lists/tuples and dicts (keys sorted encoded)."""
    if isinstance(value, bool) or (isinstance(value, int) and value < 0):
        raise TypeError(f"CBOR here encodes unsigned integers only, not {value!r}")
    if isinstance(value, int):
        return _head(0, value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _head(2, len(value)) + bytes(value)
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _head(3, len(raw)) + raw
    if isinstance(value, (list, tuple)):
        return _head(4, len(value)) + b"".join(cbor(v) for v in value)
    if isinstance(value, Mapping):
        items = sorted((cbor(k), cbor(v)) for k, v in value.items())
        return _head(5, len(items)) + b"".join(k + v for k, v in items)
    raise TypeError(f"cannot encode {type(value).__name__} as CBOR")


def cbor_decode(data: bytes, pos: int = 0) -> tuple[Any, int]:
    """One item of the subset `cbor` writes, from data[pos:]: (value, end). Maps come back as dicts (byte-string
    keys stay bytes). For reading bundles back (tests, `inspect_signed_bundle`)."""
    if pos >= len(data):
        raise BundleError("CBOR item runs past the end")
    major, info = data[pos] >> 5, data[pos] & 31
    pos += 1
    if info < 24:
        n = info
    elif info <= 27:
        size = 1 << (info - 24)
        if pos + size > len(data):
            raise BundleError("CBOR head runs past the end")
        n = int.from_bytes(data[pos:pos + size], "big")
        pos += size
    else:
        raise BundleError(f"unsupported CBOR argument {info} (indefinite lengths are not deterministic)")
    if major == 0:
        return n, pos
    if major in (2, 3):
        if pos + n > len(data):
            raise BundleError("CBOR string runs past the end")
        raw = data[pos:pos + n]
        return (raw if major == 2 else raw.decode("utf-8")), pos + n
    if major == 4:
        out = []
        for _ in range(n):
            item, pos = cbor_decode(data, pos)
            out.append(item)
        return out, pos
    if major == 5:
        mapping = {}
        for _ in range(n):
            key, pos = cbor_decode(data, pos)
            mapping[key], pos = cbor_decode(data, pos)
        return mapping, pos
    raise BundleError(f"unsupported CBOR major type {major}")


# -- the web bundle ----------------------------------------------------------------------------------------
def web_bundle(resources: Mapping[str, tuple[str, bytes]]) -> bytes:
    """An unsigned b2 web bundle of `resources`: path ("/index.html") -> (content type, bytes), served 200."""
    urls = sorted(resources)
    head = _head(4, len(urls))
    responses: list[bytes] = []
    index: dict[str, list[int]] = {}
    offset = len(head)  # offsets count from the start of the section, its array head included
    for url in urls:
        content_type, payload = resources[url]
        headers = cbor({b":status": b"200", b"content-type": content_type.encode("ascii")})
        response = cbor([headers, payload])
        index[url] = [offset, len(response)]
        offset += len(response)
        responses.append(response)
    index_section = cbor(index)
    responses_section = head + b"".join(responses)
    lengths = cbor(["index", len(index_section), "responses", len(responses_section)])
    body = (_head(4, 5) + cbor(BUNDLE_MAGIC) + cbor(BUNDLE_VERSION_B2) + cbor(lengths)
            + _head(4, 2) + index_section + responses_section)
    total = len(body) + len(cbor(bytes(8)))
    return body + cbor(struct.pack(">Q", total))


def read_web_bundle(data: bytes) -> dict[str, tuple[dict[bytes, bytes], bytes]]:
    """The resources of a bundle `web_bundle` wrote: url -> (headers, payload). Checks magic, version, the
    section lengths, every index offset and the trailing length."""
    top, end = cbor_decode(data)
    if end != len(data):
        raise BundleError("bytes after the web bundle")
    if not (isinstance(top, list) and len(top) == 5):
        raise BundleError("a b2 web bundle is an array of 5")
    magic, version, lengths_raw, sections, length = top
    if magic != BUNDLE_MAGIC or version != BUNDLE_VERSION_B2:
        raise BundleError("not a b2 web bundle")
    if struct.unpack(">Q", length)[0] != len(data):
        raise BundleError("the trailing length is not the bundle's")
    lengths, _ = cbor_decode(lengths_raw)
    names = lengths[0::2]
    if names != ["index", "responses"] or len(sections) != 2:
        raise BundleError(f"unexpected sections {names}")
    index, responses = sections
    if len(cbor(index)) != lengths[1]:
        raise BundleError("index section length differs")
    encoded_responses = _head(4, len(responses)) + b"".join(cbor(r) for r in responses)
    if len(encoded_responses) != lengths[3]:
        raise BundleError("responses section length differs")
    out = {}
    for url, (offset, size) in index.items():
        item, stop = cbor_decode(encoded_responses, offset)
        if stop - offset != size:
            raise BundleError(f"index entry of {url} has the wrong length")
        headers, _ = cbor_decode(item[0])
        out[url] = (headers, item[1])
    return out


# -- signing -----------------------------------------------------------------------------------------------
def raw_public_key(private_key: Any) -> bytes:
    """The 32 raw bytes of an Ed25519 key's public half."""
    from cryptography.hazmat.primitives import serialization

    return private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def web_bundle_id(public_key: bytes) -> str:
    """The signed web bundle ID of a raw Ed25519 public key (56 characters, ends in "aacai")."""
    if len(public_key) != 32:
        raise ValueError("an Ed25519 public key has 32 bytes")
    return base64.b32encode(public_key + ED25519_ID_SUFFIX).decode("ascii").lower().rstrip("=")


def _integrity_block(bundle_id: str, signatures: list[list[Any]]) -> bytes:
    return cbor([INTEGRITY_MAGIC, INTEGRITY_VERSION_2, {WEB_BUNDLE_ID_ATTRIBUTE: bundle_id}, signatures])


def signed_data(bundle: bytes, bundle_id: str, public_key: bytes) -> bytes:
    """What the Ed25519 signature covers (module docstring)."""
    parts = (hashlib.sha512(bundle).digest(), _integrity_block(bundle_id, []), cbor({ED25519_ATTRIBUTE: public_key}))
    return b"".join(struct.pack(">Q", len(p)) + p for p in parts)


def sign_bundle(bundle: bytes, private_key: Any) -> bytes:
    """The signed web bundle: an integrity block (one Ed25519 signature) followed by `bundle`."""
    public = raw_public_key(private_key)
    bundle_id = web_bundle_id(public)
    signature = private_key.sign(signed_data(bundle, bundle_id, public))
    return _integrity_block(bundle_id, [[{ED25519_ATTRIBUTE: public}, signature]]) + bundle


def inspect_signed_bundle(data: bytes) -> tuple[str, bytes, bytes, bytes]:
    """(web bundle ID, public key, signature, web bundle) of a signed bundle, after checking the block's
    shape and that the ID is the key's. The signature itself is checked by the caller (`verify_signed_bundle`)."""
    block, end = cbor_decode(data)
    if not (isinstance(block, list) and len(block) == 4):
        raise BundleError("an integrity block is an array of 4")
    magic, version, attributes, stack = block
    if magic != INTEGRITY_MAGIC or version != INTEGRITY_VERSION_2:
        raise BundleError("not a version 2 integrity block")
    if not (isinstance(stack, list) and len(stack) == 1 and len(stack[0]) == 2):
        raise BundleError("expected exactly one signature")
    key_attributes, signature = stack[0]
    public = key_attributes.get(ED25519_ATTRIBUTE)
    if set(key_attributes) != {ED25519_ATTRIBUTE} or not isinstance(public, bytes):
        raise BundleError("the signature is not an Ed25519 one")
    bundle_id = attributes.get(WEB_BUNDLE_ID_ATTRIBUTE)
    if bundle_id != web_bundle_id(public):
        raise BundleError(f"webBundleId {bundle_id!r} is not the ID of the signing key")
    return bundle_id, public, signature, data[end:]


def verify_signed_bundle(data: bytes) -> str:
    """The bundle ID of a signed bundle whose signature holds; raises BundleError otherwise."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    bundle_id, public, signature, bundle = inspect_signed_bundle(data)
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, signed_data(bundle, bundle_id, public))
    except InvalidSignature:
        raise BundleError("the signature does not match the bundle") from None
    return bundle_id
