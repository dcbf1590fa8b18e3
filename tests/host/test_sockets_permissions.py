"""The `sockets` manifest key as grant rules (Chromium's SocketsManifestPermission), `resocket grant --sockets`."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from resocket.chrome.permissions import RuleSet, rules_from_sockets_key


def test_each_sockets_key_maps_to_its_socket_operation() -> None:
    key = {"tcp": {"connect": ["localhost:80", "*:443"]}, "tcpServer": {"listen": "127.0.0.1:*"},
           "udp": {"bind": "", "send": "*", "multicastMembership": ""}}
    assert rules_from_sockets_key(key) == [
        "tcp-connect:localhost:80", "tcp-connect:*:443", "tcp-listen:127.0.0.1:*", "udp-bind", "udp-send-to:*",
        "udp-multicast-membership"]


def test_the_rules_match_as_chrome_checks_the_sockets_key() -> None:
    rules, invalid = RuleSet.parse(rules_from_sockets_key({"tcp": {"connect": "*.example.com:443"},
                                                           "udp": {"send": ["127.0.0.1:53"]}}))
    assert invalid == []
    assert rules.allows("tcp-connect", "www.example.com", 443)
    assert not rules.allows("tcp-connect", "www.example.com", 80)
    assert rules.allows("udp-send-to", "127.0.0.1", 53)
    assert not rules.allows("udp-bind", "127.0.0.1", 53)
    assert not rules.allows("udp-multicast-membership", "", 0)


def test_wrong_shapes_grant_nothing() -> None:
    assert rules_from_sockets_key(None) == []
    assert rules_from_sockets_key({"tcp": "connect", "udp": {"bind": 5}, "other": {"x": "*"}}) == []


def test_grant_cli_takes_the_sockets_key(tmp_path: Path) -> None:
    env = dict(os.environ, RESOCKET_CONFIG_DIR=str(tmp_path))
    origin = "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"
    run = [sys.executable, "-m", "resocket.cli", "grant", origin, "tcp-connect:localhost:1",
           "--sockets", '{"tcpServer": {"listen": "127.0.0.1:*"}, "udp": {"multicastMembership": ""}}']
    proc = subprocess.run(run, check=False, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-3:] == ["tcp-connect:localhost:1", "tcp-listen:127.0.0.1:*", "udp-multicast-membership"]
    bad = subprocess.run(run[:5] + ["--sockets", '{"tcp": {}}'], check=False, env=env,
                          capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "grants nothing" in bad.stderr
