"""Ungranted means refused (docs/grants.md, "An origin with no grant"), through a real resocket-host process: a
client whose origin holds no grant gets `not_granted` for every chrome.socket, chrome.sockets and data-channel
request, `create` included, with a message naming the `resocket grant` command for its exact origin; nothing
reaches the network and the process holds no socket at all. A granted origin whose rules do not match a call
still gets Chrome's answer (-1, "App does not have permission"), and so do the resocket extension's own pages,
which hold no grant but stand where a Chrome App with the socket permission and no rules stood."""
from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from resocket import EXTENSION_ORIGIN
from resocket.grants import GrantStore
from resocket.wire.protocol import (
    BOOL,
    COUNT,
    DATA,
    INT,
    OBJECT,
    OPERATIONS,
    SOCKET_OPERATIONS,
    SOCKET_TYPE,
    SOCKETS_API,
    SOCKETS_OPERATIONS,
    STR,
)

from tests.support.hostclient import HostClient

PAGE = "http://localhost:8080"
APP = "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"
#: A value of each argument kind that the host's validation accepts.
SAMPLE = {INT: 1, STR: "127.0.0.1", BOOL: True, OBJECT: {}, DATA: "aGk=", SOCKET_TYPE: "tcp", SOCKETS_API: "tcp",
          COUNT: 1}


@pytest.fixture
def sinks() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A TCP listener and a UDP socket on loopback: what an ungranted client's calls aim at."""
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    tcp.setblocking(False)
    udp.setblocking(False)
    yield tcp, udp
    tcp.close()
    udp.close()


def every_call(tcp_port: int, udp_port: int) -> list[tuple[str, dict]]:
    """Every chrome.socket and chrome.sockets operation with valid arguments, aimed at the sinks."""
    aimed = {"hostname": "127.0.0.1", "peerAddress": "127.0.0.1", "address": "127.0.0.1"}
    calls = []
    for name, op in [*((n, OPERATIONS[n]) for n in SOCKET_OPERATIONS), *SOCKETS_OPERATIONS.items()]:
        args = {a.name: aimed.get(a.name, SAMPLE[a.kind]) for a in op.args}
        if "port" in args or "peerPort" in args:
            port = udp_port if name in ("sendTo", "udp.send", "bind", "udp.bind") else tcp_port
            args["peerPort" if "peerPort" in args else "port"] = port
        if name == "tcp.connect":
            args["dnsQueryType"] = "any"
        if name == "udp.send":
            args["dnsQueryType"] = "any"
        calls.append((name, args))
    return calls


def socket_fds(pid: int) -> list[str]:
    """The sockets process `pid` holds (Linux /proc): an engine holds at least its event loop's self-pipe."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:  # closed meanwhile
            continue
        if target.startswith("socket:"):
            found.append(target)
    return found


def nothing_arrived(tcp: socket.socket, udp: socket.socket) -> bool:
    for sock in (tcp, udp):
        try:
            sock.accept() if sock is tcp else sock.recv(100)
        except BlockingIOError:
            continue
        return False
    return True


@pytest.mark.parametrize("who", ["a web page the extension relays for", "a converted app"])
def test_every_call_of_an_origin_without_a_grant_is_refused_naming_the_grant_command(
        tmp_path: Path, sinks: tuple[socket.socket, socket.socket], who: str) -> None:
    tcp, udp = sinks
    env = {"RESOCKET_CONFIG_DIR": str(tmp_path)}
    GrantStore.open(tmp_path).grant("http://localhost:9999", ["tcp-connect"])  # someone else's grant
    if who == "a converted app":
        origin, client = APP, HostClient(APP, env=env)
    else:
        origin, client = PAGE, HostClient(EXTENSION_ORIGIN, env=env, hello=False)
        client.hello_result = client.request("hello", protocol=1, client="tests/1", origin=PAGE)["result"]
    try:
        assert client.hello_result["rules"] == [] and client.hello_result["granted"] is False
        calls = every_call(tcp.getsockname()[1], udp.getsockname()[1])
        for name, args in [*calls, ("datachannel.open", {})]:
            reply = client.request(name, **args)
            assert set(reply) == {"id", "error"}, (name, reply)
            error = reply["error"]
            assert error["code"] == "not_granted", (name, reply)
            assert f"resocket: {origin} holds no grant" in error["message"], (name, error)
            assert f"run `resocket grant {origin} " in error["message"], (name, error)
        # The rule offered is the one this very call needs.
        connect = client.request("connect", socketId=1, hostname="127.0.0.1", port=tcp.getsockname()[1])
        assert f"`resocket grant {origin} tcp-connect:127.0.0.1:{tcp.getsockname()[1]}`" in \
            connect["error"]["message"]
        bind = client.request("udp.bind", socketId=1, address="0.0.0.0", port=0)
        assert f"`resocket grant {origin} udp-bind:0.0.0.0:*`" in bind["error"]["message"]
        assert client.request("ping")["result"] == {}  # still serving
        assert socket_fds(client.proc.pid) == []
        assert nothing_arrived(tcp, udp)
    finally:
        assert client.close() == 0


def test_a_grant_applies_from_the_next_hello_and_then_only_its_rules_count(
        tmp_path: Path, sinks: tuple[socket.socket, socket.socket]) -> None:
    tcp, _ = sinks
    env = {"RESOCKET_CONFIG_DIR": str(tmp_path)}
    before = HostClient(APP, env=env)
    try:
        assert before.request("create", type="tcp")["error"]["code"] == "not_granted"
        GrantStore.open(tmp_path).grant(APP, ["udp-bind"])
        assert before.request("create", type="tcp")["error"]["code"] == "not_granted"  # its hello decided
    finally:
        before.close()
    after = HostClient(APP, env=env)
    try:
        assert after.hello_result["granted"] is True
        sid = after.call("create", type="tcp").value["socketId"]
        # Granted, but not this: Chrome's own refusal, as for an app whose rules do not match.
        refused = after.call("connect", socketId=sid, hostname="127.0.0.1", port=tcp.getsockname()[1])
        assert (refused.args, refused.last_error) == ([-1], "App does not have permission")
        with pytest.raises(BlockingIOError):
            tcp.accept()
    finally:
        after.close()


def test_the_extensions_own_pages_hold_sockets_that_reach_nothing_without_a_grant(
        tmp_path: Path, sinks: tuple[socket.socket, socket.socket]) -> None:
    """The options page's self-test creates a socket with no grant, as a Chrome App with the socket permission and
    no rules could; every call that needs a rule gets Chrome's refusal."""
    tcp, udp = sinks
    client = HostClient(EXTENSION_ORIGIN, env={"RESOCKET_CONFIG_DIR": str(tmp_path)})
    try:
        assert client.hello_result["rules"] == [] and client.hello_result["granted"] is True
        sid = client.call("create", type="udp").value["socketId"]
        assert client.call("getInfo", socketId=sid).value["socketType"] == "udp"
        sent = client.call("sendTo", socketId=sid, data="aGk=", address="127.0.0.1", port=udp.getsockname()[1])
        assert (sent.args, sent.last_error) == ([-1], "App does not have permission")
        tid = client.call("create", type="tcp").value["socketId"]
        refused = client.call("connect", socketId=tid, hostname="127.0.0.1", port=tcp.getsockname()[1])
        assert (refused.args, refused.last_error) == ([-1], "App does not have permission")
        assert nothing_arrived(tcp, udp)
    finally:
        client.close()


def test_an_origin_no_grant_can_name_is_told_so(tmp_path: Path) -> None:
    """Firefox names another add-on `firefox-addon:<id>`, which `resocket grant` refuses: the message must not
    offer a command that cannot work."""
    client = HostClient("/home/u/.mozilla/native-messaging-hosts/org.resocket.host.json",
                        env={"RESOCKET_CONFIG_DIR": str(tmp_path)}, args=["other@example.org"])
    try:
        error = client.request("create", type="tcp")["error"]
        assert error["code"] == "not_granted", error
        assert "firefox-addon:other@example.org cannot be granted" in error["message"]
        assert "resocket grant" not in error["message"]
        assert socket_fds(client.proc.pid) == []
    finally:
        client.close()
