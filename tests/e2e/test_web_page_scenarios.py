"""Section 7 of docs/chrome-behaviour.md (TCP client, TCP server with accept, UDP, multicast, TLS against
loopback test servers, and the fidelity audit's additions) run from a granted http://127.0.0.1 web page,
i.e. through relay.js and the service worker, must give Chrome's transcripts: the committed goldens that
test_chrome_oracle.py pins from a real Chrome App (test_differential.py runs the same set from an extension
page). Deliberate differences are the strict xfails of test_differential.py (docs/compatibility.md).
"""
from __future__ import annotations

import difflib
from collections.abc import Iterator

import pytest

from .conftest import BrowserPool
from .fidelity import FIDELITY_RUNS, TlsWorld, open_tls_world
from .oracle import SCENARIO_RUNS, run_scenario
from .resocket_side import (
    ALL_RULES,
    BLANK_PAGE,
    ResocketProfile,
    StaticServer,
    copy_extension,
    extension_available,
)
from .test_chrome_oracle import GOLDEN, dump_transcript, scenario_env
from .test_differential import DELIBERATE

pytestmark = pytest.mark.skipif(not extension_available(),
                                reason="extension/manifest.json or extension/chrome-socket.js not there yet")


@pytest.fixture(scope="module")
def tls_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsWorld]:
    yield from open_tls_world(tmp_path_factory)


@pytest.fixture(scope="module")
def page(browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory, tls_world: TlsWorld):
    """One Chromium: the resocket extension, a page on http://127.0.0.1:PORT granted every rule; Chromium and
    the host it starts trust the TLS test CA (NSS db of $HOME, SSL_CERT_FILE)."""
    root = tmp_path_factory.mktemp("webpage-scenarios")
    server = StaticServer.of_pages(root / "www", {"index.html": BLANK_PAGE})
    profile = ResocketProfile(root / "profile")
    profile.grant(server.origin, ALL_RULES)
    ext = copy_extension(root / "extension")
    browser = browsers.launch_resocket("webpage-scenarios", profile, [ext], tls_world.browser_env)
    yield browsers.open_page(browser, f"{server.origin}/")
    server.close()


RUNS = SCENARIO_RUNS + FIDELITY_RUNS


@pytest.mark.parametrize("name,protocol", [
    pytest.param(n, p, id=f"{n}-{p}",
                 marks=[pytest.mark.xfail(reason=DELIBERATE[(n, p)], strict=True)] if (n, p) in DELIBERATE else [])
    for n, p in RUNS])
def test_granted_web_page_transcript_equals_chromes(page, scenario_ports: dict, tls_world: TlsWorld,
                                                    name: str, protocol: str) -> None:
    expected = (GOLDEN / f"{name}-{protocol}.json").read_text()
    actual = dump_transcript(run_scenario(page, name, scenario_env(name, protocol, scenario_ports, tls_world)))
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), "chrome", "web page"))
        pytest.fail(f"a granted web page differs from Chrome in {name}-{protocol}:\n{diff}")
