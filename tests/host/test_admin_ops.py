"""grants.list / grants.revoke through a real `resocket-host` process: the extension's own pages may list
and revoke grants; a page the extension relays for, a converted app and a fork not trusted to relay get
`not_allowed` and change nothing. Granting has no op at all (only the `resocket grant` command)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from resocket import EXTENSION_ORIGIN
from resocket.fleet import add_to_fleet
from resocket.grants import GrantStore

# tests/ has no __init__.py: make `tests.support` importable from the repo root.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.hostclient import HostClient

APP_ORIGIN = "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"
FORK_ORIGIN = "chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba/"
PAGE = "http://localhost:8080"
OTHER = "https://example.com"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "config"
    store = GrantStore.open(config)
    store.grant(PAGE, ["tcp-connect:localhost:8080"])
    store.grant(OTHER, ["udp-send-to:*:*"])
    return {"RESOCKET_CONFIG_DIR": str(config), "RESOCKET_SYSTEM_CONFIG_DIR": str(tmp_path / "system")}


def grants_on_disk(env: dict[str, str]) -> dict[str, list[str]]:
    return GrantStore.open(env["RESOCKET_CONFIG_DIR"]).all()


def open_client(origin: str, env: dict[str, str], relay_for: str | None = None) -> HostClient:
    client = HostClient(origin, env=env, hello=False)
    args = {"protocol": 1, "client": "tests/1"}
    if relay_for is not None:
        args["origin"] = relay_for
    reply = client.request("hello", **args)
    assert "result" in reply, reply
    client.hello_result = reply["result"]
    return client


def test_extension_page_lists_every_grant(env: dict[str, str]) -> None:
    client = open_client(EXTENSION_ORIGIN, env)
    try:
        reply = client.request("grants.list")
        assert reply == {"id": reply["id"], "result": {"origins": {
            "http://localhost:8080": ["tcp-connect:localhost:8080"], "https://example.com": ["udp-send-to:*:*"]},
            "managed": {}, "locked": False}}
    finally:
        assert client.close() == 0


def test_extension_page_revokes_an_origin_and_the_grants_file_changes(env: dict[str, str]) -> None:
    client = open_client(EXTENSION_ORIGIN, env)
    try:
        assert client.request("grants.revoke", origin=PAGE)["result"] == {"revoked": True}
        assert grants_on_disk(env) == {"https://example.com": ["udp-send-to:*:*"]}
        assert client.request("grants.revoke", origin=PAGE)["result"] == {"revoked": False}
        assert client.request("grants.list")["result"]["origins"] == {"https://example.com": ["udp-send-to:*:*"]}
    finally:
        client.close()
    # A page of the revoked origin now gets no rules.
    page = open_client(EXTENSION_ORIGIN, env, relay_for=PAGE)
    try:
        assert page.hello_result["rules"] == []
    finally:
        page.close()


def test_revoke_normalizes_the_origin_as_the_cli_does(env: dict[str, str]) -> None:
    client = open_client(EXTENSION_ORIGIN, env)
    try:
        assert client.request("grants.revoke", origin="HTTPS://Example.COM:443/")["result"] == {"revoked": True}
        assert grants_on_disk(env) == {"http://localhost:8080": ["tcp-connect:localhost:8080"]}
        reply = client.request("grants.revoke", origin="not an origin")
        assert reply["error"]["code"] == "bad_args", reply
        reply = client.request("grants.revoke")
        assert reply["error"]["code"] == "bad_args", reply
    finally:
        client.close()


@pytest.mark.parametrize("who", ["relayed web page", "converted app", "untrusted fork"])
def test_other_clients_get_not_allowed_and_nothing_changes(env: dict[str, str], who: str) -> None:
    client = {
        "relayed web page": lambda: open_client(EXTENSION_ORIGIN, env, relay_for=PAGE),
        "converted app": lambda: open_client(APP_ORIGIN, env),
        "untrusted fork": lambda: open_client(FORK_ORIGIN, env),
    }[who]()
    try:
        for op, args in (("grants.list", {}), ("grants.revoke", {"origin": PAGE}), ("grants.revoke", {})):
            reply = client.request(op, **args)
            assert reply["error"]["code"] == "not_allowed", reply
            assert "only the resocket extension's own pages" in reply["error"]["message"]
        # The session keeps serving after the refusal.
        assert client.request("ping")["result"] == {}
    finally:
        client.close()
    assert PAGE in grants_on_disk(env)


def test_fleet_build_trusted_to_relay_may_manage_grants(env: dict[str, str], tmp_path: Path) -> None:
    system = tmp_path / "system"
    add_to_fleet([], [FORK_ORIGIN], system)  # as `resocket install --scope system --relay-id` writes it
    client = open_client(FORK_ORIGIN, {**env, "RESOCKET_SYSTEM_CONFIG_DIR": str(system)})
    try:
        assert client.request("grants.revoke", origin=OTHER)["result"] == {"revoked": True}
    finally:
        client.close()
    assert OTHER not in grants_on_disk(env)


def test_admin_ops_need_hello_first(env: dict[str, str]) -> None:
    client = HostClient(EXTENSION_ORIGIN, env=env, hello=False)
    try:
        assert client.request("grants.list")["error"]["code"] == "hello_required"
    finally:
        client.close()


def test_there_is_no_op_to_grant(env: dict[str, str]) -> None:
    client = open_client(EXTENSION_ORIGIN, env)
    try:
        for op in ("grants.grant", "grants.add", "grant"):
            assert client.request(op, origin=OTHER, rules=["tcp-connect"])["error"]["code"] == "unknown_op"
    finally:
        client.close()


def test_unreadable_grants_file_answers_config_error(env: dict[str, str]) -> None:
    client = open_client(EXTENSION_ORIGIN, env)
    try:
        (Path(env["RESOCKET_CONFIG_DIR"]) / "grants.json").write_text("{not json")
        reply = client.request("grants.list")
        assert reply["error"]["code"] == "config_error", reply
        assert "resocket grants" in reply["error"]["message"]
        assert client.request("grants.revoke", origin=PAGE)["error"]["code"] == "config_error"
    finally:
        client.close()


def test_managed_grants_are_listed_as_such_and_only_the_users_part_is_revoked(env: dict[str, str]) -> None:
    managed = GrantStore.open_managed(env["RESOCKET_SYSTEM_CONFIG_DIR"])
    managed.grant(OTHER, ["tcp-connect:db.example.com:5432"])
    client = open_client(EXTENSION_ORIGIN, env)
    try:
        listed = client.request("grants.list")["result"]
        assert listed["managed"] == {OTHER: ["tcp-connect:db.example.com:5432"]}
        assert listed["origins"][OTHER] == ["tcp-connect:db.example.com:5432", "udp-send-to:*:*"]
        assert client.request("grants.revoke", origin=OTHER)["result"] == {
            "revoked": True, "managed": ["tcp-connect:db.example.com:5432"]}
        assert client.request("grants.revoke", origin=OTHER)["result"] == {
            "revoked": False, "managed": ["tcp-connect:db.example.com:5432"]}
    finally:
        client.close()
    assert OTHER not in grants_on_disk(env)
    assert managed.all() == {OTHER: ["tcp-connect:db.example.com:5432"]}  # the options page cannot touch it
