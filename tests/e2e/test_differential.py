"""Differential test: every scenario runs in Chrome's own chrome.socket (a generated Chrome App) and
through resocket (a page of the resocket extension, talking to this checkout's resocket-host), in the
same browser, against the same loopback servers; the transcripts must be equal value by value.

Normalisation happens only in scenarios/lib.js and only for what differs by environment (ephemeral
ports; socket ids are compared relative to the scenario's first id). Deliberate differences belong in
docs/compatibility.md; a difference found here is a bug until it is written down there.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterator

import pytest

from .conftest import BrowserPool
from .fidelity import (
    FIDELITY_RUNS,
    NARROW_RULES,
    NARROW_RUNS,
    TlsWorld,
    open_narrow_world,
    open_tls_world,
    write_narrow_app,
)
from .oracle import SCENARIO_RUNS, attach_background_page, run_scenario, write_chrome_app
from .resocket_side import (
    EXTENSION_ID,
    SCENARIO_PAGE,
    extension_available,
)
from .test_chrome_oracle import dump_transcript, scenario_env


@pytest.fixture(scope="module")
def tls_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsWorld]:
    yield from open_tls_world(tmp_path_factory)

pytestmark = pytest.mark.skipif(not extension_available(),
                                reason="extension/manifest.json or extension/chrome-socket.js not there yet")


@pytest.fixture(scope="module")
def world(browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory, tls_world: TlsWorld):
    """One browser: the oracle app, the narrow-permission app, and the resocket extension (fidelity.py)."""
    root = tmp_path_factory.mktemp("differential")
    yield from open_narrow_world(browsers, root, "differential", write_chrome_app(root / "oracle-app"),
                                 write_narrow_app(root / "narrow-app"), NARROW_RULES, tls_world)


@pytest.fixture(scope="module")
def pages(browsers: BrowserPool, world):
    browser = world[0]
    chrome = attach_background_page(browser)
    browsers.pages.append(chrome)
    return chrome, browsers.open_page(browser, f"chrome-extension://{EXTENSION_ID}/{SCENARIO_PAGE}")


@pytest.fixture(scope="module")
def narrow_pages(browsers: BrowserPool, world):
    """Chrome: an app whose manifest has only NARROW_RULES; resocket: a web page granted the same."""
    browser, site, chrome = world
    return chrome, browsers.open_page(browser, f"{site.origin}/")


# Deliberate differences (docs/compatibility.md), each a strict xfail: it fails loudly once the two agree.
DELIBERATE: dict[tuple[str, str], str] = {}


def _runs(runs: list[tuple[str, str]]) -> list:
    return [pytest.param(n, p, id=f"{n}-{p}", marks=[pytest.mark.xfail(reason=DELIBERATE[(n, p)], strict=True)]
                         if (n, p) in DELIBERATE else []) for n, p in runs]


@pytest.mark.parametrize("name,protocol", _runs(SCENARIO_RUNS + FIDELITY_RUNS))
def test_resocket_transcript_equals_chrome(pages, scenario_ports: dict, tls_world: TlsWorld,
                                           name: str, protocol: str) -> None:
    compare(pages, name, protocol, scenario_env(name, protocol, scenario_ports, tls_world))


@pytest.mark.parametrize("name,protocol", _runs(NARROW_RUNS))
def test_resocket_with_a_narrow_grant_equals_chrome_with_a_narrow_manifest(
        narrow_pages, scenario_ports: dict, tls_world: TlsWorld, name: str, protocol: str) -> None:
    compare(narrow_pages, name, protocol, scenario_env(name, protocol, scenario_ports, tls_world))


def compare(pages: tuple, name: str, protocol: str, env: dict) -> None:
    chrome_page, resocket_page = pages
    expected = dump_transcript(run_scenario(chrome_page, name, env))
    actual = dump_transcript(run_scenario(resocket_page, name, env))
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            "chrome", "resocket"))
        pytest.fail(f"resocket differs from Chrome in {name}-{protocol}:\n{diff}")


# The renderer's argument checks, asked of every method: a Symbol matches no signature, so each call throws
# before anything runs, with the method's full signature in the message (which also tells whether its callback
# is optional, i.e. whether it returns a Promise without one); and options of the wrong shapes.
SIGNATURES_JS = r"""(() => {
  const api = chrome.socket, out = {};
  for (const name of Object.keys(api).sort()) {
    if (typeof api[name] !== "function") continue;
    try { api[name](Symbol("x"), () => {}); out[name] = "no throw"; } catch (e) { out[name] = String(e.message); }
  }
  // NONE: no socket has that id, so a call Chrome takes only fails (lastError) and touches nothing.
  const NONE = 987654;
  const bad = [["secure", [NONE, {tlsVersion: 5}]], ["secure", [NONE, {tlsVersion: {min: 5}}]],
               ["secure", [NONE, {tlsVersion: {max: []}}]], ["secure", [NONE, {other: 1}]],
               ["create", ["tcp", {foo: 1}]], ["create", ["tcp", 5]], ["read", [NONE, "100"]],
               // binary: a view is taken (scenario binary_views), an object dressed up as a buffer is not;
               // then more shapes Chromium 156 takes or refuses (enums match as strings first)
               ["write", [NONE, new Uint8Array(4)]], ["write", [NONE, Object.create(ArrayBuffer.prototype)]],
               ["write", [NONE, {[Symbol.toStringTag]: "ArrayBuffer", byteLength: 4}]],
               ["create", ["tcp", new Uint8Array(2)]], ["create", ["tcp", []]],
               ["create", ["tcp", Object.create(null)]], ["create", ["tcp", new Date(0)]],
               ["connect", [NONE, new String("localhost"), 80]], ["connect", [NONE, "localhost", 2 ** 31]],
               ["connect", [NONE, "localhost", 80.5]], ["connect", [NONE, "localhost", -0]],
               ["setKeepAlive", [NONE, true, "5"]], ["setKeepAlive", [NONE, 1, 5]],
               ["setNoDelay", [NONE, new Boolean(true)]], ["sendTo", [NONE, new ArrayBuffer(1), "127.0.0.1", "80"]],
               ["write", [NONE, new Float32Array(1)]], ["secure", [NONE, {tlsVersion: null}]],
               ["secure", [NONE, {tlsVersion: {min: null}}]], ["secure", [NONE, {tlsVersion: {min: "tls1.2", extra: 1}}]],
               ["secure", [NONE, []]], ["secure", [NONE, new Uint8Array(1)]],
               ["read", [NONE, 2 ** 31]], ["read", [NONE, -1]], ["read", [NONE, NaN]], ["read", [NONE, Infinity]],
               ["create", ["TCP"]], ["create", [new String("tcp")]], ["getInfo", ["1"]],
               ["listen", [NONE, "127.0.0.1", 80, "5"]], ["joinGroup", [NONE, 5]],
               ["setMulticastTimeToLive", [NONE, 1.5]], ["setMulticastLoopbackMode", [NONE, 0]]];
  bad.forEach(([name, args], i) => {
    try { api[name](...args, () => {}); out["bad " + i] = "no throw"; } catch (e) { out["bad " + i] = String(e.message); }
  });
  return out;
})()"""


def test_every_method_refuses_bad_arguments_in_chromes_words(pages) -> None:
    chrome_page, resocket_page = pages
    expected = chrome_page.evaluate(SIGNATURES_JS)
    assert len([k for k in expected if not k.startswith("bad ")]) == 21
    assert "optional function callback" in expected["create"]  # Chromium 156: create returns a Promise
    assert resocket_page.evaluate(SIGNATURES_JS) == expected
