"""Managed grants through a real `resocket-host` process with both config dirs: the administrator's
(RESOCKET_SYSTEM_CONFIG_DIR) and the user's (RESOCKET_CONFIG_DIR). What a page gets is what a real
socket call shows: a managed rule lets a loopback connect through, a user rule under a locked managed set
does not, and a managed file the host cannot trust stops hello with config_error."""
from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from resocket import EXTENSION_ORIGIN
from resocket.grants import GrantStore

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.hostclient import HostClient

PAGE = "http://localhost:8080"


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[GrantStore, GrantStore, dict[str, str]]:
    user, system = tmp_path / "config", tmp_path / "system"
    env = {"RESOCKET_CONFIG_DIR": str(user), "RESOCKET_SYSTEM_CONFIG_DIR": str(system)}
    return GrantStore(user), GrantStore(system, managed=True), env


@pytest.fixture
def listener() -> socket.socket:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server
    server.close()


def page_hello(env: dict[str, str]) -> tuple[HostClient, dict]:
    client = HostClient(EXTENSION_ORIGIN, env=env, hello=False)
    return client, client.request("hello", protocol=1, client="tests/1", origin=PAGE)


def connect(client: HostClient, port: int) -> tuple[int, str | None]:
    socket_id = client.call("create", type="tcp").value["socketId"]
    result = client.call("connect", socketId=socket_id, hostname="127.0.0.1", port=port)
    return result.value, result.last_error


def test_a_managed_grant_alone_lets_a_page_connect(dirs, listener: socket.socket) -> None:
    user, managed, env = dirs
    port = listener.getsockname()[1]
    managed.grant(PAGE, [f"tcp-connect:127.0.0.1:{port}"])
    client, hello = page_hello(env)
    try:
        assert hello["result"]["rules"] == [f"tcp-connect:127.0.0.1:{port}"]
        assert connect(client, port) == (0, None)
    finally:
        client.close()
    assert not user.path.exists()  # nothing of the user's was needed


def test_user_rules_add_to_an_unlocked_managed_set_and_are_ignored_when_locked(dirs, listener) -> None:
    user, managed, env = dirs
    port = listener.getsockname()[1]
    managed.grant(PAGE, ["udp-bind:*:*"])
    user.grant(PAGE, [f"tcp-connect:127.0.0.1:{port}"])
    client, hello = page_hello(env)
    try:
        assert hello["result"]["rules"] == ["udp-bind:*:*", f"tcp-connect:127.0.0.1:{port}"]
        assert connect(client, port) == (0, None)
    finally:
        client.close()
    managed.set_locked(True)
    client, hello = page_hello(env)
    try:
        assert hello["result"]["rules"] == ["udp-bind:*:*"]
        assert connect(client, port) == (-1, "App does not have permission")  # Chrome's refusal
    finally:
        client.close()


def test_a_managed_file_others_may_write_stops_hello_with_its_fix(dirs) -> None:
    _, managed, env = dirs
    managed.grant(PAGE, ["tcp-connect"])
    managed.path.chmod(0o646)
    client, hello = page_hello(env)
    try:
        assert hello["error"]["code"] == "config_error"
        assert str(managed.path) in hello["error"]["message"] and "chmod go-w" in hello["error"]["message"]
        assert client.request("ping")["error"]["code"] == "hello_required"  # still serving, no session
    finally:
        client.close()
