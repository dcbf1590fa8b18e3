"""The shim's method tables and the host's operation tables name the same methods with the same arguments.

chrome.socket's and chrome.sockets.*'s methods are listed in several places: the shim's SOCKET_API and
SOCKETS_API (extension/chrome-socket.js: what a page can call and what it sends), the host's OPERATIONS and
SOCKETS_OPERATIONS (resocket.wire.protocol: what it accepts), and convert-app's API scan (resocket.cli.convert: what it
reports as supported). A method added, renamed or given another argument in one of them and not the others
would be refused by the host, or be reported to a converted app's author as missing. The shim's side is read by
node (tests/support/shim_tables.js): from the tables in its source, and from the chrome.socket and
chrome.sockets objects once it has run.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from resocket.cli import convert
from resocket.wire import protocol

REPO = Path(__file__).resolve().parents[1]

#: The host's argument kinds for the types the shim's signatures name (Chrome's renderer types).
KINDS = {"integer": protocol.INT, "string": protocol.STR, "boolean": protocol.BOOL, "binary": protocol.DATA,
         "socket.SocketType": protocol.SOCKET_TYPE}
#: Dictionaries the renderer checks member by member travel as objects; enums other than SocketType as strings.
DICTIONARY_SUFFIXES = (".SocketProperties", ".CreateOptions", ".SecureOptions")

#: Arguments of the protocol, not of Chrome's signatures, that the shim adds to some requests (docs/protocol.md):
#: a read through the data channel or read ahead, a write called back early, a secure() made while a read waited.
PROTOCOL_ONLY = {"read": ("dataChannel", "stream"), "write": ("behind",), "secure": ("readPending",)}
#: Operations the shim sends on its own, never as a method a page calls: flow control of chrome.sockets events.
SHIM_ONLY_OPERATIONS = {"sockets.ack"}


@pytest.fixture(scope="module")
def shim() -> dict[str, Any]:
    out = subprocess.run(["node", str(REPO / "tests" / "support" / "shim_tables.js")], capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def kind(shim_type: str) -> str:
    if shim_type in KINDS:
        return KINDS[shim_type]
    if shim_type.endswith(DICTIONARY_SUFFIXES):
        return protocol.OBJECT
    assert shim_type.endswith(".DnsQueryType"), f"a type this test does not know: {shim_type}"
    return protocol.STR


def as_sent(rows: list[dict], namespace: str = "") -> dict[str, list[tuple[str, str, bool]]]:
    """operation name -> [(argument, host kind, required)] as the shim sends each method's call."""
    return {(f"{namespace}.{row['name']}" if namespace else row["name"]):
            [(p["name"], kind(p["type"]), not p["optional"]) for p in row["params"]] for row in rows}


def as_accepted(operations: dict[str, protocol.Operation], names: set[str]) -> dict[str, list[tuple[str, str, bool]]]:
    """The same for the host's table, leaving out the arguments only the protocol has (PROTOCOL_ONLY)."""
    accepted = {}
    for name in names:
        extra = PROTOCOL_ONLY.get(name, ()) if "." not in name else ()
        args = operations[name].args
        assert [a.name for a in args if a.name in extra] == list(extra), f"{name}: {extra} is not in the host's table"
        assert all(not a.required for a in args if a.name in extra), f"{name}: a protocol-only argument is required"
        accepted[name] = [(a.name, a.kind, a.required) for a in args if a.name not in extra]
    return accepted


def test_chrome_socket_methods_are_the_host_operations_with_the_same_arguments(shim: dict[str, Any]) -> None:
    sent = as_sent(shim["tables"]["socket"])
    assert sorted(sent) == sorted(protocol.SOCKET_OPERATIONS)
    assert sent == as_accepted(protocol.OPERATIONS, set(protocol.SOCKET_OPERATIONS))


def test_chrome_sockets_methods_are_the_host_operations_with_the_same_arguments(shim: dict[str, Any]) -> None:
    sent: dict[str, list[tuple[str, str, bool]]] = {}
    for namespace, rows in shim["tables"]["sockets"].items():
        sent.update(as_sent(rows, namespace))
    hosted = set(protocol.SOCKETS_OPERATIONS) - SHIM_ONLY_OPERATIONS
    assert sorted(sent) == sorted(hosted)
    assert sent == as_accepted(protocol.SOCKETS_OPERATIONS, hosted)


def test_what_a_page_sees_is_the_tables_and_what_convert_app_reports_as_supported(shim: dict[str, Any]) -> None:
    """The installed objects hold every table row, and convert-app's scan calls exactly those members
    (methods, events and the DnsQueryType enum) supported: nothing a converted app uses is misreported."""
    surface, tables = shim["surface"], shim["tables"]
    assert set(surface["socket"]) == {row["name"] for row in tables["socket"]} == convert.SOCKET_METHODS
    assert set(surface["sockets"]) == set(tables["sockets"]) == set(convert.SOCKETS_MEMBERS)
    for namespace, members in surface["sockets"].items():
        methods = {row["name"] for row in tables["sockets"][namespace]}
        assert set(members) - methods == set(tables["events"][namespace]) | (
            {"DnsQueryType"} if namespace != "tcpServer" else set()), namespace
        assert set(members) == convert.SOCKETS_MEMBERS[namespace], namespace


@pytest.mark.parametrize("table,row,problem", [
    ("socket", {"name": "read", "params": [{"name": "socketId", "type": "integer", "optional": False},
                                            {"name": "size", "type": "integer", "optional": True}]}, "renamed"),
    ("socket", {"name": "frobnicate", "params": []}, "added"),
])
def test_a_shim_table_that_drifts_is_caught(shim: dict[str, Any], table: str, row: dict, problem: str) -> None:
    """The checker itself: an argument renamed, or a method added, in the shim's table no longer matches."""
    rows = [r for r in shim["tables"][table] if r["name"] != row["name"]] + [row]
    sent = as_sent(rows)
    assert sent != as_accepted(protocol.OPERATIONS, set(protocol.SOCKET_OPERATIONS)), problem
