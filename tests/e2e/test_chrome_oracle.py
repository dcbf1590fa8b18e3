"""Chrome's own chrome.socket, run through a generated Chrome App: proves the harness and pins what
Chromium does, so the differential test has a trustworthy reference."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import BrowserPool
from .oracle import (
    CHROME_APP_ID,
    SCENARIO_RUNS,
    attach_background_page,
    make_env,
    run_scenario,
    write_chrome_app,
)


@pytest.fixture(scope="module")
def app_page(browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory):
    app = write_chrome_app(tmp_path_factory.mktemp("app") / "oracle-app")
    browser = browsers.launch("oracle", extensions=[app])
    page = attach_background_page(browser)
    browsers.pages.append(page)
    return page


def test_debian_chromium_still_runs_chrome_apps_with_chrome_socket(app_page) -> None:
    # If this fails, Chromium dropped Chrome Apps or chrome.socket: the oracle (and every
    # differential test) has lost its reference, and the reason to exist for resocket just grew.
    assert app_page.evaluate("location.href") == (
        f"chrome-extension://{CHROME_APP_ID}/_generated_background_page.html")
    assert app_page.evaluate("typeof chrome.socket") == "object"
    methods = app_page.evaluate("Object.keys(chrome.socket).sort()")
    for m in ["create", "destroy", "connect", "bind", "disconnect", "read", "write", "recvFrom", "sendTo",
              "listen", "accept", "setKeepAlive", "setNoDelay", "getInfo", "getNetworkList", "joinGroup",
              "leaveGroup", "setMulticastTimeToLive", "setMulticastLoopbackMode", "getJoinedGroups", "secure"]:
        assert m in methods


GOLDEN = Path(__file__).parent / "golden" / "chrome"


@pytest.mark.parametrize("name,protocol", SCENARIO_RUNS, ids=[f"{n}-{p}" for n, p in SCENARIO_RUNS])
def test_chrome_app_transcript_matches_the_recorded_chrome_behaviour(
        app_page, scenario_ports: dict, name: str, protocol: str) -> None:
    """Chrome's transcript equals the committed one (golden/chrome/*.json, one entry per line).

    The golden files document what Chromium does, entry by entry. RESOCKET_UPDATE_GOLDEN=1 rewrites them;
    review the diff: a change means Chromium changed behaviour (or a scenario changed).
    """
    transcript = run_scenario(app_page, name, make_env(protocol, **scenario_ports))
    assert not [e for e in transcript if "threw" in e], transcript
    golden = GOLDEN / f"{name}-{protocol}.json"
    if os.environ.get("RESOCKET_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(dump_transcript(transcript))
    assert dump_transcript(transcript) == golden.read_text()
    # The scenario's own checks (what Chromium's tests assert) hold in Chrome.
    for e in transcript:
        if "note" in e and not e["note"].endswith("result"):
            assert e["value"] is True, e


def dump_transcript(transcript: list) -> str:
    return "[\n" + ",\n".join(json.dumps(e, sort_keys=True) for e in transcript) + "\n]\n"
