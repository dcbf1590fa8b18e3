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
    env = dict(os.environ, RESOCKET_CONFIG_DIR=str(config_dir))
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


def test_grants_json_names_the_config_file(config_dir: Path) -> None:
    assert grants_json(config_dir) == {"config": str(config_dir / "grants.json"), "origins": {}}
    run(config_dir, "grant", "http://localhost:8080", "tcp-connect")
    run(config_dir, "grant", EXT, "udp-bind::5353")
    assert grants_json(config_dir) == {
        "config": str(config_dir / "grants.json"),
        "origins": {EXT: ["udp-bind:*:5353"], "http://localhost:8080": ["tcp-connect:*:*"]},
    }


def test_grants_table_lists_every_origin_and_rule(config_dir: Path) -> None:
    empty = run(config_dir, "grants")
    assert empty.returncode == 0
    assert "No grants" in empty.stdout and str(config_dir / "grants.json") in empty.stdout
    run(config_dir, "grant", "https://example.com", "tcp-connect:localhost:80", "udp-bind")
    lines = run(config_dir, "grants").stdout.splitlines()
    assert lines[0].split() == ["ORIGIN", "RULES"]
    assert lines[1].split() == ["https://example.com", "tcp-connect:localhost:80"]
    assert lines[2].split() == ["udp-bind:*:*"]
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
