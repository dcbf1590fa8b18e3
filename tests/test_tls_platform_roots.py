"""secure()'s trust store on each OS (engine/tls.py): the platform's roots are added to OpenSSL's defaults,
read once per process when the first context is made, never at start-up.

The macOS keychain and the Windows stores cannot be read here: the loader is injected (returning the test
CA, as the keychain would return an MDM-installed root) and a real handshake on loopback shows what a user
sees: secure() verifies, or fails with the certificate error. OpenSSL's own defaults point at an empty file
and folder, so only the injected roots can make the handshake pass.
"""
from __future__ import annotations

import socket
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from resocket.engine import tls

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.certs import Pki
from tests.support.servers import TlsEchoServer


@pytest.fixture
def no_default_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    (tmp_path / "certs").mkdir()
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "certs"))
    monkeypatch.setattr(tls, "_platform_roots", None)


def der(pem: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem.read_text())


def handshake(pki: Pki) -> str:
    """'verified', or the verification error, for a client context made as secure() makes it."""
    ctx = tls.make_context(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)
    with TlsEchoServer(pki.good.cert, pki.good.key) as server, \
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname="localhost") as conn:
                conn.sendall(b"ping")
                assert conn.recv(4) == b"ping"
        except ssl.SSLCertVerificationError as exc:
            return exc.verify_message
    return "verified"


def install_loader(monkeypatch: pytest.MonkeyPatch, loader: Callable[[], bytes]) -> list[int]:
    calls: list[int] = []

    def counted() -> bytes:
        calls.append(1)
        return loader()
    monkeypatch.setattr(tls, "ROOT_LOADERS", {sys.platform: counted})
    return calls


def test_a_root_from_the_platform_store_verifies_the_server(no_default_roots: None, pki: Pki,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    install_loader(monkeypatch, lambda: der(pki.ca))
    assert handshake(pki) == "verified"


def test_without_the_platform_root_the_same_server_is_refused(no_default_roots: None, pki: Pki,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    install_loader(monkeypatch, lambda: b"")
    assert handshake(pki) == "unable to get local issuer certificate"


def test_an_unreadable_store_refuses_rather_than_trusts(no_default_roots: None, pki: Pki,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> bytes:
        raise OSError("Security.framework not found")
    install_loader(monkeypatch, broken)
    assert handshake(pki) == "unable to get local issuer certificate"


def test_the_store_is_read_once_per_process(no_default_roots: None, pki: Pki,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls = install_loader(monkeypatch, lambda: der(pki.ca))
    for low in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        tls.make_context(low, ssl.TLSVersion.TLSv1_3)
    assert handshake(pki) == "verified"
    assert calls == [1]


def test_windows_adds_nothing_beyond_the_stores_python_already_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """On Windows ssl.create_default_context() reads "ROOT" and "CA" through ssl.enum_certificates itself;
    only macOS has a loader."""
    monkeypatch.setattr(tls, "_platform_roots", None)
    assert set(tls.ROOT_LOADERS) == {"darwin"}

    def must_not_run() -> bytes:
        raise AssertionError("the macOS loader ran for Windows")
    assert tls.platform_roots("win32", {"darwin": must_not_run}) == b""


def test_the_host_does_not_read_the_store_at_start_up() -> None:
    """Importing everything secure() needs reads nothing: the roots wait for the first context."""
    code = ("import resocket.client.serve, resocket.engine.loop, resocket.engine.tcp, resocket.engine.tls as t;"
            "print(t._platform_roots)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "None"


ANCHOR, ENTERPRISE, SMIME_ONLY, DISTRUSTED, USER_ROOT = b"anchor", b"corp-root", b"smime", b"bad", b"user"


def test_keychain_roots_are_the_anchors_plus_what_an_admin_or_user_trusts_as_root() -> None:
    marked = [
        (ENTERPRISE, []),  # an MDM profile's root: no constraints, "always trust"
        (USER_ROOT, [(tls.TRUST_AS_ROOT, False)]),
        (SMIME_ONLY, [(tls.TRUST_ROOT, True)]),  # trusted for one policy only: not a TLS root here
        (b"plain", [(None, False)]),  # no result given: Apple's default is TrustRoot
    ]
    assert tls.trusted_roots([ANCHOR], marked) == ANCHOR + ENTERPRISE + USER_ROOT + b"plain"


def test_a_certificate_marked_deny_is_dropped_even_when_it_is_a_system_anchor() -> None:
    marked = [(DISTRUSTED, [(tls.TRUST_DENY, True)]), (ENTERPRISE, [])]
    assert tls.trusted_roots([ANCHOR, DISTRUSTED], marked) == ANCHOR + ENTERPRISE


def test_a_root_listed_twice_is_loaded_once() -> None:
    assert tls.trusted_roots([ANCHOR, ENTERPRISE], [(ENTERPRISE, [])]) == ANCHOR + ENTERPRISE
