"""The extension's options page in Debian's Chromium with the real host: status, self-test, the grants list
with Revoke (grants.list / grants.revoke), the "no host installed" state with its fix, and a web page that
cannot reach the grants ops through the relay. A screenshot of the working page is kept as
test-artifacts/options.png."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from resocket import __version__

from .conftest import ARTIFACTS, BrowserPool
from .resocket_side import EXTENSION_ID, ResocketProfile, StaticServer, copy_extension, extension_available

pytestmark = pytest.mark.skipif(not extension_available(), reason="extension/ not there yet")

OPTIONS_URL = f"chrome-extension://{EXTENSION_ID}/options.html"
PAGE_ORIGIN = "http://localhost:8080"
OTHER_ORIGIN = "https://example.com"
MANAGED_ORIGIN = "https://intranet.example"
MANAGED_RULE = "tcp-connect:db.example.com:5432"
WEB_PAGE = '<!DOCTYPE html><meta charset="utf-8"><title>a web page</title><p>hi</p>\n'


@pytest.fixture(scope="module")
def site(browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("options")
    profile = ResocketProfile(root / "profile")
    # The machine's managed grants (docs/deploy.md): the administrator's, which the page shows but cannot revoke.
    profile.env["RESOCKET_SYSTEM_CONFIG_DIR"] = str(root / "system")
    profile.cli("grant", "--scope", "system", MANAGED_ORIGIN, MANAGED_RULE)
    profile.grant(PAGE_ORIGIN, ["tcp-connect:localhost:8080"])
    profile.grant(OTHER_ORIGIN, ["udp-send-to:*:*"])
    server = StaticServer.of_pages(root / "www", {"index.html": WEB_PAGE})
    ext = copy_extension(root / "extension")
    browser = browsers.launch_resocket("options", profile, [ext])
    yield browser, profile, server
    server.close()


def open_options(browsers: BrowserPool, browser):
    page = browser.new_page(OPTIONS_URL, ready="document.readyState === 'complete' && "
                                               "document.getElementById('host-status').dataset.state !== 'checking' && "
                                               "document.getElementById('grants-result').dataset.state !== 'checking'")
    browsers.pages.append(page)
    return page


def text(page, element_id: str) -> str:
    return page.evaluate(f"document.getElementById({json.dumps(element_id)}).textContent")


def state(page, element_id: str) -> str:
    return page.evaluate(f"document.getElementById({json.dumps(element_id)}).dataset.state")


def grants_shown(page) -> dict[str, str]:
    return page.evaluate("""Object.fromEntries([...document.querySelectorAll('#grants-list li')].map(
        (li) => [li.dataset.origin, li.querySelector('code.rules').textContent]))""")


def test_options_page_shows_host_self_test_and_grants_then_revokes_one(browsers: BrowserPool, site) -> None:
    browser, profile, _ = site
    page = open_options(browsers, browser)
    assert state(page, "host-status") == "ok", text(page, "host-status")
    assert text(page, "host-version") == f"resocket-host {__version__}"
    assert text(page, "protocol-status") == "1 (matches the extension)"
    assert text(page, "extension-rules") == "none (no grant)"

    page.evaluate("document.getElementById('self-test').click()")
    page.wait_for("document.getElementById('self-test-result').dataset.state !== 'running'")
    assert state(page, "self-test-result") == "ok", text(page, "self-test-result")
    assert '"socketType":"udp"' in text(page, "self-test-result")

    assert grants_shown(page) == {PAGE_ORIGIN: "tcp-connect:localhost:8080", OTHER_ORIGIN: "udp-send-to:*:*",
                                  MANAGED_ORIGIN: MANAGED_RULE}
    assert "resocket revoke ORIGIN" in text(page, "cli-commands")
    ARTIFACTS.mkdir(exist_ok=True)
    height = page.evaluate("document.documentElement.scrollHeight")
    page.send("Emulation.setDeviceMetricsOverride", {"width": 900, "height": height, "deviceScaleFactor": 1,
                                                     "mobile": False})
    page.screenshot(ARTIFACTS / "options.png")
    page.send("Emulation.clearDeviceMetricsOverride")

    page.evaluate(f"""document.querySelector('#grants-list li[data-origin="{OTHER_ORIGIN}"] button.revoke-grant')
                      .click()""")
    page.wait_for(f"""document.getElementById('grants-result').textContent === 'Revoked {OTHER_ORIGIN}: reload its pages'""")
    assert grants_shown(page) == {PAGE_ORIGIN: "tcp-connect:localhost:8080", MANAGED_ORIGIN: MANAGED_RULE}
    # The grant is gone where the host keeps it, as the command line sees it.
    listed = profile.cli("grants")
    assert OTHER_ORIGIN not in listed and PAGE_ORIGIN in listed, listed


def managed_rows(page) -> dict[str, dict]:
    return page.evaluate("""Object.fromEntries([...document.querySelectorAll('#grants-list li')].map((li) => [
        li.dataset.origin, {managed: li.dataset.managed || null, revoke: !!li.querySelector('button.revoke-grant'),
                            note: (li.querySelector('span.managed') || {}).textContent || null}]))""")


def test_managed_grants_are_shown_as_such_without_revoke_and_a_lock_hides_the_users(browsers: BrowserPool,
                                                                                     site) -> None:
    browser, profile, _ = site
    profile.grant(PAGE_ORIGIN, ["tcp-connect:localhost:8080"])  # whatever the first test left
    page = open_options(browsers, browser)
    rows = managed_rows(page)
    assert rows[MANAGED_ORIGIN] == {"managed": "all", "revoke": False, "note": "managed by your administrator"}
    assert rows[PAGE_ORIGIN] == {"managed": None, "revoke": True, "note": None}
    assert page.evaluate("document.getElementById('grants-locked').hidden") is True

    profile.cli("grant", "--scope", "system", PAGE_ORIGIN, "udp-bind:*:*")
    profile.cli("grants", "--lock")
    page.evaluate("document.getElementById('refresh-grants').click()")
    page.wait_for("document.getElementById('grants-locked').hidden === false")
    page.wait_for("document.getElementById('grants-result').dataset.state === 'ok'")
    # Locked: the user's tcp-connect rule no longer counts, and nothing of the user's is left to revoke.
    assert grants_shown(page) == {PAGE_ORIGIN: "udp-bind:*:*", MANAGED_ORIGIN: MANAGED_RULE}
    assert managed_rows(page)[PAGE_ORIGIN] == {"managed": "all", "revoke": False,
                                               "note": "managed by your administrator"}
    profile.cli("grants", "--unlock")
    page.evaluate("document.getElementById('refresh-grants').click()")
    page.wait_for("document.getElementById('grants-locked').hidden === true")
    page.wait_for("document.getElementById('grants-result').dataset.state === 'ok'")
    assert managed_rows(page)[PAGE_ORIGIN] == {"managed": "some", "revoke": True,
                                               "note": "managed by your administrator: udp-bind:*:*"}
    page.evaluate(f"""document.querySelector('#grants-list li[data-origin="{PAGE_ORIGIN}"] button.revoke-grant')
                      .click()""")
    page.wait_for("document.getElementById('grants-result').textContent.startsWith('Revoked your rules')")
    assert grants_shown(page)[PAGE_ORIGIN] == "udp-bind:*:*"
    profile.cli("revoke", "--scope", "system", PAGE_ORIGIN)
    profile.grant(PAGE_ORIGIN, ["tcp-connect:localhost:8080"])  # as the module's other tests expect it


def test_options_page_without_host_names_install_then_doctor(browsers: BrowserPool, site) -> None:
    browser, profile, _ = site
    system_wide = Path("/etc/chromium/native-messaging-hosts/org.resocket.host.json")
    if system_wide.exists():
        pytest.skip(f"{system_wide} registers a host for every profile")
    manifests = list((Path(profile.user_data_dir) / "NativeMessagingHosts").glob("*.json"))
    assert manifests, "resocket install registered no host manifest in the user-data-dir"
    hidden = [m.rename(m.with_suffix(".hidden")) for m in manifests]
    try:
        page = open_options(browsers, browser)
        assert state(page, "host-status") == "error"
        status = text(page, "host-status")
        assert "Specified native messaging host not found." in status, status
        assert "run `resocket install`, then `resocket doctor`" in status, status
        assert state(page, "grants-result") == "error"
        assert "run `resocket install`, then `resocket doctor`" in text(page, "grants-result")
        assert grants_shown(page) == {}
        page.evaluate("document.getElementById('self-test').click()")
        page.wait_for("document.getElementById('self-test-result').dataset.state !== 'running'")
        assert state(page, "self-test-result") == "error"
        assert "resocket install" in text(page, "self-test-result")
    finally:
        for m in hidden:
            m.rename(m.with_suffix(".json"))
    # Once the host is back, "Check again" finds it, and the grants with it.
    page.evaluate("document.getElementById('refresh-status').click()")
    page.wait_for("document.getElementById('host-status').dataset.state === 'ok' && "
                  "document.getElementById('grants-result').dataset.state === 'ok'")
    assert PAGE_ORIGIN in grants_shown(page)


def test_web_page_cannot_list_or_revoke_grants_through_the_relay(browsers: BrowserPool, site) -> None:
    """A compromised page speaks the relay envelope itself: the host still refuses the grants ops."""
    browser, profile, server = site
    page = browser.new_page(f"http://localhost:{server.port}/",
                            ready="typeof chrome === 'object' && typeof chrome.socket === 'object'")
    browsers.pages.append(page)
    replies = page.evaluate("""new Promise((resolve) => {
        const link = 'evil-' + Math.random();
        const got = {};
        const up = (type, extra) => window.postMessage(
          Object.assign({channel: 'org.resocket.page/1', dir: 'up', link, type}, extra), '*');
        addEventListener('message', (e) => {
          const d = e.data;
          if (!d || d.channel !== 'org.resocket.page/1' || d.dir !== 'down' || d.link !== link) return;
          if (d.type === 'opened') {
            up('msg', {msg: {id: 1, op: 'hello', args: {protocol: 1, client: 'evil'}}});
          } else if (d.type === 'msg') {
            got[d.msg.id] = d.msg;
            if (d.msg.id === 1) {
              up('msg', {msg: {id: 2, op: 'grants.list', args: {}}});
              up('msg', {msg: {id: 3, op: 'grants.revoke', args: {origin: 'http://localhost:8080'}}});
            }
            if (got[2] && got[3]) resolve(got);
          } else if (d.type === 'closed') resolve({closed: d.error, got});
        });
        up('open');
      })""")
    assert replies["1"]["result"]["origin"] == f"http://localhost:{server.port}", replies
    for rid in ("2", "3"):
        assert replies[rid]["error"]["code"] == "not_allowed", replies
    assert PAGE_ORIGIN in profile.cli("grants")
