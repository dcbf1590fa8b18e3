"""`resocket grant` / `grants` / `revoke`: the real command from the venv, run as a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# The console script installed next to the interpreter running the tests (the venv's).
RESOCKET = Path(sys.executable).with_name("resocket.exe" if os.name == "nt" else "resocket")
EXT = "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path / "config"


def run(config_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command as a user with config_dir, on a machine whose managed grants are in config_dir/../system."""
    env = dict(os.environ, RESOCKET_CONFIG_DIR=str(config_dir),
               RESOCKET_SYSTEM_CONFIG_DIR=str(config_dir.parent / "system"))
    return subprocess.run([str(RESOCKET), *args], check=False, capture_output=True, text=True, env=env, timeout=60)


def grants_json(config_dir: Path) -> dict:
    result = run(config_dir, "grants", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_grant_prints_the_origins_rules_and_stores_them(config_dir: Path) -> None:
    result = run(config_dir, "grant", "https://Example.com:443/", "tcp-connect:LOCALHOST:8080", "udp-bind")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "https://example.com may now use:",
        "  tcp-connect:localhost:8080",
        "  udp-bind:*:*",
    ]
    assert result.stderr == ""
    assert grants_json(config_dir)["origins"] == {
        "https://example.com": ["tcp-connect:localhost:8080", "udp-bind:*:*"]}


def test_grant_adds_and_replace_sets(config_dir: Path) -> None:
    run(config_dir, "grant", EXT, "tcp-connect:localhost:80")
    added = run(config_dir, "grant", EXT, "udp-send-to:127.0.0.1:53", "tcp-connect:localhost:80")
    assert added.stdout.splitlines()[1:] == ["  tcp-connect:localhost:80", "  udp-send-to:127.0.0.1:53"]
    replaced = run(config_dir, "grant", "--replace", EXT, "tcp-listen:127.0.0.1:*")
    assert replaced.returncode == 0
    assert grants_json(config_dir)["origins"] == {EXT: ["tcp-listen:127.0.0.1:*"]}


def test_grants_json_names_the_config_files(config_dir: Path) -> None:
    files = {"config": str(config_dir / "grants.json"),
             "managed_config": str(config_dir.parent / "system" / "grants.json"), "locked": False}
    assert grants_json(config_dir) == {**files, "origins": {}, "rules": {}}
    run(config_dir, "grant", "http://localhost:8080", "tcp-connect")
    run(config_dir, "grant", EXT, "udp-bind::5353")
    assert grants_json(config_dir) == {
        **files,
        "origins": {EXT: ["udp-bind:*:5353"], "http://localhost:8080": ["tcp-connect:*:*"]},
        "rules": {EXT: [{"rule": "udp-bind:*:5353", "source": "user"}],
                  "http://localhost:8080": [{"rule": "tcp-connect:*:*", "source": "user"}]},
    }


def test_grants_table_lists_every_origin_and_rule(config_dir: Path) -> None:
    empty = run(config_dir, "grants")
    assert empty.returncode == 0
    assert "No grants" in empty.stdout and str(config_dir / "grants.json") in empty.stdout
    run(config_dir, "grant", "https://example.com", "tcp-connect:localhost:80", "udp-bind")
    lines = run(config_dir, "grants").stdout.splitlines()
    assert lines[0].split() == ["ORIGIN", "RULES", "SOURCE"]
    assert lines[1].split() == ["https://example.com", "tcp-connect:localhost:80", "user"]
    assert lines[2].split() == ["udp-bind:*:*", "user"]
    assert str(config_dir / "grants.json") in lines[3]


def test_revoke_removes_the_grant(config_dir: Path) -> None:
    run(config_dir, "grant", "https://example.com", "udp-bind")
    run(config_dir, "grant", EXT, "udp-bind")
    result = run(config_dir, "revoke", "https://EXAMPLE.com")
    assert result.returncode == 0, result.stderr
    assert "https://example.com" in result.stdout
    assert grants_json(config_dir)["origins"] == {EXT: ["udp-bind:*:*"]}


def test_revoke_without_a_grant_fails(config_dir: Path) -> None:
    result = run(config_dir, "revoke", "https://example.com")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "https://example.com has no grants" in result.stderr


def test_invalid_rules_are_all_reported_and_nothing_is_granted(config_dir: Path) -> None:
    run(config_dir, "grant", EXT, "udp-bind")
    result = run(config_dir, "grant", EXT, "tcp-connect:localhost:0", "tcp-listen", "socket")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "'tcp-connect:localhost:0': port 0 is out of range" in result.stderr
    assert "'socket': unknown operation" in result.stderr
    assert "nothing was granted" in result.stderr
    assert grants_json(config_dir)["origins"] == {EXT: ["udp-bind:*:*"]}


@pytest.mark.parametrize("origin", ["https://example.com/app", "example.com", "chrome-extension://short/"])
def test_bad_origin_is_a_usage_error(config_dir: Path, origin: str) -> None:
    for args in (["grant", origin, "udp-bind"], ["revoke", origin]):
        result = run(config_dir, *args)
        assert result.returncode == 2
        assert f"origin {origin!r}" in result.stderr
    assert not (config_dir / "grants.json").exists()


def test_missing_arguments_are_a_usage_error(config_dir: Path) -> None:
    result = run(config_dir, "grant", EXT)
    assert result.returncode == 2
    assert "RULE" in result.stderr


@pytest.mark.parametrize("args", [["grants"], ["grants", "--json"], ["grant", EXT, "udp-bind"], ["revoke", EXT]])
def test_corrupt_config_is_reported_with_a_fix_and_left_alone(config_dir: Path, args: list[str]) -> None:
    config_dir.mkdir()
    path = config_dir / "grants.json"
    path.write_text('{"version": 1, "origins": {')
    result = run(config_dir, *args)
    assert result.returncode == 1
    assert result.stdout == ""
    assert str(path) in result.stderr
    assert "not valid JSON" in result.stderr
    assert "move it aside" in result.stderr
    assert path.read_text() == '{"version": 1, "origins": {'


# -- --scope system: managed grants -------------------------------------------------------------------
def test_managed_grants_are_marked_and_merged_with_the_users(config_dir: Path) -> None:
    system = config_dir.parent / "system"
    made = run(config_dir, "grant", "--scope", "system", "https://intranet.example", "tcp-connect:db:5432")
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[0] == "https://intranet.example may now use (managed: every user of this machine):"
    assert json.loads((system / "grants.json").read_text())["origins"] == {
        "https://intranet.example": ["tcp-connect:db:5432"]}
    run(config_dir, "grant", "https://intranet.example", "udp-bind")
    listed = grants_json(config_dir)
    assert listed["origins"] == {"https://intranet.example": ["tcp-connect:db:5432", "udp-bind:*:*"]}
    assert listed["rules"] == {"https://intranet.example": [{"rule": "tcp-connect:db:5432", "source": "managed"},
                                                            {"rule": "udp-bind:*:*", "source": "user"}]}
    table = run(config_dir, "grants").stdout.splitlines()
    assert table[1].split() == ["https://intranet.example", "tcp-connect:db:5432", "managed"]
    assert table[2].split() == ["udp-bind:*:*", "user"]


def test_a_user_cannot_revoke_a_managed_grant_the_admin_can(config_dir: Path) -> None:
    run(config_dir, "grant", "--scope", "system", "https://intranet.example", "tcp-connect")
    mine = run(config_dir, "revoke", "https://intranet.example")
    assert mine.returncode == 1
    assert "managed by your administrator" in mine.stderr
    assert "resocket revoke --scope system https://intranet.example" in mine.stderr
    assert grants_json(config_dir)["origins"] == {"https://intranet.example": ["tcp-connect:*:*"]}
    admin = run(config_dir, "revoke", "--scope", "system", "https://intranet.example")
    assert admin.returncode == 0, admin.stderr
    assert admin.stdout.startswith("Revoked every managed grant of https://intranet.example")
    assert grants_json(config_dir)["origins"] == {}


def test_locked_managed_grants_ignore_and_refuse_user_grants(config_dir: Path) -> None:
    run(config_dir, "grant", "http://localhost:8080", "tcp-connect")
    run(config_dir, "grant", "--scope", "system", "https://intranet.example", "tcp-connect:db:5432")
    locked = run(config_dir, "grants", "--lock")
    assert locked.returncode == 0 and "locked: only managed grants apply" in locked.stderr
    listed = grants_json(config_dir)
    assert listed["locked"] is True
    assert listed["origins"] == {"https://intranet.example": ["tcp-connect:db:5432"]}
    assert listed["rules"]["http://localhost:8080"] == [{"rule": "tcp-connect:*:*", "source": "user", "ignored": True}]
    refused = run(config_dir, "grant", "https://intranet.example", "tcp-connect")
    assert refused.returncode == 1
    assert "your administrator locked the grants" in refused.stderr and "nothing was granted" in refused.stderr
    assert grants_json(config_dir)["origins"] == {"https://intranet.example": ["tcp-connect:db:5432"]}
    unlocked = run(config_dir, "grants", "--unlock", "--json")
    assert unlocked.returncode == 0 and json.loads(unlocked.stdout)["locked"] is False
    assert json.loads(unlocked.stdout)["origins"]["http://localhost:8080"] == ["tcp-connect:*:*"]


def test_system_scope_under_a_root_for_an_image(config_dir: Path, tmp_path: Path) -> None:
    env = dict(os.environ, RESOCKET_CONFIG_DIR=str(config_dir))
    env.pop("RESOCKET_SYSTEM_CONFIG_DIR", None)
    image = tmp_path / "image"
    made = subprocess.run([str(RESOCKET), "grant", "--scope", "system", "--root", str(image),
                           "https://intranet.example", "udp-bind"], capture_output=True, text=True, env=env,
                          timeout=60, check=False)
    assert made.returncode == 0, made.stderr
    assert json.loads((image / "etc/resocket/grants.json").read_text())["origins"] == {
        "https://intranet.example": ["udp-bind:*:*"]}
    mixed = run(config_dir, "grant", "--root", str(image), "https://a.example", "udp-bind")
    assert mixed.returncode == 2 and "--root is for --scope system" in mixed.stderr


def test_an_untrusted_managed_file_stops_the_listing_with_its_fix(config_dir: Path) -> None:
    run(config_dir, "grant", "--scope", "system", "https://intranet.example", "udp-bind")
    (config_dir.parent / "system" / "grants.json").chmod(0o666)
    result = run(config_dir, "grants")
    assert result.returncode == 1
    assert "is writable by other users" in result.stderr and "chmod go-w" in result.stderr
