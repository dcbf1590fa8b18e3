"""Chrome's own chrome.socket, run through a generated Chrome App: proves the harness and pins what
Chromium does, so the differential test has a trustworthy reference."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import BrowserPool
from .fidelity import (
    FIDELITY_RUNS,
    NARROW_RUNS,
    TlsWorld,
    attach_narrow_app,
    open_tls_world,
    with_tls_ports,
    write_narrow_app,
)
from .oracle import (
    CHROME_APP_ID,
    SCENARIO_RUNS,
    attach_background_page,
    make_env,
    run_scenario,
    write_chrome_app,
)


@pytest.fixture(scope="module")
def tls_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsWorld]:
    yield from open_tls_world(tmp_path_factory)


@pytest.fixture(scope="module")
def oracle_browser(browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory, tls_world: TlsWorld):
    root = tmp_path_factory.mktemp("app")
    app = write_chrome_app(root / "oracle-app")
    narrow = write_narrow_app(root / "narrow-app")
    browser = browsers.launch("oracle", extensions=[app, narrow], env=tls_world.browser_env)
    pages = attach_background_page(browser), attach_narrow_app(browser)  # attached, they are never unloaded
    browsers.pages.extend(pages)
    return pages


@pytest.fixture(scope="module")
def app_page(oracle_browser):
    return oracle_browser[0]


@pytest.fixture(scope="module")
def narrow_page(oracle_browser):
    return oracle_browser[1]


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


ALL_RUNS = SCENARIO_RUNS + FIDELITY_RUNS


def scenario_env(name: str, protocol: str, scenario_ports: dict, tls_world: TlsWorld) -> dict:
    return with_tls_ports(make_env(protocol, **scenario_ports), tls_world)


@pytest.mark.parametrize("name,protocol", ALL_RUNS, ids=[f"{n}-{p}" for n, p in ALL_RUNS])
def test_chrome_app_transcript_matches_the_recorded_chrome_behaviour(
        app_page, scenario_ports: dict, tls_world: TlsWorld, name: str, protocol: str) -> None:
    """Chrome's transcript equals the committed one (golden/chrome/*.json, one entry per line).

    The golden files document what Chromium does, entry by entry. RESOCKET_UPDATE_GOLDEN=1 rewrites them;
    review the diff: a change means Chromium changed behaviour (or a scenario changed).
    """
    transcript = run_scenario(app_page, name, scenario_env(name, protocol, scenario_ports, tls_world))
    check_golden(transcript, name, protocol)


@pytest.mark.parametrize("name,protocol", NARROW_RUNS, ids=[f"{n}-{p}" for n, p in NARROW_RUNS])
def test_chrome_app_with_narrow_permissions_matches_the_recorded_chrome_behaviour(
        narrow_page, scenario_ports: dict, tls_world: TlsWorld, name: str, protocol: str) -> None:
    """The same, in a Chrome App whose manifest allows only tcp-connect:localhost:* (fidelity.NARROW_RULES)."""
    transcript = run_scenario(narrow_page, name, scenario_env(name, protocol, scenario_ports, tls_world))
    check_golden(transcript, name, protocol)


def check_golden(transcript: list, name: str, protocol: str) -> None:
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
