"""The fidelity audit's additions to the Chrome-vs-resocket harness (docs/fidelity.md).

- FIDELITY_RUNS: more scenarios for the shared browser of test_chrome_oracle.py / test_differential.py.
- TlsWorld: a test CA, TLS echo servers (trusted, self-signed, wrong name, expired) and a $HOME whose NSS
  db trusts the CA. Chromium ignores SSL_CERT_FILE and reads the NSS db of $HOME (docs/chrome-behaviour.md 9);
  resocket's host (started by Chromium with Chromium's environment) trusts the same CA via SSL_CERT_FILE.
- Narrowed permissions: a second Chrome App whose manifest has only NARROW_RULES (no key, so its ID comes
  from its path and it can sit beside the main oracle app), and on the resocket side a web page whose
  origin is granted the same rules.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.certs import make_pki
from tests.support.servers import TlsEchoServer

from .cdp import Browser, Session
from .oracle import CHROME_APP_ID, write_chrome_app
from .resocket_side import (
    ALL_RULES,
    BLANK_PAGE,
    EXTENSION_ORIGIN,
    ResocketProfile,
    StaticServer,
    copy_extension,
)

FIDELITY_RUNS: list[tuple[str, str]] = [
    ("reads", "tcp"),
    ("options_states", "tcp"),
    ("lifecycle", "tcp"),
    ("udp_states", "udp"),
    ("tls", "tcp"),
    ("dns", "tcp"),
    ("matrix_gaps", "tcp"),
    ("binary_views", "udp"),
    ("host_forms", "tcp"),
    ("bind_forms", "udp"),
    ("tls_versions", "tcp"),
    ("port_edges", "tcp"),
    ("peer_close", "tcp"),
    ("multicast_families", "udp"),
    ("key_order", "tcp"),
    ("broadcast", "udp"),
    ("listen_twice", "tcp"),
    ("pending_aborts", "tcp"),
    ("secure_twice", "tcp"),
    ("secure_busy", "tcp"),
]

NARROW_RULES = ["tcp-connect:localhost:*"]
NARROW_RUNS: list[tuple[str, str]] = [("permissions_narrow", "tcp")]


def certutil_available() -> bool:
    return shutil.which("certutil") is not None


class TlsWorld:
    """Everything the TLS scenario needs; `browser_env` goes into Chromium's environment."""

    def __init__(self, root: Path) -> None:
        self.pki = make_pki(root / "pki")
        self.home = root / "home"
        nssdb = self.home / ".pki" / "nssdb"
        nssdb.mkdir(parents=True, exist_ok=True)
        for args in (["-N", "--empty-password"], ["-A", "-t", "C,,", "-n", "resocket-test-ca", "-i", str(self.pki.ca)]):
            subprocess.run(["certutil", "-d", f"sql:{nssdb}", *args], check=True, capture_output=True, timeout=60)
        self.servers = {
            "tlsGoodPort": TlsEchoServer(self.pki.good.cert, self.pki.good.key),
            "tlsSelfSignedPort": TlsEchoServer(self.pki.self_signed.cert, self.pki.self_signed.key),
            "tlsWrongNamePort": TlsEchoServer(self.pki.wrong_name.cert, self.pki.wrong_name.key),
            "tlsExpiredPort": TlsEchoServer(self.pki.expired.cert, self.pki.expired.key),
        }
        self.browser_env = {"HOME": str(self.home), "SSL_CERT_FILE": str(self.pki.ca)}

    @property
    def ports(self) -> dict[str, int]:
        return {name: server.port for name, server in self.servers.items()}

    def close(self) -> None:
        for server in self.servers.values():
            server.close()


def open_tls_world(tmp_path_factory: Any) -> Iterator[TlsWorld]:
    """Body of the module-scoped `tls_world` fixtures of test_chrome_oracle.py and test_differential.py."""
    if not certutil_available():
        raise RuntimeError("certutil missing: apt-get install libnss3-tools (tests/system-deps.sh)")
    world = TlsWorld(tmp_path_factory.mktemp("tls"))
    yield world
    world.close()


def with_tls_ports(env: dict, world: TlsWorld) -> dict:
    env = dict(env)
    env["ports"] = {**env["ports"], **world.ports}
    return env


def write_narrow_app(directory: Path, rules: list[str] = NARROW_RULES, sockets: dict | None = None) -> Path:
    """A Chrome App with only `rules` (and the `sockets` key given) and no key: its ID is derived from its path,
    which is how attach_narrow_app tells it from the main oracle app."""
    write_chrome_app(directory, rules, sockets)
    manifest = json.loads((directory / "manifest.json").read_text())
    del manifest["key"]
    manifest["name"] = "resocket oracle (narrow)"
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return directory


def attach_narrow_app(browser: Browser, timeout: float = 30) -> Session:
    target = browser.wait_for_target(
        lambda t: t["url"].endswith("/_generated_background_page.html") and CHROME_APP_ID not in t["url"],
        timeout=timeout, what="the narrow app's background page")
    session = browser.attach(target["targetId"])
    session.wait_for("document.readyState === 'complete'")
    return session


def open_narrow_world(browsers: Any, root: Path, name: str, app: Path, narrow: Path, narrow_rules: list[str],
                      tls_world: TlsWorld) -> Iterator[tuple[Browser, StaticServer, Session]]:
    """Body of the module-scoped `world` fixtures of test_differential.py and test_sockets_differential.py: one
    browser with the oracle app, the narrow app and the resocket extension, whose host grants the extension
    every rule and a web page's origin only `narrow_rules`; both trust the TLS test CA (SSL_CERT_FILE for the
    host, the NSS db of $HOME for Chromium). Yields the browser, the web page's server and the narrow app's
    background page, attached at once: an app's background page with no debugger attached is unloaded when
    idle, long before its test runs."""
    ext = copy_extension(root / "extension")
    site = StaticServer.of_pages(root / "www", {"index.html": BLANK_PAGE})
    profile = ResocketProfile(root / "profile")
    profile.grant(EXTENSION_ORIGIN, ALL_RULES)
    profile.grant(site.origin, narrow_rules)
    browser = browsers.launch_resocket(name, profile, [app, narrow, ext], tls_world.browser_env)
    narrow_chrome = attach_narrow_app(browser)
    browsers.pages.append(narrow_chrome)
    yield browser, site, narrow_chrome
    site.close()
