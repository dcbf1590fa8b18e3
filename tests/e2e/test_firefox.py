"""resocket in Firefox: Debian's Firefox ESR, headless, driven over WebDriver BiDi (bidi.py), with the unchanged
extension/ installed as a temporary add-on and the host registered by `resocket install --browser firefox`.

Firefox starts the host with argv [<manifest path>, resocket@resocket.org]; the host takes that add-on for the
resocket extension, so the grants are the same as in Chrome. Every scenario of the Chrome App oracle runs in
an extension page and in a granted web page (relay.js -> background script -> native messaging), and must give
Chrome's transcript, the committed golden of test_chrome_oracle.py: the shim is Chrome's behaviour in Firefox
too. No Chrome runs here.
"""
from __future__ import annotations

import difflib
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from resocket import EXTENSION_ORIGIN, FIREFOX_EXTENSION_ID

from .bidi import FIREFOX, Firefox, Page
from .conftest import BrowserPool
from .fidelity import FIDELITY_RUNS, TlsWorld, open_tls_world
from .oracle import SCENARIO_RUNS, run_scenario
from .resocket_side import (
    ALL_RULES,
    BLANK_PAGE,
    SCENARIO_PAGE,
    ResocketProfile,
    StaticServer,
    _venv_bin,
    copy_extension,
    extension_available,
)
from .test_chrome_oracle import GOLDEN, dump_transcript, scenario_env

pytestmark = [
    pytest.mark.skipif(not extension_available(), reason="extension/ not there yet"),
    pytest.mark.skipif(not os.path.exists(FIREFOX), reason=f"{FIREFOX} missing: `make test` installs firefox-esr"),
]

RUNS = SCENARIO_RUNS + FIDELITY_RUNS


@pytest.fixture(scope="module")
def tls_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsWorld]:
    yield from open_tls_world(tmp_path_factory)


@pytest.fixture(scope="module")
def firefox(browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory,
            tls_world: TlsWorld) -> Iterator[tuple[Firefox, StaticServer, ResocketProfile]]:
    root: Path = tmp_path_factory.mktemp("firefox")
    home = root / "home"
    home.mkdir()
    profile = ResocketProfile(root / "resocket")
    subprocess.run([_venv_bin("resocket"), "install", "--browser", "firefox", "--host-path",
                    str(profile.root / "resocket-host-wrapper")],
                   env={**os.environ, **profile.env, "HOME": str(home)}, check=True, capture_output=True, timeout=60)
    site = StaticServer.of_pages(root / "www", {"index.html": BLANK_PAGE})
    profile.grant(EXTENSION_ORIGIN, ALL_RULES)
    profile.grant(site.origin, ALL_RULES)
    browsers.host_logs.append(profile.host_log)
    browser = Firefox(root / "profile", extensions={FIREFOX_EXTENSION_ID: copy_extension(root / "extension")},
                      env={**profile.env, **tls_world.browser_env, "HOME": str(home)})
    try:
        yield browser, site, profile
    finally:
        browser.close()
        site.close()


@pytest.fixture(scope="module")
def extension_page(firefox) -> Page:
    browser = firefox[0]
    return browser.new_page(browser.extension_url(FIREFOX_EXTENSION_ID, SCENARIO_PAGE),
                            ready="typeof chrome.socket === 'object'")


@pytest.fixture(scope="module")
def web_page(firefox) -> Page:
    browser, site, _ = firefox
    return browser.new_page(f"{site.origin}/", ready="typeof chrome === 'object' && typeof chrome.socket === 'object'")


def check(page: Page, firefox, where: str, name: str, protocol: str, scenario_ports: dict,
          tls_world: TlsWorld) -> None:
    expected = (GOLDEN / f"{name}-{protocol}.json").read_text()
    actual = dump_transcript(run_scenario(page, name, scenario_env(name, protocol, scenario_ports, tls_world)))
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), "chrome", where))
        pytest.fail(f"Firefox ({where}) differs from Chrome in {name}-{protocol}:\n{diff}\n"
                    f"host log: {firefox[2].host_log}\nFirefox log: {firefox[0].log_path}")


@pytest.mark.parametrize("name,protocol", RUNS, ids=[f"{n}-{p}" for n, p in RUNS])
def test_firefox_extension_page_gives_chromes_transcript(extension_page: Page, firefox, scenario_ports: dict,
                                                         tls_world: TlsWorld, name: str, protocol: str) -> None:
    check(extension_page, firefox, "Firefox extension page", name, protocol, scenario_ports, tls_world)


@pytest.mark.parametrize("name,protocol", RUNS, ids=[f"{n}-{p}" for n, p in RUNS])
def test_firefox_granted_web_page_gives_chromes_transcript(web_page: Page, firefox, scenario_ports: dict,
                                                           tls_world: TlsWorld, name: str, protocol: str) -> None:
    check(web_page, firefox, "Firefox web page", name, protocol, scenario_ports, tls_world)


def test_the_host_took_firefoxs_add_on_for_the_resocket_extension_and_the_page_for_its_origin(
        extension_page: Page, web_page: Page, firefox) -> None:
    """The hellos the host logged: the extension page's as the resocket extension (Firefox gave the host the
    add-on ID, not an origin), the web page's as its own origin, relayed by the background script."""
    for page in (extension_page, web_page):
        assert page.evaluate("new Promise((r) => chrome.socket.getNetworkList(() => r(true)))")
    log = firefox[2].host_log_text()
    for origin in (EXTENSION_ORIGIN, firefox[1].origin):
        assert re.search(r"INFO resocket\.host: hello from resocket-extension/\S+ for " + re.escape(origin) + ";",
                         log), log[-3000:]
