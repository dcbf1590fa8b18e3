"""resocket in Firefox: Debian's Firefox ESR, headless, driven over WebDriver BiDi (bidi.py), with the unchanged
extension/ installed as a temporary add-on and the host registered by `resocket install --browser firefox`.

Firefox starts the host with argv [<manifest path>, resocket@resocket.org]; the host takes that add-on for the
resocket extension, so the grants are the same as in Chrome. Every chrome.socket scenario of the Chrome App
oracle, and every chrome.sockets one, runs in an extension page and in a granted web page (relay.js ->
background script -> native messaging), and must give Chrome's transcript, the committed goldens of
test_chrome_oracle.py and test_sockets_differential.py: the shim is Chrome's behaviour in Firefox too. No
Chrome runs here.
"""
from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from resocket import EXTENSION_ORIGIN, FIREFOX_EXTENSION_ID

from tests.support.servers import TcpServer

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
from .test_sockets_differential import SCENARIO_NAMES as SOCKETS_SCENARIOS
from .test_sockets_differential import dump as sockets_dump
from .test_sockets_differential import run as run_sockets

pytestmark = [
    pytest.mark.skipif(not extension_available(), reason="extension/ not there yet"),
    pytest.mark.skipif(not os.path.exists(FIREFOX), reason=f"{FIREFOX} missing: `make test` installs firefox-esr"),
]

RUNS = SCENARIO_RUNS + FIDELITY_RUNS


@pytest.fixture(scope="module")
def tls_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsWorld]:
    yield from open_tls_world(tmp_path_factory)


def registered_for_firefox(browsers: BrowserPool, root: Path) -> tuple[ResocketProfile, Path]:
    """A config dir for grants and a $HOME whose ~/.mozilla holds the host manifest `resocket install` wrote."""
    home = root / "home"
    home.mkdir()
    profile = ResocketProfile(root / "resocket")
    subprocess.run([_venv_bin("resocket"), "install", "--browser", "firefox", "--host-path",
                    str(profile.root / "resocket-host-wrapper")],
                   env={**os.environ, **profile.env, "HOME": str(home)}, check=True, capture_output=True, timeout=60)
    browsers.host_logs.append(profile.host_log)
    return profile, home


@pytest.fixture(scope="module")
def firefox(browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory,
            tls_world: TlsWorld) -> Iterator[tuple[Firefox, StaticServer, ResocketProfile]]:
    root: Path = tmp_path_factory.mktemp("firefox")
    profile, home = registered_for_firefox(browsers, root)
    site = StaticServer.of_pages(root / "www", {"index.html": BLANK_PAGE})
    profile.grant(EXTENSION_ORIGIN, ALL_RULES)
    profile.grant(site.origin, ALL_RULES)
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


@pytest.mark.parametrize("where", ["extension page", "web page"])
@pytest.mark.parametrize("name", SOCKETS_SCENARIOS)
def test_firefox_gives_chromes_chrome_sockets_transcript(extension_page: Page, web_page: Page, firefox,
                                                        scenario_ports: dict, tls_world: TlsWorld, name: str,
                                                        where: str) -> None:
    """chrome.sockets.* (scenarios/sockets_*.js) against the goldens test_sockets_differential.py pins."""
    page = extension_page if where == "extension page" else web_page
    env = {"ports": {"tcpPort": scenario_ports["tcp_port"], "udpPort": scenario_ports["udp_port"],
                     "closedPort": scenario_ports["closed"], "mcastPort": scenario_ports["mcast_port"],
                     **tls_world.ports}}
    expected = (GOLDEN / f"{name}.json").read_text()
    actual = sockets_dump(run_sockets(page, name, env))
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), "chrome", where))
        pytest.fail(f"Firefox ({where}) differs from Chrome in {name}:\n{diff}\nhost log: {firefox[2].host_log}")


def test_the_host_took_firefoxs_add_on_for_the_resocket_extension_and_both_pages_have_a_data_channel(
        extension_page: Page, web_page: Page, firefox) -> None:
    """The hellos the host logged: the extension page's as the resocket extension (Firefox gave the host the
    add-on ID, not an origin), the web page's as its own origin, relayed by the background script. Each of
    the two hosts accepted its page's data channel: the web page's by its origin, the extension page's by
    the moz-extension origin the page named (the host cannot know it otherwise)."""
    for page in (extension_page, web_page):
        assert page.evaluate("new Promise((r) => chrome.socket.getNetworkList(() => r(true)))")
    log = firefox[2].host_log_text()
    channels = set(re.findall(r"resocket-host\[(\d+)\] INFO resocket\.engine\.datachannel: data channel connected", log))
    for origin in (EXTENSION_ORIGIN, firefox[1].origin):
        hosts = re.findall(r"resocket-host\[(\d+)\] INFO resocket\.client\.serve: hello from resocket-extension/\S+ for "
                           + re.escape(origin) + ";", log)
        assert hosts, log[-3000:]
        assert set(hosts) <= channels, (origin, hosts, channels, log[-3000:])


# Counts the background script's starts in storage.session (kept while Firefox runs, across suspensions).
STARTS_JS = ("chrome.storage.session.get('starts')"
             ".then((v) => chrome.storage.session.set({starts: (v.starts || 0) + 1}));\n")
SOCKET_JS = """(async () => {
  window.call = (name, ...args) => new Promise((resolve) => chrome.socket[name](...args, (...res) => {
    const le = chrome.runtime.lastError; resolve({res, lastError: le ? le.message : null}); }));
  window.roundTrip = async (text) => {
    await call('write', window.sid, new TextEncoder().encode(text).buffer);
    const r = await call('read', window.sid, 4096);
    return r.lastError || new TextDecoder().decode(r.res[0].data);
  };
  window.sid = (await call('create', 'tcp', {})).res[0].socketId;
  return call('connect', window.sid, '127.0.0.1', PORT);
})()"""


def test_firefox_keeps_the_background_script_while_a_pages_socket_is_open(
        browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Firefox suspends an idle MV3 background script (after 30 s; 2 s here, by its own pref), which would
    close the page's native port and with it the host and its sockets. Shown both ways: idle with no page, the
    script is suspended (a page's call then starts it a second time); with a page's socket open it stays
    through three idle timeouts without a message, and the socket still echoes."""
    root: Path = tmp_path_factory.mktemp("firefox-idle")
    profile, home = registered_for_firefox(browsers, root)
    site = StaticServer.of_pages(root / "www", {"index.html": BLANK_PAGE})
    ext = copy_extension(root / "extension", {"starts.js": STARTS_JS, "probe.html": BLANK_PAGE})
    manifest = json.loads((ext / "manifest.json").read_text())
    manifest["background"]["scripts"].append("starts.js")
    (ext / "manifest.json").write_text(json.dumps(manifest))
    with TcpServer() as echo:
        profile.grant(site.origin, [f"tcp-connect:127.0.0.1:{echo.port}"])
        browser = Firefox(root / "profile", extensions={FIREFOX_EXTENSION_ID: ext}, env={**profile.env, "HOME": str(home)},
                          prefs={"extensions.background.idle.timeout": 2000})
        try:
            probe = browser.new_page(browser.extension_url(FIREFOX_EXTENSION_ID, "probe.html"))
            starts = lambda: probe.evaluate("chrome.storage.session.get('starts').then((v) => v.starts || 0)")
            assert starts() == 1
            time.sleep(4)
            page = browser.new_page(f"{site.origin}/", ready="typeof chrome === 'object' && typeof chrome.socket === 'object'")
            assert page.evaluate(SOCKET_JS.replace("PORT", str(echo.port))) == {"res": [0], "lastError": None}
            assert starts() == 2, "the idle background script was never suspended: the pref did not apply"
            time.sleep(6)
            assert page.evaluate("roundTrip('still here\\n')") == "still here\n"
            assert starts() == 2 and not echo.peer_closed.is_set()
        finally:
            browser.close()
            site.close()


def test_firefox_options_page_shows_the_host_and_the_grants_and_revokes_one(firefox) -> None:
    """The options page (docs/extension.md, "Options page") in Firefox: host status, self-test, the grants list,
    and Revoke, which the host's config dir then lacks (as `resocket grants` reads it)."""
    browser, site, profile = firefox
    other = "https://example.com"
    profile.grant(other, ["udp-send-to:*:*"])
    page = browser.new_page(browser.extension_url(FIREFOX_EXTENSION_ID, "options.html"),
                            ready="document.getElementById('host-status').dataset.state !== 'checking' && "
                                  "document.getElementById('grants-result').dataset.state !== 'checking'")
    shown = lambda i: page.evaluate(f"document.getElementById('{i}').textContent")
    assert page.evaluate("document.getElementById('host-status').dataset.state") == "ok", shown("host-status")
    assert shown("protocol-status") == "1 (matches the extension)"
    page.evaluate("document.getElementById('self-test').click() || true")
    page.wait_for("document.getElementById('self-test-result').dataset.state !== 'running'")
    assert page.evaluate("document.getElementById('self-test-result').dataset.state") == "ok", shown("self-test-result")
    listed = page.evaluate("[...document.querySelectorAll('#grants-list li')].map((li) => li.dataset.origin)")
    assert {site.origin, other} <= set(listed), listed
    page.evaluate(f"document.querySelector('#grants-list li[data-origin=\"{other}\"] button.revoke-grant').click() || true")
    page.wait_for(f"document.getElementById('grants-result').textContent === 'Revoked {other}: reload its pages'")
    assert other not in profile.cli("grants") and site.origin in profile.cli("grants")
