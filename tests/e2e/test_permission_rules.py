"""Permission rules matched as Chrome matches them: a Chrome App whose manifest holds PERMISSION_RULES and a web
page whose origin resocket granted the same rules run scenarios/permission_rules.js in one browser; the
transcripts must be equal, and Chrome's must equal the recorded one (golden/chrome/permission_rules-tcp.json;
RESOCKET_UPDATE_GOLDEN=1 rewrites it).

The rules are ones both accept: the rules resocket refuses on purpose (docs/compatibility.md, "permission
rules") never reach a grant.
"""
from __future__ import annotations

import difflib

import pytest

from .conftest import BrowserPool
from .oracle import attach_background_page, run_scenario, write_chrome_app
from .resocket_side import BLANK_PAGE, ResocketProfile, StaticServer, copy_extension, extension_available
from .test_chrome_oracle import check_golden, dump_transcript

PERMISSION_RULES = [
    "tcp-connect:*.example.com:80", "tcp-connect:.example.org:*", "tcp-connect:Mixed.Case.test:*",
    "tcp-connect:10.1.2.3:*", "tcp-connect:*.2.3:*", "tcp-connect:127.0.0.1:65535", "tcp-connect:localhost:7",
    "udp-bind::*", "udp-send-to:*:9", "tcp-listen:127.0.0.1:",
]

pytestmark = pytest.mark.skipif(not extension_available(), reason="extension/ not there yet")


@pytest.fixture(scope="module")
def pages(browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("permission-rules")
    app = write_chrome_app(root / "rules-app", PERMISSION_RULES)
    ext = copy_extension(root / "extension")
    site = StaticServer.of_pages(root / "www", {"index.html": BLANK_PAGE})
    profile = ResocketProfile(root / "profile")
    profile.grant(site.origin, PERMISSION_RULES)
    browser = browsers.launch_resocket("permission-rules", profile, [app, ext])
    chrome = attach_background_page(browser)
    browsers.pages.append(chrome)
    yield chrome, browsers.open_page(browser, f"{site.origin}/")
    site.close()


def test_requests_meet_the_rules_as_in_chrome(pages) -> None:
    chrome_page, resocket_page = pages
    env = {"protocol": "tcp", "ports": {}}
    transcript = run_scenario(chrome_page, "permission_rules", env)
    check_golden(transcript, "permission_rules", "tcp")  # RESOCKET_UPDATE_GOLDEN=1 rewrites it
    chrome = dump_transcript(transcript)
    resocket = dump_transcript(run_scenario(resocket_page, "permission_rules", env))
    if resocket != chrome:
        pytest.fail("resocket's rule matching differs from Chrome's:\n" + "".join(
            difflib.unified_diff(chrome.splitlines(True), resocket.splitlines(True), "chrome", "resocket")))
