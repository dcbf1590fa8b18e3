"""Legacy apps as Isolated Web Apps: chrome.socket and chrome.sockets over Direct Sockets, in real Chromium.

`resocket convert-app --target iwa` turns a Chrome App into an IWA whose shim talks to the in-page Direct
Sockets backend (host/resocket/data/iwa/direct-sockets.js) instead of resocket-host. Here the converted app is
installed at run time as a dev-mode proxy through chrome://iwa-dev (tests/e2e/iwa.py), granted Local Network
Access over CDP, and then:
- every oracle scenario runs in it and its transcript is compared with Chrome's own (golden/chrome/, the files
  the oracle tests pin); a scenario whose difference is a decision of docs/compatibility.md, "Isolated Web App
  backend", is a strict xfail naming that row, so it fails loudly once the two agree;
- examples/echo-app, unmodified, converted with --target iwa, exchanges its TCP and UDP echo.
There is no resocket-host in this module: nothing is registered for native messaging.
"""
from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import TcpServer, UdpEchoServer

from .conftest import BrowserPool
from .fidelity import FIDELITY_RUNS, TlsWorld, open_tls_world
from .iwa import IWA_FLAGS, START_PAGE, InstalledIwa, convert_to_iwa
from .oracle import ALL_SOCKET_RULES, SCENARIO_RUNS, run_scenario, write_chrome_app
from .test_chrome_oracle import GOLDEN, dump_transcript, scenario_env
from .test_sockets_differential import SCENARIO_NAMES, SOCKETS_KEY, dump
from .test_sockets_differential import run as run_sockets

REPO = Path(__file__).resolve().parents[2]

# Rows of docs/compatibility.md, "Isolated Web App backend".
ROW_ERRORS = "IWA: Direct Sockets reports no error detail (compatibility.md, Isolated Web App backend, errors)"
ROW_TLS = "IWA: no TLS upgrade for secure() (docs/compatibility.md, Isolated Web App backend, secure)"
ROW_UDP = "IWA: UDP and multicast through Direct Sockets (docs/compatibility.md, Isolated Web App backend, UDP)"
ROW_LISTEN = "IWA: TCPServerSocket takes ports >= 32768 only (compatibility.md, Isolated Web App backend, listen)"

# chrome.socket scenarios that cannot map, each a strict xfail: it fails loudly once the IWA gives Chrome's result.
DELIBERATE: dict[tuple[str, str], str] = {
    **{(name, "tcp"): ROW_LISTEN for name in ("tcp_server", "getinfo_shapes", "options_states", "lifecycle",
                                              "matrix_gaps", "port_edges", "listen_twice")},
    **{(name, "tcp"): ROW_TLS for name in ("tls", "tls_versions", "pending_aborts", "secure_busy")},
    ("dns", "tcp"): ROW_ERRORS, ("host_forms", "tcp"): ROW_ERRORS, ("peer_close", "tcp"): ROW_ERRORS,
    ("broadcast", "udp"): ROW_ERRORS,
    ("multicast", "udp"): ROW_UDP, ("multicast_families", "udp"): ROW_UDP,
}
# chrome.sockets scenarios that cannot map.
SOCKETS_DELIBERATE: dict[str, str] = {
    "sockets_tls": ROW_TLS, "sockets_secure_reading": ROW_TLS, "sockets_broadcast": ROW_ERRORS,
    "sockets_edges": ROW_ERRORS, "sockets_server": ROW_LISTEN,
}


@pytest.fixture(scope="module")
def tls_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsWorld]:
    yield from open_tls_world(tmp_path_factory)


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[str]]]:
    """The oracle's Chrome App (chrome.socket rules and the sockets key) and examples/echo-app, as IWAs."""
    root = tmp_path_factory.mktemp("iwa")
    app = write_chrome_app(root / "oracle-app", ALL_SOCKET_RULES, SOCKETS_KEY)
    out = {}
    for name, src in (("oracle", app), ("echo", REPO / "examples" / "echo-app")):
        out[name] = (root / f"{name}-iwa", convert_to_iwa(src, root / f"{name}-iwa", root / "config"))
    return out


@pytest.fixture(scope="module")
def browser(browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory, tls_world: TlsWorld):
    return browsers.launch("iwa", tmp_path_factory.mktemp("iwa-udd"), env=tls_world.browser_env,
                           extra_flags=IWA_FLAGS)


@pytest.fixture(scope="module")
def oracle_iwa(browser, converted) -> Iterator[InstalledIwa]:
    iwa = InstalledIwa(browser, converted["oracle"][0])
    yield iwa
    iwa.close()


@pytest.fixture(scope="module")
def page(browsers: BrowserPool, browser, oracle_iwa: InstalledIwa):
    session = browsers.open_page(browser, oracle_iwa.url(), "socket")
    session.wait_for("document.documentElement.dataset.launched === 'true'", what="onLaunched in the IWA")
    return session


def test_convert_app_target_iwa_writes_a_proxy_folder_and_a_signed_bundle_and_ends_with_its_url(converted) -> None:
    folder, lines = converted["oracle"]
    bundle_id = lines[-1].removeprefix("isolated-app://").rstrip("/")
    assert lines[-1] == f"isolated-app://{bundle_id}/" and bundle_id.endswith("aaic")
    manifest = json.loads((folder / ".well-known" / "manifest.webmanifest").read_text())
    assert manifest["start_url"] == f"/{START_PAGE}" and "direct-sockets" in manifest["permissions_policy"]
    assert "direct-sockets-multicast" in manifest["permissions_policy"]  # the app joins groups
    from resocket.cli import webbundle
    assert webbundle.verify_signed_bundle(folder.with_name(folder.name + ".swbn").read_bytes()) == bundle_id


def test_the_iwa_page_has_chrome_socket_on_direct_sockets_and_no_native_messaging(page) -> None:
    facts = page.evaluate("""({isolated: crossOriginIsolated, scheme: location.protocol,
        native: typeof (chrome.runtime && chrome.runtime.connectNative), tcp: typeof TCPSocket,
        backend: typeof __resocketDirectSockets, shim: chrome.socket.__resocket,
        sockets: Object.keys(chrome.sockets).sort()})""")
    assert facts == {"isolated": True, "scheme": "isolated-app:", "native": "undefined", "tcp": "function",
                     "backend": "object", "shim": "0.1.0", "sockets": ["tcp", "tcpServer", "udp"]}


def _runs(runs: list[tuple[str, str]]) -> list:
    return [pytest.param(n, p, id=f"{n}-{p}", marks=[pytest.mark.xfail(reason=DELIBERATE[(n, p)], strict=True)]
                         if (n, p) in DELIBERATE else []) for n, p in runs]


@pytest.mark.parametrize("name,protocol", _runs(SCENARIO_RUNS + FIDELITY_RUNS))
def test_chrome_socket_over_direct_sockets_gives_chromes_transcript(page, scenario_ports: dict, tls_world: TlsWorld,
                                                                    name: str, protocol: str) -> None:
    expected = (GOLDEN / f"{name}-{protocol}.json").read_text()
    actual = dump_transcript(run_scenario(page, name, scenario_env(name, protocol, scenario_ports, tls_world)))
    if actual != expected:
        pytest.fail(f"the IWA differs from Chrome in {name}-{protocol}:\n{_diff(expected, actual)}")


@pytest.mark.parametrize("name", [pytest.param(n, marks=[pytest.mark.xfail(reason=SOCKETS_DELIBERATE[n], strict=True)]
                                               if n in SOCKETS_DELIBERATE else []) for n in SCENARIO_NAMES])
def test_chrome_sockets_over_direct_sockets_gives_chromes_transcript(page, scenario_ports: dict,
                                                                     tls_world: TlsWorld, name: str) -> None:
    env = {"ports": {"tcpPort": scenario_ports["tcp_port"], "udpPort": scenario_ports["udp_port"],
                     "closedPort": scenario_ports["closed"], "mcastPort": scenario_ports["mcast_port"],
                     **tls_world.ports}}
    expected = (GOLDEN / f"{name}.json").read_text()
    actual = dump(run_sockets(page, name, env))
    if actual != expected:
        pytest.fail(f"the IWA differs from Chrome in {name}:\n{_diff(expected, actual)}")


def _diff(expected: str, actual: str) -> str:
    return "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), "chrome", "iwa"))


def test_echo_app_converted_to_an_iwa_echoes_over_tcp_and_udp(browsers: BrowserPool, browser, converted) -> None:
    """examples/echo-app, unmodified: its background page opens index.html (a frame of the IWA's window), whose
    form sends one message to a TCP and a UDP echo server."""
    iwa = InstalledIwa(browser, converted["echo"][0])
    tcp, udp = TcpServer(), UdpEchoServer()
    try:
        shell = browsers.open_page(browser, iwa.url(), "socket")
        shell.wait_for("document.querySelector('iframe') && frames[0].document.readyState === 'complete' && "
                       "frames[0].document.getElementById('run') !== null", what="the echo app's window")
        shell.evaluate(f"""(() => {{ const d = frames[0].document;
            d.getElementById('tcp-host').value = '127.0.0.1'; d.getElementById('tcp-port').value = '{tcp.port}';
            d.getElementById('udp-port').value = '{udp.port}'; d.getElementById('message').value = 'hello, iwa';
            d.getElementById('run').click(); }})()""")
        status = shell.wait_for("['ok', 'error'].includes(frames[0].document.body.dataset.status) && "
                                "frames[0].document.body.dataset.status", timeout=30, what="the echo to finish")
        log = shell.evaluate("frames[0].document.getElementById('log').textContent")
        assert status == "ok", log
        assert "tcp echo matches" in log and "udp echo matches" in log
        assert bytes(tcp.received) == b"hello, iwa"
    finally:
        tcp.close()
        udp.close()
        iwa.close()
