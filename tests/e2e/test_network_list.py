"""getNetworkList with real interfaces: Chrome's own (the Chrome App oracle) and resocket's, in one browser
started in a network namespace of its own, nested in the loopback-only one of the test run (tests/netns.sh),
so the namespace the other tests share keeps no interface but loopback (Chrome reads DNS failures by it).

The interfaces are veth pairs and a bridge: nothing they carry leaves the namespace. They cover what Chrome's list skips
(a link that is down, a loopback address on another interface, IPv6 addresses that are deprecated or
not yet through duplicate address detection) and what it keeps (secondary IPv4 addresses, IPv6 global and
link-local ones), in the order Chrome gives them.
"""
from __future__ import annotations

import shutil

import pytest

from .conftest import BrowserPool
from .oracle import attach_background_page, run_scenario, write_chrome_app
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

# Run by sh inside `unshare -n`, then exec'ing Chromium. Veth pairs (this kernel may lack the dummy driver),
# fixed MACs so link-local addresses read the same each run, no duplicate address detection (so no address is
# left tentative by timing); `nodad` likewise for the addresses added here.
SETUP = [
    "ip link set lo up",
    "echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad",
    "ip link add v0a address 02:00:00:00:00:0a type veth peer name v0b address 02:00:00:00:00:0b",
    "ip link set v0a addrgenmode none", "ip link set v0a up", "ip link set v0b up",
    "ip addr add 10.99.0.1/24 dev v0a", "ip addr add 10.99.1.7/16 dev v0a", "ip addr add 127.0.0.2/8 dev v0a",
    "ip addr add fd00:99::1/64 dev v0a nodad",
    "ip link add br1 type bridge",  # stays down
    "ip addr add 10.98.0.1/24 dev br1",
    "ip link add v2a address 02:00:00:00:00:2a type veth peer name v2b",
    "ip link set v2a up",  # up, but its peer is down: no carrier
    "ip addr add 192.168.77.5/32 dev v2a",
    "ip link add v3a address 02:00:00:00:00:3a type veth peer name v3b address 02:00:00:00:00:3b",
    "ip link set v3b addrgenmode none", "ip link set v3a up", "ip link set v3b up",
    "ip addr add 172.16.3.4/12 dev v3a",
    "ip addr add fd00:98::1/64 dev v3a nodad preferred_lft 0",  # deprecated
    "ip addr add fd00:97::5/128 dev v3a nodad",
    "ip addr add 10.97.0.9/24 dev v3b",
    "ip addr add 10.97.0.9/25 dev v0a",  # the same address on two links: Chrome lists it once
    "sleep 0.3",
]
INTERFACES = " && ".join(SETUP)

pytestmark = [
    pytest.mark.skipif(not extension_available(), reason="extension/ not there yet"),
    pytest.mark.skipif(shutil.which("unshare") is None or shutil.which("ip") is None,
                       reason="needs unshare and ip (util-linux, iproute2): installed by `make test`"),
]


@pytest.fixture(scope="module")
def pages(browsers: BrowserPool, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("network-list")
    app = write_chrome_app(root / "oracle-app")
    ext = copy_extension(root / "extension")
    profile = ResocketProfile(root / "profile")
    profile.grant(EXTENSION_ORIGIN, ALL_RULES)
    browser = browsers.launch_resocket("network-list", profile, [app, ext],
                                       prefix=["unshare", "-n", "sh", "-c", INTERFACES + ' && exec "$@"', "netns"])
    chrome = attach_background_page(browser)
    browsers.pages.append(chrome)
    return chrome, browsers.open_page(browser, f"chrome-extension://{EXTENSION_ID}/{SCENARIO_PAGE}")


def test_get_network_list_gives_what_chrome_gives(pages) -> None:
    chrome_page, resocket_page = pages
    env = {"protocol": "udp", "ports": {}}
    chrome = run_scenario(chrome_page, "network_list", env)
    listed = chrome[0]["value"]
    # The interfaces are there (so the comparison means something): Chrome lists v0a's first address.
    assert {"name": "v0a", "address": "10.99.0.1", "prefixLength": 24} in listed, listed
    resocket = run_scenario(resocket_page, "network_list", env)
    assert dump_transcript(resocket) == dump_transcript(chrome)
