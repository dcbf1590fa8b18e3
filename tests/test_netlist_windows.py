"""getNetworkList on Windows: Chrome's GetNetworkListImpl rule (network_interfaces_win.cc) over made-up
adapters, as GetAdaptersAddresses lists them. Pure data: runs on every OS (the Windows CI job included)."""
from __future__ import annotations

from resocket.engine.netlist import (
    IF_OPER_STATUS_UP,
    IF_TYPE_SOFTWARE_LOOPBACK,
    IP_DAD_STATE_PREFERRED,
    WinAdapter,
    WinAddress,
    chrome_windows_list,
)

ETHERNET = 6  # IF_TYPE_ETHERNET_CSMACD
WIFI = 71  # IF_TYPE_IEEE80211
IF_OPER_STATUS_DOWN = 2
IP_DAD_STATE_TENTATIVE = 1
IP_DAD_STATE_DEPRECATED = 3

WIRED = "{4D36E972-E325-11CE-BFC1-08002BE10318}"
WIRELESS = "{A1B2C3D4-0000-4000-8000-00000000CAFE}"


def test_the_list_keeps_windows_order_and_names_each_address_by_its_adapter_guid() -> None:
    adapters = [
        WinAdapter(WIRELESS, WIFI, IF_OPER_STATUS_UP, [WinAddress("fe80::1", 64), WinAddress("192.168.1.20", 24)]),
        WinAdapter(WIRED, ETHERNET, IF_OPER_STATUS_UP, [WinAddress("10.0.0.5", 8)]),
    ]
    assert chrome_windows_list(adapters) == [
        {"address": "fe80::1", "name": WIRELESS, "prefixLength": 64},
        {"address": "192.168.1.20", "name": WIRELESS, "prefixLength": 24},
        {"address": "10.0.0.5", "name": WIRED, "prefixLength": 8},
    ]


def test_loopback_and_adapters_that_are_not_up_are_left_out() -> None:
    adapters = [
        WinAdapter("{LOOPBACK}", IF_TYPE_SOFTWARE_LOOPBACK, IF_OPER_STATUS_UP, [WinAddress("127.0.0.1", 8),
                                                                              WinAddress("::1", 128)]),
        WinAdapter(WIRED, ETHERNET, IF_OPER_STATUS_DOWN, [WinAddress("10.0.0.5", 8)]),
    ]
    assert chrome_windows_list(adapters) == []


def test_only_addresses_whose_duplicate_detection_is_preferred_are_listed() -> None:
    adapters = [WinAdapter(WIRED, ETHERNET, IF_OPER_STATUS_UP, [
        WinAddress("2001:db8::1", 64, IP_DAD_STATE_TENTATIVE),
        WinAddress("2001:db8::2", 64, IP_DAD_STATE_DEPRECATED),
        WinAddress("2001:db8::3", 64, IP_DAD_STATE_PREFERRED),
    ])]
    assert chrome_windows_list(adapters) == [{"address": "2001:db8::3", "name": WIRED, "prefixLength": 64}]


def test_an_adapter_without_addresses_adds_nothing() -> None:
    assert chrome_windows_list([WinAdapter(WIRED, ETHERNET, IF_OPER_STATUS_UP)]) == []
