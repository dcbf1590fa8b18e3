"""chrome.sockets.tcp / .tcpServer / .udp: every scenario (scenarios/sockets_*.js) runs in Chrome's own
implementation (a generated Chrome App with the "sockets" manifest key) and through resocket (a page of the
resocket extension, whose shim talks to this checkout's resocket-host), in one browser, against the same
loopback servers.

- Chrome's transcript must equal the committed one (golden/chrome/sockets_*.json): that pins what Chromium
  does. RESOCKET_UPDATE_GOLDEN=1 rewrites the files; review the diff.
- resocket's transcript must equal Chrome's, call by call and, per socket, event by event (sockets_lib.js).
- scenarios/narrow_sockets.js runs the same way where the permissions are narrow: a second Chrome App whose
  "sockets" key is NARROW_SOCKETS_KEY, and a web page whose origin resocket granted the same rules.
Deliberate differences are strict xfails with a row in docs/compatibility.md ("chrome.sockets").
"""
from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .cdp import Session
from .conftest import BrowserPool
from .fidelity import TlsWorld, open_narrow_world, open_tls_world, write_narrow_app
from .oracle import SCENARIOS, attach_background_page, write_chrome_app
from .resocket_side import (
    EXTENSION_ID,
    SCENARIO_PAGE,
    extension_available,
)

pytestmark = pytest.mark.skipif(not extension_available(), reason="extension/chrome-socket.js not there yet")

GOLDEN = Path(__file__).parent / "golden" / "chrome"
# The key of docs/chrome-behaviour.md 9: everything on the loopback, multicast included.
SOCKETS_KEY = {"tcp": {"connect": "*"}, "tcpServer": {"listen": "*"},
               "udp": {"bind": "*", "send": "*", "multicastMembership": ""}}
# Narrow: hosts matched as given (before DNS), no tcpServer and no multicast key at all.
NARROW_SOCKETS_KEY = {"tcp": {"connect": "localhost:*"}, "udp": {"bind": "127.0.0.1:*", "send": "localhost:*"}}
NARROW_SOCKETS_RULES = ["tcp-connect:localhost:*", "udp-bind:127.0.0.1:*", "udp-send-to:localhost:*"]
SCENARIO_NAMES = sorted(p.stem for p in SCENARIOS.glob("sockets_*.js") if p.stem != "sockets_lib")

# Deliberate differences (docs/compatibility.md, "chrome.sockets"), each a strict xfail. None at the moment:
# DnsQueryType (sockets_multicast), secure during a read (sockets_secure_reading) and listen on a listening
# server (sockets_server) now match Chrome.
DELIBERATE: dict[str, str] = {}


def expression(name: str, env: dict) -> str:
    lib = (SCENARIOS / "sockets_lib.js").read_text()
    body = (SCENARIOS / f"{name}.js").read_text().strip().rstrip(";")
    return f"(async () => {{\n{lib}\nreturn await ({body})({json.dumps(env)});\n}})()"


# What a page still has open in the three namespaces (a scenario closes every socket it creates or accepts;
# sockets_lib.js's start() closes an earlier scenario's leftovers, unrecorded).
OPEN_SOCKETS = """(async () => {
  const open = {};
  for (const ns of ["tcp", "tcpServer", "udp"]) {
    open[ns] = (await new Promise((resolve) => chrome.sockets[ns].getSockets(resolve))).length;
  }
  return open;
})()"""


def run(page: Session, name: str, env: dict) -> list:
    transcript = page.evaluate(expression(name, env), timeout=60)
    assert page.evaluate(OPEN_SOCKETS) == {"tcp": 0, "tcpServer": 0, "udp": 0}, f"{name} left sockets open"
    return transcript


def dump(transcript: list) -> str:
    return "[\n" + ",\n".join(json.dumps(e, sort_keys=True) for e in transcript) + "\n]\n"


@pytest.fixture(scope="module")
def tls_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsWorld]:
    yield from open_tls_world(tmp_path_factory)


@pytest.fixture(scope="module")
def world(browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory, tls_world: TlsWorld):
    """One browser: the Chrome App, the narrow Chrome App and the resocket extension (its page, and a web page
    of a narrowly granted origin); both trust the TLS test CA."""
    root = tmp_path_factory.mktemp("sockets-differential")
    yield from open_narrow_world(browsers, root, "sockets-differential",
                                 write_chrome_app(root / "oracle-app", rules=[], sockets=SOCKETS_KEY),
                                 write_narrow_app(root / "narrow-app", rules=[], sockets=NARROW_SOCKETS_KEY),
                                 NARROW_SOCKETS_RULES, tls_world)


@pytest.fixture(scope="module")
def pages(browsers: BrowserPool, world) -> tuple[Session, Session]:
    browser = world[0]
    chrome = attach_background_page(browser)
    browsers.pages.append(chrome)
    return chrome, browsers.open_page(browser, f"chrome-extension://{EXTENSION_ID}/{SCENARIO_PAGE}", "sockets")


@pytest.fixture(scope="module")
def narrow_pages(browsers: BrowserPool, world) -> tuple[Session, Session]:
    browser, site, narrow_chrome = world
    return narrow_chrome, browsers.open_page(browser, f"{site.origin}/", "sockets")


@pytest.fixture(scope="module")
def env(scenario_ports: dict, tls_world: TlsWorld) -> dict:
    return {"ports": {"tcpPort": scenario_ports["tcp_port"], "udpPort": scenario_ports["udp_port"],
                      "closedPort": scenario_ports["closed"], "mcastPort": scenario_ports["mcast_port"],
                      **tls_world.ports}}


def test_the_chrome_app_has_chrome_sockets_and_the_resocket_page_has_the_same_surface(pages) -> None:
    # If this fails, Chromium dropped chrome.sockets for Chrome Apps: the oracle has lost its reference.
    surface = ("Object.fromEntries(['tcp', 'tcpServer', 'udp'].map((ns) => "
               "[ns, Object.keys(chrome.sockets[ns]).sort()]))")
    chrome, resocket = pages
    expected = chrome.evaluate(surface)
    assert "listen" in expected["tcpServer"] and "onReceive" in expected["udp"]
    assert resocket.evaluate(surface) == expected


SIGNATURES_JS = r"""(() => {
  const out = {};
  for (const ns of ["tcp", "tcpServer", "udp"]) {
    const api = chrome.sockets[ns];
    for (const name of Object.keys(api).sort()) {
      if (typeof api[name] !== "function") continue;
      try { api[name](Symbol("x"), () => {}); out[ns + "." + name] = "no throw"; }
      catch (e) { out[ns + "." + name] = String(e.message); }
    }
  }
  // Data as a view (taken, its own bytes), a look-alike (refused), enum values (matched as strings first).
  // NONE: no socket has that id, so a call Chrome takes only fails (lastError) and touches nothing.
  const NONE = 987654;
  const bad = [["tcp", "send", [NONE, new Uint8Array(2)]], ["udp", "send", [NONE, new DataView(new ArrayBuffer(2)),
               "127.0.0.1", 9]], ["tcp", "send", [NONE, {[Symbol.toStringTag]: "ArrayBuffer"}]],
               ["tcp", "connect", [NONE, "127.0.0.1", 9, "IPV4"]], ["udp", "send", [NONE, new ArrayBuffer(1),
               "127.0.0.1", 9, "v6"]], ["tcp", "connect", [NONE, "127.0.0.1", 9, 4]]];
  bad.forEach(([ns, name, args], i) => {
    try { chrome.sockets[ns][name](...args, () => {}); out["bad " + i] = "no throw"; }
    catch (e) { out["bad " + i] = String(e.message); }
  });
  return out;
})()"""


def test_every_method_refuses_a_bad_argument_with_chromes_signature(pages) -> None:
    """The renderer's check of every chrome.sockets.* method: the signature in the message (its callback optional
    or not, i.e. a Promise without one or a TypeError) is Chrome's, word for word."""
    chrome, resocket = pages
    expected = chrome.evaluate(SIGNATURES_JS)
    assert "udp.send" in expected and "tcpServer.listen" in expected
    assert resocket.evaluate(SIGNATURES_JS) == expected


@pytest.mark.parametrize("name", [pytest.param(n, marks=[pytest.mark.xfail(reason=DELIBERATE[n], strict=True)]
                                               if n in DELIBERATE else []) for n in SCENARIO_NAMES])
def test_resocket_sockets_transcript_equals_chrome(pages, env: dict, name: str) -> None:
    compare(pages, env, name)


def test_resocket_with_narrow_grants_equals_chrome_with_a_narrow_sockets_key(narrow_pages, env: dict) -> None:
    compare(narrow_pages, env, "narrow_sockets")


def compare(pages: tuple[Session, Session], env: dict, name: str) -> None:
    chrome_page, resocket_page = pages
    chrome = run(chrome_page, name, env)
    assert not [e for e in chrome if "threw" in e], chrome
    golden = GOLDEN / f"{name}.json"
    if os.environ.get("RESOCKET_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(dump(chrome))
    pinned = golden.read_text()
    if dump(chrome) != pinned:
        pytest.fail(f"Chromium's {name} changed (see RESOCKET_UPDATE_GOLDEN):\n{unified(pinned, dump(chrome), 'golden')}")
    expected, actual = dump(chrome), dump(run(resocket_page, name, env))
    if actual != expected:
        pytest.fail(f"resocket differs from Chrome in {name}:\n{unified(expected, actual, 'chrome', 'resocket')}")


def unified(expected: str, actual: str, was: str, now: str = "chrome") -> str:
    return "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), was, now))
