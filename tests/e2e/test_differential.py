"""Differential test: every scenario runs in Chrome's own chrome.socket (a generated Chrome App) and
through resocket (a page of the resocket extension, talking to this checkout's resocket-host), in the
same browser, against the same loopback servers; the transcripts must be equal value by value.

Normalisation happens only in scenarios/lib.js and only for what differs by environment (ephemeral
ports; socket ids are compared relative to the scenario's first id). Deliberate differences belong in
docs/compatibility.md; a difference found here is a bug until it is written down there.
"""
from __future__ import annotations

import difflib

import pytest

from .conftest import BrowserPool
from .oracle import SCENARIO_RUNS, attach_background_page, make_env, run_scenario, write_chrome_app
from .resocket_side import (
    ALL_RULES,
    EXTENSION_ID,
    EXTENSION_ORIGIN,
    SCENARIO_PAGE,
    ResocketProfile,
    copy_extension,
    extension_available,
)
from .test_chrome_oracle import dump_transcript

pytestmark = pytest.mark.skipif(not extension_available(),
                                reason="extension/manifest.json or extension/chrome-socket.js not there yet")


@pytest.fixture(scope="module")
def pages(browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("differential")
    app = write_chrome_app(root / "oracle-app")
    ext = copy_extension(root / "extension")
    profile = ResocketProfile(root / "profile")
    profile.grant(EXTENSION_ORIGIN, ALL_RULES)
    browser = browsers.launch("differential", profile.user_data_dir, extensions=[app, ext], env=profile.env)
    chrome = attach_background_page(browser)
    resocket = browser.new_page(f"chrome-extension://{EXTENSION_ID}/{SCENARIO_PAGE}",
                                ready="typeof chrome.socket === 'object'")
    browsers.pages += [chrome, resocket]
    browsers.host_logs.append(profile.host_log)
    return chrome, resocket


# Deliberate differences (docs/compatibility.md), each a strict xfail: it fails loudly once the two agree.
DELIBERATE = {
    ("udp_localhost", "udp"): "docs/compatibility.md, sendTo('localhost'): Chrome resolves localhost to ::1 first "
                              "and gives {bytesWritten: -109}; resocket uses getaddrinfo and delivers the datagram",
}


def _runs() -> list:
    return [pytest.param(n, p, id=f"{n}-{p}", marks=[pytest.mark.xfail(reason=DELIBERATE[(n, p)], strict=True)]
                         if (n, p) in DELIBERATE else []) for n, p in SCENARIO_RUNS]


@pytest.mark.parametrize("name,protocol", _runs())
def test_resocket_transcript_equals_chrome(pages, scenario_ports: dict, name: str, protocol: str) -> None:
    chrome_page, resocket_page = pages
    env = make_env(protocol, **scenario_ports)
    expected = dump_transcript(run_scenario(chrome_page, name, env))
    actual = dump_transcript(run_scenario(resocket_page, name, env))
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            "chrome", "resocket"))
        pytest.fail(f"resocket differs from Chrome in {name}-{protocol}:\n{diff}")
