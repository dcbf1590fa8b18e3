"""TLS for secure(): a client TLS stream over an OsSocket, with Chrome's version options.

Design rules:
- ssl.SSLObject over memory BIOs: the engine's loop does the socket I/O, OpenSSL only transforms
  bytes, so a handshake or a read never blocks the loop. All bytes OpenSSL wants sent go out under one
  lock, in order, whether a write or a read (TLS 1.3 tickets, key updates) produced them.
- Verification is ssl.create_default_context(): the system trust store, which OpenSSL locates through
  `SSL_CERT_FILE` / `SSL_CERT_DIR` when set; hostname checking on; no way to turn it off (Chrome has none).
- The OS trust store, as Chrome uses it, on each platform:
  Linux: OpenSSL's default file and directory (ca-certificates, plus what an admin adds with
  update-ca-certificates).
  Windows: create_default_context() already loads the "ROOT" and "CA" system stores through
  ssl.enum_certificates, and CPython opens them across the local machine, enterprise and group-policy
  locations, so GPO/Intune-deployed roots are included: nothing is added here.
  macOS: OpenSSL's default paths point into the build machine's OpenSSL (a PyInstaller bundle or python.org's
  Python find no CA file there), so the keychains' roots are added: the system anchors plus the certificates
  an admin (MDM profile, System keychain) or the user marked trusted as roots, read through Security.framework
  with ctypes (no subprocess: the host runs no commands, tests/faults/test_security.py). A certificate
  marked "deny" is left out even if it is a system anchor; trust limited to some policies only is not
  taken (never wider than the keychain).
- The platform's roots are read at most once per host process, when the first secure() makes a context
  (never at start-up: Chrome waits for the host's first reply), and added to what OpenSSL found.
- Versions (docs/chrome-behaviour.md 2, secure step 6): min "tls1"/"tls1.1" are raised to TLS 1.2, an
  unknown min or any max other than "tls1.2"/"tls1.3" is ignored; defaults TLS 1.2 .. TLS 1.3.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
import sys
from collections.abc import Callable
from typing import Any

from resocket.engine.ossocket import OsSocket

log = logging.getLogger(__name__)

#: Plaintext bytes handed to OpenSSL per step of a large write (keeps the outgoing BIO small).
WRITE_STEP = 256 * 1024
#: Ciphertext bytes read from the socket per step.
RECV_STEP = 256 * 1024

_MIN_VERSIONS = {"tls1": ssl.TLSVersion.TLSv1_2, "tls1.1": ssl.TLSVersion.TLSv1_2,
                 "tls1.2": ssl.TLSVersion.TLSv1_2, "tls1.3": ssl.TLSVersion.TLSv1_3}
_MAX_VERSIONS = {"tls1.2": ssl.TLSVersion.TLSv1_2, "tls1.3": ssl.TLSVersion.TLSv1_3}


def tls_versions(options: Any) -> tuple[ssl.TLSVersion, ssl.TLSVersion]:
    versions = options.get("tlsVersion") if isinstance(options, dict) else None
    if not isinstance(versions, dict):
        versions = {}
    # Only strings name versions (a client that skips the renderer's type checks may send anything: an object
    # or array here once made the lookup raise, and the call end as an `internal` error).
    low_name, high_name = versions.get("min"), versions.get("max")
    low = _MIN_VERSIONS.get(low_name, ssl.TLSVersion.TLSv1_2) if isinstance(low_name, str) else ssl.TLSVersion.TLSv1_2
    high = _MAX_VERSIONS.get(high_name, ssl.TLSVersion.TLSv1_3) if isinstance(high_name, str) else ssl.TLSVersion.TLSv1_3
    return low, high


def make_context(low: ssl.TLSVersion, high: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    roots = platform_roots()
    if roots:
        ctx.load_verify_locations(cadata=roots)
    ctx.minimum_version = low
    ctx.maximum_version = high
    return ctx


# --- The platform's own trust store ---------------------------------------------------------------------------

#: Security.framework's SecTrustSettingsResult values (SecTrustSettings.h); an absent result means TrustRoot.
TRUST_ROOT, TRUST_AS_ROOT, TRUST_DENY = 1, 2, 3
#: SecTrustSettingsDomain: the user's settings, then the admin's (MDM profiles, the System keychain).
DOMAIN_USER, DOMAIN_ADMIN = 0, 1


def trusted_roots(anchors: list[bytes], marked: list[tuple[bytes, list[tuple[int | None, bool]]]]) -> bytes:
    """The DER certificates to trust, concatenated: the system `anchors` and each certificate of `marked`
    (DER, [(result, limited to a policy?) per trust setting]) that is trusted as a root for every use.
    An empty setting list is "always trust" (SecTrustSettingsCopyTrustSettings); a setting limited to a
    policy (S/MIME, code signing ...) is not a TLS root here; a "deny" anywhere removes the certificate."""
    denied: set[bytes] = set()
    chosen: list[bytes] = []
    for der, settings in marked:
        results = [TRUST_ROOT if result is None else result for result, limited in settings if not limited]
        if any(result == TRUST_DENY for result, _ in settings):
            denied.add(der)
        elif not settings or any(result in (TRUST_ROOT, TRUST_AS_ROOT) for result in results):
            chosen.append(der)
    unique = dict.fromkeys(der for der in anchors + chosen if der not in denied)
    return b"".join(unique)


def macos_keychain_roots() -> bytes:
    """The keychains' roots through Security.framework (macOS only)."""
    import ctypes  # macOS only, at the first secure(): the engine loads without it

    cf = ctypes.CDLL("/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation")
    sec = ctypes.CDLL("/System/Library/Frameworks/Security.framework/Security")
    ref = ctypes.c_void_p
    for name, args, result in [
        ("CFArrayGetCount", [ref], ctypes.c_long), ("CFArrayGetValueAtIndex", [ref, ctypes.c_long], ref),
        ("CFDataGetLength", [ref], ctypes.c_long), ("CFDataGetBytePtr", [ref], ref),
        ("CFDictionaryGetValue", [ref, ref], ref), ("CFNumberGetValue", [ref, ctypes.c_long, ref], ctypes.c_bool),
        ("CFRelease", [ref], None),
    ]:
        getattr(cf, name).argtypes, getattr(cf, name).restype = args, result
    for name, args in [("SecTrustCopyAnchorCertificates", [ctypes.POINTER(ref)]),
                       ("SecTrustSettingsCopyCertificates", [ctypes.c_uint32, ctypes.POINTER(ref)]),
                       ("SecTrustSettingsCopyTrustSettings", [ref, ctypes.c_uint32, ctypes.POINTER(ref)])]:
        getattr(sec, name).argtypes, getattr(sec, name).restype = args, ctypes.c_int32
    sec.SecCertificateCopyData.argtypes, sec.SecCertificateCopyData.restype = [ref], ref
    result_key = ref.in_dll(sec, "kSecTrustSettingsResult").value
    policy_key = ref.in_dll(sec, "kSecTrustSettingsPolicy").value
    number_sint32 = 3  # kCFNumberSInt32Type

    def items(array: Any) -> list[Any]:
        return [cf.CFArrayGetValueAtIndex(array, i) for i in range(cf.CFArrayGetCount(array))]

    def der(cert: Any) -> bytes:
        data = sec.SecCertificateCopyData(cert)
        try:
            return ctypes.string_at(cf.CFDataGetBytePtr(data), cf.CFDataGetLength(data))
        finally:
            cf.CFRelease(data)

    anchors: list[bytes] = []
    array = ref()
    if sec.SecTrustCopyAnchorCertificates(ctypes.byref(array)) == 0 and array.value:
        anchors = [der(cert) for cert in items(array)]
        cf.CFRelease(array)
    marked: list[tuple[bytes, list[tuple[int | None, bool]]]] = []
    for domain in (DOMAIN_USER, DOMAIN_ADMIN):
        certs = ref()
        # errSecNoTrustSettings when the domain has none: nothing to add.
        if sec.SecTrustSettingsCopyCertificates(domain, ctypes.byref(certs)) != 0 or not certs.value:
            continue
        for cert in items(certs):
            settings = ref()
            if sec.SecTrustSettingsCopyTrustSettings(cert, domain, ctypes.byref(settings)) != 0:
                continue
            usage: list[tuple[int | None, bool]] = []
            for entry in items(settings) if settings.value else []:
                number, value = cf.CFDictionaryGetValue(entry, result_key), ctypes.c_int32()
                known = bool(number) and cf.CFNumberGetValue(number, number_sint32, ctypes.byref(value))
                usage.append((value.value if known else None, bool(cf.CFDictionaryGetValue(entry, policy_key))))
            if settings.value:
                cf.CFRelease(settings)
            marked.append((der(cert), usage))
        cf.CFRelease(certs)
    return trusted_roots(anchors, marked)


#: Where the platform's roots come from beyond OpenSSL's defaults (Windows and Linux: nowhere, see above).
ROOT_LOADERS: dict[str, Callable[[], bytes]] = {"darwin": macos_keychain_roots}
_platform_roots: bytes | None = None


def platform_roots(platform: str = sys.platform, loaders: dict[str, Callable[[], bytes]] | None = None) -> bytes:
    """The platform's roots (DER, concatenated), read on the first call only. A store that cannot be read
    leaves OpenSSL's defaults alone: verification then fails as it would have, never passes."""
    global _platform_roots
    if _platform_roots is None:
        loader = (ROOT_LOADERS if loaders is None else loaders).get(platform)
        try:
            _platform_roots = loader() if loader else b""
        except (OSError, ValueError, AttributeError):
            log.warning("the %s trust store could not be read; OpenSSL's defaults only", platform, exc_info=True)
            _platform_roots = b""
    return _platform_roots


class TlsStream:
    def __init__(self, os_socket: OsSocket, ctx: ssl.SSLContext, hostname: str) -> None:
        self.os_socket = os_socket
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._obj = ctx.wrap_bio(self._in, self._out, server_side=False, server_hostname=hostname)
        self._send_lock = asyncio.Lock()
        self._eof = False

    async def _flush(self) -> None:
        async with self._send_lock:
            data = self._out.read()
            if data:
                await self.os_socket.sendall(data)

    async def _fill(self) -> None:
        data = await self.os_socket.recv(RECV_STEP)
        if data:
            self._in.write(data)
        else:
            self._eof = True
            self._in.write_eof()

    async def handshake(self) -> None:
        while True:
            try:
                self._obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self._flush()
                await self._fill()
        await self._flush()

    async def recv(self, size: int) -> bytes:
        """Up to `size` plaintext bytes; b"" at EOF (close_notify or a plain TCP close)."""
        while True:
            try:
                first = self._obj.read(size)
                break
            except ssl.SSLWantReadError:
                await self._flush()
                if self._eof:
                    return b""
                await self._fill()
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""
        parts, got = [first], len(first)
        while got < size:  # take whatever else is already decrypted or buffered
            try:
                more = self._obj.read(size - got)
            except ssl.SSLError:
                break
            if not more:
                break
            parts.append(more)
            got += len(more)
        if self._out.pending:
            await self._flush()
        return b"".join(parts) if len(parts) > 1 else first

    async def sendall(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            step = view[:WRITE_STEP]
            done = 0
            while done < len(step):
                done += self._obj.write(step[done:])
            view = view[len(step):]
            await self._flush()

    def version(self) -> str | None:
        return self._obj.version()
