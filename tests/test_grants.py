"""Grant storage: grants.json in a config dir (real files in tmp dirs, real processes for concurrency)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from resocket import grants
from resocket.grants import GrantsCorrupt, GrantStore, InvalidRules, default_config_dir, normalize_origin

EXT = "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"
WEB = "https://example.com"


@pytest.fixture
def store(tmp_path: Path) -> GrantStore:
    return GrantStore.open(tmp_path / "config")


def test_no_grants_file_means_no_grants(store: GrantStore) -> None:
    assert store.all() == {}
    assert store.rules_for(WEB) == []
    assert not store.path.exists()  # reading never creates anything


def test_grant_stores_canonical_rules_readable_by_a_new_store(store: GrantStore) -> None:
    after = store.grant(WEB, ["tcp-connect:LOCALHOST:8080", "udp-bind"])
    assert after == ["tcp-connect:localhost:8080", "udp-bind:*:*"]
    again = GrantStore.open(store.config_dir)
    assert again.rules_for(WEB) == ["tcp-connect:localhost:8080", "udp-bind:*:*"]
    assert again.rules_for("HTTPS://EXAMPLE.COM:443/") == ["tcp-connect:localhost:8080", "udp-bind:*:*"]


def test_grant_adds_to_existing_rules_without_duplicates(store: GrantStore) -> None:
    store.grant(WEB, ["tcp-connect:localhost:8080"])
    after = store.grant(WEB, ["udp-bind", "tcp-connect:localhost:8080", "udp-bind:*:*"])
    assert after == ["tcp-connect:localhost:8080", "udp-bind:*:*"]
    assert store.rules_for(WEB) == after


def test_grant_with_replace_sets_the_rules(store: GrantStore) -> None:
    store.grant(WEB, ["tcp-connect:localhost:8080"])
    assert store.grant(WEB, ["udp-bind::5353"], replace=True) == ["udp-bind:*:5353"]
    assert store.rules_for(WEB) == ["udp-bind:*:5353"]


def test_grants_are_kept_per_origin(store: GrantStore) -> None:
    store.grant(WEB, ["tcp-connect:localhost:80"])
    store.grant(EXT, ["tcp-listen:127.0.0.1:*"])
    assert store.all() == {EXT: ["tcp-listen:127.0.0.1:*"], WEB: ["tcp-connect:localhost:80"]}
    assert store.rules_for("https://example.com:8443") == []


def test_invalid_rules_are_listed_and_nothing_is_written(store: GrantStore) -> None:
    store.grant(WEB, ["tcp-connect:localhost:80"])
    before = store.path.read_bytes()
    with pytest.raises(InvalidRules) as info:
        store.grant(WEB, ["udp-bind", "tcp-connect:localhost:0", "bogus"])
    assert [rule for rule, _ in info.value.invalid] == ["tcp-connect:localhost:0", "bogus"]
    assert "tcp-connect:localhost:0" in str(info.value) and "bogus" in str(info.value)
    assert store.path.read_bytes() == before


def test_grant_with_a_bad_origin_writes_nothing(store: GrantStore) -> None:
    with pytest.raises(ValueError, match="path"):
        store.grant("https://example.com/app", ["udp-bind"])
    assert not store.path.exists()


def test_revoke_removes_the_origin_and_says_whether_it_had_grants(store: GrantStore) -> None:
    store.grant(WEB, ["udp-bind"])
    store.grant(EXT, ["udp-bind"])
    assert store.revoke("https://EXAMPLE.com/") is True
    assert store.all() == {EXT: ["udp-bind:*:*"]}
    assert store.revoke(WEB) is False


def test_file_format_is_versioned_json(store: GrantStore) -> None:
    store.grant(WEB, ["udp-bind"])
    assert json.loads(store.path.read_text()) == {"version": 1, "origins": {WEB: ["udp-bind:*:*"]}}


def test_config_dir_is_private_and_writes_leave_no_temp_files(store: GrantStore) -> None:
    for port in range(1, 6):
        store.grant(WEB, [f"tcp-connect:localhost:{port}"])
    store.revoke(WEB)
    assert sorted(p.name for p in store.config_dir.iterdir()) == ["grants.json", "grants.json.lock"]
    if os.name == "posix":
        assert store.config_dir.stat().st_mode & 0o077 == 0


def test_failed_write_keeps_the_old_file(store: GrantStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.grant(WEB, ["udp-bind"])
    before = store.path.read_bytes()

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(grants.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space"):
        store.grant(WEB, ["tcp-connect"])
    monkeypatch.undo()
    assert store.path.read_bytes() == before
    assert sorted(p.name for p in store.config_dir.iterdir()) == ["grants.json", "grants.json.lock"]


def test_readers_never_see_a_partly_written_file(store: GrantStore) -> None:
    store.grant(WEB, ["udp-bind"])
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        from resocket.grants import GrantStore
        store = GrantStore.open({str(store.config_dir)!r})
        for i in range(1, 301):
            store.grant({WEB!r}, ["tcp-connect:host%d.example.com:%d" % (i, i)])
    """)])
    reads = 0
    try:
        while writer.poll() is None or reads == 0:
            store.all()  # raises GrantsCorrupt on a torn file
            reads += 1
    finally:
        writer.wait(timeout=60)
    assert writer.returncode == 0
    assert len(store.rules_for(WEB)) == 301


def test_concurrent_grants_from_several_processes_lose_no_update(store: GrantStore) -> None:
    script = textwrap.dedent("""
        import sys
        from resocket.grants import GrantStore
        directory, worker = sys.argv[1], int(sys.argv[2])
        for i in range(1, 31):
            GrantStore.open(directory).grant("https://example.com", ["udp-bind:*:%d" % (worker * 100 + i)])
            GrantStore.open(directory).grant("https://w%d.example.com" % worker, ["tcp-connect:*:%d" % i])
    """)
    workers = [subprocess.Popen([sys.executable, "-c", script, str(store.config_dir), str(w)]) for w in range(1, 5)]
    for proc in workers:
        assert proc.wait(timeout=120) == 0
    everything = store.all()
    assert sorted(everything[WEB]) == sorted(f"udp-bind:*:{w * 100 + i}" for w in range(1, 5) for i in range(1, 31))
    for w in range(1, 5):
        assert everything[f"https://w{w}.example.com"] == [f"tcp-connect:*:{i}" for i in range(1, 31)]


# -- corrupt files -------------------------------------------------------------------------------------

CORRUPT = [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe{}", "not valid JSON"),
    (b"", "not valid JSON"),
    (b"[]", "expected a JSON object"),
    (b'{"origins": {}}', '"version" must be 1'),
    (b'{"version": "1", "origins": {}}', '"version" must be 1'),
    (b'{"version": 2, "origins": {}}', "newer resocket"),
    (b'{"version": 1}', '"origins" must be an object'),
    (b'{"version": 1, "origins": []}', '"origins" must be an object'),
    (b'{"version": 1, "origins": {"https://a.com": "udp-bind"}}', "must be a list"),
    (b'{"version": 1, "origins": {"https://a.com": ["udp-bind:*:0"]}}', "port 0"),
    (b'{"version": 1, "origins": {"https://a.com": [7]}}', "must be a string"),
    (b'{"version": 1, "origins": {"ftp://a.com": []}}', "bad origin"),
]


@pytest.mark.parametrize(("content", "problem"), CORRUPT)
def test_corrupt_file_is_reported_with_its_path_and_never_reset(tmp_path: Path, content: bytes,
                                                                problem: str) -> None:
    path = tmp_path / "grants.json"
    path.write_bytes(content)
    with pytest.raises(GrantsCorrupt) as info:
        GrantStore.open(tmp_path)
    assert info.value.path == path
    assert problem in info.value.problem
    assert str(path) in str(info.value)
    store = GrantStore(tmp_path)
    for action in (lambda: store.grant(WEB, ["udp-bind"]), lambda: store.revoke(WEB),
                   lambda: store.rules_for(WEB), store.all):
        with pytest.raises(GrantsCorrupt):
            action()
    assert path.read_bytes() == content


def test_hand_written_origin_keys_are_read_in_canonical_form(tmp_path: Path) -> None:
    (tmp_path / "grants.json").write_text(json.dumps({"version": 1, "origins": {
        "HTTPS://Example.com:443": ["tcp-connect:localhost:80"],
        "https://example.com/": ["tcp-connect:localhost:80", "udp-bind"],
    }}))
    store = GrantStore.open(tmp_path)
    assert store.all() == {WEB: ["tcp-connect:localhost:80", "udp-bind:*:*"]}


# -- origins -------------------------------------------------------------------------------------------

ORIGINS = [
    ("chrome-extension://abcdefghijklmnopabcdefghijklmnop/", EXT),
    ("chrome-extension://abcdefghijklmnopabcdefghijklmnop", EXT),
    ("Chrome-Extension://ABCDEFGHIJKLMNOPABCDEFGHIJKLMNOP/", EXT),
    ("https://example.com", "https://example.com"),
    ("https://Example.COM/", "https://example.com"),
    ("https://example.com:443", "https://example.com"),
    ("http://example.com:80", "http://example.com"),
    ("http://example.com:443", "http://example.com:443"),
    ("https://example.com:80", "https://example.com:80"),
    ("http://localhost:8080", "http://localhost:8080"),
    ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
    ("http://[0:0::1]:8080", "http://[::1]:8080"),
    ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
]


@pytest.mark.parametrize(("text", "origin"), ORIGINS)
def test_origin_normalization(text: str, origin: str) -> None:
    assert normalize_origin(text) == origin
    assert normalize_origin(origin) == origin


BAD_ORIGINS = [
    ("", "empty"),
    ("null", "no scheme"),
    ("example.com", "no scheme"),
    ("ftp://example.com", "only chrome-extension, http and https"),
    ("file:///home/me/app.html", "only chrome-extension, http and https"),
    ("chrome-extension://abcdefghijklmnop/", "32-letter"),
    ("chrome-extension://abcdefghijklmnopabcdefghijklmnoz/", "a-p"),  # 'z' is not in a..p
    ("chrome-extension://abcdefghijklmnopabcdefghijklmnop/page.html", "nothing after"),
    ("https://example.com/app", "has a path"),
    ("https://example.com?q=1", "has a query"),
    ("https://example.com#top", "has a fragment"),
    ("https://user@example.com", "user info"),
    ("https://", "no host"),
    ("https://:443", "no host"),
    ("https://example.com:0", "1..65535"),
    ("https://example.com:65536", "1..65535"),
    ("https://example.com:https", "1..65535"),
    ("https://exa mple.com", "whitespace"),
    (" https://example.com", "whitespace"),
    ("https://bücher.example", "punycode"),
    ("https://a..b", "not a valid host"),
    ("https://-a.com", "not a valid host"),
    ("https://[::1", "unclosed"),
    ("https://[zz::1]", "not a valid IPv6"),
]


@pytest.mark.parametrize(("text", "reason"), BAD_ORIGINS)
def test_bad_origin_is_a_value_error_that_says_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match="origin|empty") as info:
        normalize_origin(text)
    assert reason in str(info.value)


# -- where grants live ---------------------------------------------------------------------------------

def test_resocket_config_dir_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESOCKET_CONFIG_DIR", str(tmp_path / "custom"))
    store = GrantStore.open()
    assert store.path == tmp_path / "custom" / "grants.json"
    store.grant(WEB, ["udp-bind"])
    assert GrantStore.open(tmp_path / "custom").rules_for(WEB) == ["udp-bind:*:*"]


@pytest.mark.parametrize(("platform", "env", "expected"), [
    ("linux", {"XDG_CONFIG_HOME": "/xdg"}, "/xdg/resocket"),
    ("linux", {}, "HOME/.config/resocket"),
    ("linux", {"XDG_CONFIG_HOME": "relative/dir"}, "HOME/.config/resocket"),  # XDG spec: ignore relative
    ("freebsd14", {}, "HOME/.config/resocket"),
    ("darwin", {"XDG_CONFIG_HOME": "/xdg"}, "HOME/Library/Application Support/resocket"),
    ("win32", {"APPDATA": "/appdata"}, "/appdata/resocket"),
])
def test_default_config_dir_per_platform(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, platform: str,
                                         env: dict[str, str], expected: str) -> None:
    monkeypatch.delenv("RESOCKET_CONFIG_DIR", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(grants.sys, "platform", platform)
    assert default_config_dir() == Path(expected.replace("HOME", str(tmp_path)))


# -- managed grants: the administrator's layer ------------------------------------------------------------
@pytest.fixture
def layers(tmp_path: Path) -> grants.Grants:
    return grants.Grants.open(tmp_path / "config", tmp_path / "system")


def test_managed_and_user_rules_are_merged_managed_first(layers: grants.Grants) -> None:
    layers.managed.grant(WEB, ["tcp-connect:db.example.com:5432"])
    layers.user.grant(WEB, ["udp-bind", "tcp-connect:db.example.com:5432"])
    layers.user.grant(EXT, ["udp-send-to:*:53"])
    assert layers.rules_for(WEB) == ["tcp-connect:db.example.com:5432", "udp-bind:*:*"]
    assert layers.all() == {EXT: ["udp-send-to:*:53"], WEB: ["tcp-connect:db.example.com:5432", "udp-bind:*:*"]}
    assert layers.sources() == {
        EXT: [{"rule": "udp-send-to:*:53", "source": "user"}],
        WEB: [{"rule": "tcp-connect:db.example.com:5432", "source": "managed"},
              {"rule": "udp-bind:*:*", "source": "user"}],
    }


def test_a_locked_managed_set_ignores_every_user_grant(layers: grants.Grants) -> None:
    layers.managed.grant(WEB, ["tcp-connect:db.example.com:5432"])
    layers.user.grant(WEB, ["tcp-connect"])
    layers.user.grant(EXT, ["udp-bind"])
    assert layers.managed.set_locked(True)
    assert not layers.managed.set_locked(True)  # already locked: nothing written
    assert layers.locked()
    assert layers.rules_for(WEB) == ["tcp-connect:db.example.com:5432"]  # never widened
    assert layers.rules_for(EXT) == []
    assert layers.sources()[EXT] == [{"rule": "udp-bind:*:*", "source": "user", "ignored": True}]
    assert layers.user.rules_for(EXT) == ["udp-bind:*:*"]  # kept for when the lock is lifted
    body = json.loads(layers.managed.path.read_text())
    assert body == {"version": 1, "locked": True, "origins": {WEB: ["tcp-connect:db.example.com:5432"]}}
    layers.managed.grant(EXT, ["tcp-listen"])  # a later managed change keeps the lock
    assert layers.locked() and layers.rules_for(EXT) == ["tcp-listen:*:*"]
    layers.managed.set_locked(False)
    assert layers.rules_for(EXT) == ["tcp-listen:*:*", "udp-bind:*:*"]


def test_revoke_through_the_layers_touches_only_the_users_rules(layers: grants.Grants) -> None:
    layers.managed.grant(WEB, ["tcp-connect:db.example.com:5432"])
    layers.user.grant(WEB, ["udp-bind"])
    assert layers.revoke(WEB)
    assert not layers.revoke(WEB)
    assert layers.rules_for(WEB) == ["tcp-connect:db.example.com:5432"]


def test_only_the_managed_store_can_be_locked(store: GrantStore) -> None:
    with pytest.raises(ValueError, match="only the managed"):
        store.set_locked(True)


def test_the_managed_file_is_readable_by_every_user(layers: grants.Grants) -> None:
    layers.managed.grant(WEB, ["udp-bind"])
    layers.user.grant(WEB, ["udp-bind"])
    assert layers.managed.path.stat().st_mode & 0o777 == 0o644
    assert layers.managed.config_dir.stat().st_mode & 0o777 == 0o755
    assert layers.user.path.stat().st_mode & 0o777 == 0o600  # the user's stays the user's


@pytest.mark.parametrize("target, mode", [("file", 0o666), ("file", 0o620), ("folder", 0o777)])
def test_a_managed_file_others_could_write_is_not_trusted(layers: grants.Grants, target: str, mode: int) -> None:
    layers.managed.grant(WEB, ["tcp-connect"])
    (layers.managed.path if target == "file" else layers.managed.config_dir).chmod(mode)
    with pytest.raises(GrantsCorrupt, match="chmod") as caught:
        layers.rules_for(WEB)
    assert caught.value.path == layers.managed.path
    with pytest.raises(GrantsCorrupt):
        grants.Grants.open(layers.user.config_dir, layers.managed.config_dir)


def test_a_broken_managed_file_is_reported_never_ignored(layers: grants.Grants) -> None:
    layers.managed.config_dir.mkdir(mode=0o755)
    layers.managed.path.write_text('{"version": 1, "locked": "yes", "origins": {}}')
    with pytest.raises(GrantsCorrupt, match='"locked" must be true or false'):
        layers.all()


def test_system_config_dir_per_platform_under_a_root_and_overridden(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    monkeypatch.delenv("RESOCKET_SYSTEM_CONFIG_DIR", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert grants.system_config_dir() == Path("/etc/resocket")
    assert grants.system_config_dir(tmp_path) == tmp_path / "etc/resocket"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert grants.system_config_dir() == Path("/Library/Application Support/resocket")
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("PROGRAMDATA", "/pd")
    assert grants.system_config_dir() == Path("/pd") / "resocket"
    monkeypatch.setenv("RESOCKET_SYSTEM_CONFIG_DIR", str(tmp_path / "sys"))
    assert grants.system_config_dir() == grants.system_config_dir(tmp_path / "image") == tmp_path / "sys"


def test_a_managed_file_this_user_cannot_read_says_it_must_be_readable(layers: grants.Grants,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    layers.managed.grant(WEB, ["tcp-connect"])
    real_open = open

    def open_as_another_user(path: Any, *args: Any, **kwargs: Any) -> Any:
        # What a user's host meets when root left the managed file 0600 (the suite runs as root, which reads it).
        if Path(path) == layers.managed.path:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(grants, "open", open_as_another_user, raising=False)
    with pytest.raises(GrantsCorrupt, match="must be readable by every user"):
        layers.rules_for(WEB)
