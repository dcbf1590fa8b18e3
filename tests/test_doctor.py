"""resocket doctor: each way a browser fails to reach the host is found, with a fix that works, and a good
install passes with a live hello round trip to the real resocket-host.

Temporary HOME and root everywhere: the machine's real browser folders, programs and /etc policies are never
read. PATH holds only the system's folders, so fixes spell `resocket` as a user without a venv on PATH sees it.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from resocket import EXTENSION_ORIGIN, HOST_NAME, PROTOCOL_VERSION, __version__, cli
from resocket.cli import browsers, doctor, install
from resocket.cli.browsers import Platform

from tests.support.machine import private_machine, profile_dir

VENV_BIN = Path(sys.executable).parent
MANIFEST = f"{HOST_NAME}.json"


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PATH", "/usr/local/bin:/usr/bin:/bin")
    return private_machine(tmp_path, monkeypatch)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


def run_doctor(capsys: pytest.CaptureFixture[str], root: Path, *argv: str) -> tuple[int, dict]:
    code = cli.main(["doctor", "--json", "--root", str(root), *argv])
    return code, json.loads(capsys.readouterr().out)


def install_into(capsys: pytest.CaptureFixture[str], udd: Path, *extra: str) -> Path:
    assert cli.main(["install", "--user-data-dir", str(udd), *extra]) == 0
    capsys.readouterr()
    return udd / "NativeMessagingHosts" / MANIFEST


def script(path: Path, body: str) -> Path:
    """A fake host: a Python script run by this venv's interpreter."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return path


HELLO_HOST = """\
import json, os, struct, sys
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "started.json"), "w") as f:
    json.dump({"argv": sys.argv[1:], "cwd": os.getcwd()}, f)
head = sys.stdin.buffer.read(4)
msg = json.loads(sys.stdin.buffer.read(struct.unpack("=I", head)[0]))
reply = {"id": msg["id"], "result": {"protocol": PROTOCOL, "host": "resocket-host", "version": "9.9.9",
                                     "origin": sys.argv[1], "rules": []}}
body = json.dumps(reply).encode()
sys.stdout.buffer.write(struct.pack("=I", len(body)) + body)
sys.stdout.buffer.flush()
sys.stdin.buffer.read()
"""


# -- a good install ----------------------------------------------------------------------------------------
def test_doctor_passes_a_good_install_and_says_hello_to_the_real_host(tmp_path: Path, root: Path) -> None:
    udd = profile_dir(tmp_path)
    resocket = str(VENV_BIN / "resocket")
    subprocess.run([resocket, "install", "--browser", "chromium", "--user-data-dir", str(udd)],
                   check=True, capture_output=True, timeout=60)
    proc = subprocess.run([resocket, "doctor", "--json", "--user-data-dir", str(udd), "--root", str(root)],
                          check=False, capture_output=True, text=True, timeout=120)
    report = json.loads(proc.stdout)
    assert report["problems"] == []
    assert proc.returncode == 0 and report["ok"] is True
    assert report["selftest"]["ok"] is True
    assert report["selftest"]["version"] == __version__
    assert report["selftest"]["protocol"] == PROTOCOL_VERSION
    assert report["selftest"]["runs"][0]["path"] == str(VENV_BIN / "resocket-host")
    assert [b["browser"] for b in report["browsers"]] == ["chromium"]
    assert report["browsers"][0]["locations"][0]["status"] == "ok"


def test_doctor_text_output_names_the_problem_and_its_fix(tmp_path: Path, root: Path) -> None:
    udd = profile_dir(tmp_path)
    proc = subprocess.run([str(VENV_BIN / "resocket"), "doctor", "--user-data-dir", str(udd), "--root", str(root),
                           "--no-selftest"], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "no resocket manifest where Chromium looks" in proc.stdout
    [fix] = [line.split("fix: ", 1)[1] for line in proc.stdout.splitlines() if "fix: " in line]
    # Outside PATH the fix names this very `resocket` by its full path, so it can be pasted as is.
    assert fix.endswith(f"install --browser chromium --user-data-dir {udd}")
    subprocess.run(shlex.split(fix), check=True, capture_output=True, timeout=60)
    proc = subprocess.run([str(VENV_BIN / "resocket"), "doctor", "--user-data-dir", str(udd), "--root", str(root),
                           "--no-selftest"], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "no problems found" in proc.stdout


# -- each broken manifest, found and fixed ---------------------------------------------------------------------
def _bom(m: Path) -> None:
    m.write_bytes(b"\xef\xbb\xbf" + m.read_bytes())


def _wrong_name(m: Path) -> None:
    _edit(m, name="org.resocket.hots")


def _relative_path(m: Path) -> None:
    _edit(m, path="resocket-host")


def _missing_host(m: Path) -> None:
    _edit(m, path=str(m.parent / "gone" / "resocket-host"))


def _missing_origin(m: Path) -> None:
    _edit(m, allowed_origins=["chrome-extension://abcdefghijklmnopabcdefghijklmnop/"])


def _wildcard_origin(m: Path) -> None:
    _edit(m, allowed_origins=[EXTENSION_ORIGIN, "chrome-extension://*/"])


def _not_json(m: Path) -> None:
    m.write_text("{name: org.resocket.host}")


def _missing(m: Path) -> None:
    m.unlink()


def _edit(m: Path, **changes: object) -> None:
    data = json.loads(m.read_text())
    data.update(changes)
    m.write_text(json.dumps(data))


@pytest.mark.parametrize(("breakage", "expected"), [
    (_bom, "byte order mark"),
    (_wrong_name, "name is 'org.resocket.hots'"),
    (_relative_path, "is relative"),
    (_missing_host, "does not exist"),
    (_missing_origin, f"allowed_origins does not contain {EXTENSION_ORIGIN}"),
    (_wildcard_origin, "not exact"),
    (_not_json, "not valid UTF-8 JSON"),
    (_missing, "no resocket manifest where Chromium looks"),
])
def test_doctor_finds_a_broken_manifest_and_its_fix_repairs_it(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, root: Path, breakage, expected: str) -> None:
    udd = profile_dir(tmp_path)
    manifest = install_into(capsys, udd)
    breakage(manifest)
    code, report = run_doctor(capsys, root, "--user-data-dir", str(udd), "--no-selftest")
    assert code == 1 and report["ok"] is False
    [problem] = report["problems"]
    assert problem["browser"] == "chromium"
    assert expected in problem["problem"]
    assert problem["fix"] == f"resocket install --browser chromium --user-data-dir {shlex.quote(str(udd))}"
    assert report["browsers"][0]["ok"] is False

    assert cli.main(shlex.split(problem["fix"])[1:]) == 0
    capsys.readouterr()
    code, report = run_doctor(capsys, root, "--user-data-dir", str(udd), "--no-selftest")
    assert (code, report["problems"]) == (0, [])


def test_doctor_finds_a_host_without_execute_permission_and_suggests_chmod(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, root: Path) -> None:
    host = script(tmp_path / "bin" / "resocket-host", "")
    udd = profile_dir(tmp_path)
    install_into(capsys, udd, "--host-path", str(host))
    host.chmod(0o644)
    code, report = run_doctor(capsys, root, "--user-data-dir", str(udd), "--no-selftest")
    assert code == 1
    [problem] = report["problems"]
    assert "not executable" in problem["problem"]
    assert problem["fix"] == f"chmod +x {host}"


def test_doctor_checks_the_browsers_found_in_home_in_both_scopes(
        capsys: pytest.CaptureFixture[str], private_home: Path, root: Path) -> None:
    (private_home / ".config/chromium").mkdir(parents=True)
    (private_home / ".mozilla/firefox").mkdir(parents=True)
    assert cli.main(["install", "--root", str(root)]) == 0
    capsys.readouterr()
    code, report = run_doctor(capsys, root, "--no-selftest")
    assert (code, report["problems"]) == (0, [])
    assert [b["browser"] for b in report["browsers"]] == ["chromium", "firefox"]
    chromium = report["browsers"][0]["locations"]
    assert [(loc["scope"], loc["status"]) for loc in chromium] == [("user", "ok"), ("system", "missing")]


# -- sandboxes and policies --------------------------------------------------------
def test_a_flatpak_beside_a_working_native_browser_is_no_problem_and_its_recipe_a_note(
        capsys: pytest.CaptureFixture[str], private_home: Path, tmp_path: Path, root: Path) -> None:
    (private_home / ".var/app/com.google.Chrome").mkdir(parents=True)
    (private_home / ".config/google-chrome").mkdir(parents=True)
    assert cli.main(["install"]) == 0
    capsys.readouterr()
    code, report = run_doctor(capsys, root, "--no-selftest")
    assert (code, report["problems"]) == (0, [])
    assert report["browsers"][0]["sandboxed"] == ["flatpak"]
    [note] = report["browsers"][0]["notes"]  # how the Flatpak one would reach the host, should it be used
    assert "com.google.Chrome is installed too" in note and "flatpak override --user" in note


def _policy(root: Path, name: str, content: dict, folder: str = "etc/chromium/policies/managed") -> Path:
    path = root / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content))
    return path


@pytest.mark.parametrize("blocked", ["*", HOST_NAME])
def test_doctor_reports_a_policy_blocklist_that_blocks_the_host(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, root: Path, blocked: str) -> None:
    udd = profile_dir(tmp_path)
    install_into(capsys, udd)
    policy = _policy(root, "lockdown.json", {"NativeMessagingBlocklist": [blocked]})
    code, report = run_doctor(capsys, root, "--user-data-dir", str(udd), "--no-selftest")
    assert code == 1
    [problem] = report["problems"]
    assert str(policy) in problem["problem"] and "NativeMessagingBlocklist" in problem["problem"]
    assert "NativeMessagingAllowlist" in problem["fix"]

    _policy(root, "resocket.json", {"NativeMessagingAllowlist": [HOST_NAME]})
    code, report = run_doctor(capsys, root, "--user-data-dir", str(udd), "--no-selftest")
    assert (code, report["problems"]) == (0, [])


def test_doctor_reports_user_level_hosts_disabled_with_only_a_user_install(
        capsys: pytest.CaptureFixture[str], private_home: Path, root: Path) -> None:
    (private_home / ".config/google-chrome").mkdir(parents=True)
    assert cli.main(["install"]) == 0
    capsys.readouterr()
    _policy(root, "policy.json", {"NativeMessagingUserLevelHosts": False}, "etc/opt/chrome/policies/managed")
    code, report = run_doctor(capsys, root, "--no-selftest")
    assert code == 1
    [problem] = report["problems"]
    assert "NativeMessagingUserLevelHosts" in problem["problem"]
    assert problem["fix"] == "sudo resocket install --browser chrome --scope system"

    assert cli.main(shlex.split(problem["fix"])[2:] + ["--root", str(root)]) == 0
    capsys.readouterr()
    code, report = run_doctor(capsys, root, "--no-selftest")
    assert (code, report["problems"]) == (0, [])


@pytest.mark.parametrize(("name", "content", "expected", "fix"), [
    # A file Chrome cannot parse is dropped whole: a syntax error at its line, not a permissions problem.
    ("lockdown.json", '{\n  "NativeMessagingBlocklist": ["*"]\n  "NativeMessagingAllowlist": []\n}\n',
     ("is not valid JSON: Expecting ',' delimiter at line 3, column 3; Chromium ignores the whole file, so none "
      "of the policies in it apply"), "administrator: correct line 3 of {policy} (sudo -e {policy})"),
    # Chrome applies a file with trailing commas, and reads every file of the folder (enterprise-policy probe).
    ("lockdown", '{"NativeMessagingBlocklist": ["*", ], "Other": "a, ]",}',
     f"blocks native messaging host {HOST_NAME} (NativeMessagingBlocklist: ['*'])",
     f'administrator: add "{HOST_NAME}" to "NativeMessagingAllowlist" in {{policy}}'),
])
def test_doctor_reads_policy_files_as_chrome_does(capsys: pytest.CaptureFixture[str], tmp_path: Path, root: Path,
                                                  name: str, content: str, expected: str, fix: str) -> None:
    udd = profile_dir(tmp_path)
    install_into(capsys, udd)
    policy = _policy(root, name, {})
    policy.write_text(content)
    code, report = run_doctor(capsys, root, "--user-data-dir", str(udd), "--no-selftest")
    assert code == 1
    [problem] = report["problems"]
    assert problem["problem"] == f"policy file {policy} {expected}"
    assert problem["fix"] == fix.format(policy=policy)


# -- Windows (the registry is a dict here; only the layout logic runs on this machine) ----------------------
def test_doctor_on_windows_follows_the_registry_key_to_the_manifest(tmp_path: Path) -> None:
    plat = Platform("windows", tmp_path / "home", tmp_path / "root")
    (plat.home / "AppData/Local/Microsoft/Edge/User Data").mkdir(parents=True)
    registry = install.MemoryRegistry()
    host = script(tmp_path / "bin" / "resocket-host.exe", "")
    targets, _ = install.targets_for([browsers.get("edge")], plat, "user")
    changes, contents, _ = install.plan_install(targets, host, [], registry)
    install.apply(changes, contents, registry)
    opts = doctor.Options(selftest=False)
    report = doctor.run(plat, opts, registry)
    assert report["problems"] == [] and report["ok"] is True
    edge_key = rf"Software\Microsoft\Edge\NativeMessagingHosts\{HOST_NAME}"
    assert report["browsers"][0]["locations"][0]["registry_key"] == f"HKCU\\{edge_key}"

    registry.set_default("HKCU", edge_key, str(tmp_path / "moved.json"))
    report = doctor.run(plat, opts, registry)
    [problem] = report["problems"]
    assert f"registry key HKCU\\{edge_key} points at" in problem["problem"]
    assert problem["fix"] == "resocket install --browser edge"

    registry.delete_key("HKCU", edge_key)
    report = doctor.run(plat, opts, registry)
    assert "no resocket manifest where Microsoft Edge looks" in report["problems"][0]["problem"]


def test_doctor_on_windows_refuses_a_host_that_is_not_exe_or_bat(tmp_path: Path) -> None:
    plat = Platform("windows", tmp_path / "home", tmp_path / "root")
    registry = install.MemoryRegistry()
    host = script(tmp_path / "bin" / "resocket_host.py", "")
    targets, _ = install.targets_for([browsers.get("chrome")], plat, "user")
    changes, contents, _ = install.plan_install(targets, host, [], registry)
    install.apply(changes, contents, registry)
    report = doctor.run(plat, doctor.Options(browsers=("chrome",), scope="user", selftest=False), registry)
    assert "not an .exe or .bat" in report["problems"][0]["problem"]


# -- the live self-test ---------------------------------------------------------------------------------------
def test_selftest_starts_the_host_as_the_browser_does(tmp_path: Path) -> None:
    host = script(tmp_path / "hostdir" / "host", HELLO_HOST.replace("PROTOCOL", str(PROTOCOL_VERSION)))
    result = doctor.self_test(host, timeout=30)
    assert result["error"] is None and result["ok"] is True
    assert (result["version"], result["protocol"]) == ("9.9.9", PROTOCOL_VERSION)
    started = json.loads((tmp_path / "hostdir" / "started.json").read_text())
    assert started == {"argv": [EXTENSION_ORIGIN], "cwd": str(tmp_path / "hostdir")}


def test_selftest_reports_a_protocol_mismatch(tmp_path: Path) -> None:
    host = script(tmp_path / "host", HELLO_HOST.replace("PROTOCOL", str(PROTOCOL_VERSION + 1)))
    result = doctor.self_test(host, timeout=30)
    assert result["ok"] is False
    assert f"protocol {PROTOCOL_VERSION + 1}" in result["error"]


def test_selftest_reports_text_on_the_hosts_stdout(tmp_path: Path) -> None:
    host = script(tmp_path / "host", "import sys\nprint('hello from a debug print')\nsys.stdin.read()\n")
    result = doctor.self_test(host, timeout=30)
    assert result["ok"] is False
    assert "not a frame" in result["error"] and "'hell'" in result["error"]


def test_selftest_reports_a_host_that_exits_at_once_with_its_stderr(tmp_path: Path) -> None:
    host = script(tmp_path / "host", "import sys\nsys.exit('ImportError: no module named resocket')\n")
    result = doctor.self_test(host, timeout=30)
    assert result["ok"] is False
    assert "exited without replying" in result["error"]
    assert "no module named resocket" in result["stderr"]


def test_a_failing_selftest_fails_the_doctor_with_a_command_to_see_the_error(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, root: Path) -> None:
    host = script(tmp_path / "bin" / "resocket-host", "import sys\nsys.exit('boom: broken install')\n")
    udd = profile_dir(tmp_path)
    install_into(capsys, udd, "--host-path", str(host))
    code, report = run_doctor(capsys, root, "--user-data-dir", str(udd))
    assert code == 1 and report["selftest"]["ok"] is False
    [problem] = report["problems"]
    assert problem["browser"] is None
    assert "boom: broken install" in problem["problem"]
    assert problem["fix"].endswith(f"{host} {EXTENSION_ORIGIN} </dev/null")
    assert os.access(host, os.X_OK)


# -- things in the way, and fixes that are commands ---------------------------------------------------------
def test_doctor_names_a_file_where_the_manifest_folder_should_be_and_its_fix_works(
        capsys: pytest.CaptureFixture[str], private_home: Path, root: Path) -> None:
    (private_home / ".config/chromium").mkdir(parents=True)
    blocker = private_home / ".config/chromium/NativeMessagingHosts"
    blocker.write_text("")
    code, report = run_doctor(capsys, root, "--no-selftest", "--scope", "user")
    assert code == 1
    [problem] = report["problems"]
    assert f"{blocker} is a file where a folder must be" in problem["problem"]
    assert problem["fix"] == f"mv {blocker} {blocker}.moved-aside && resocket install --browser chromium"
    move, reinstall = problem["fix"].split(" && ")
    subprocess.run(shlex.split(move), check=True)
    assert cli.main(shlex.split(reinstall)[1:]) == 0
    capsys.readouterr()
    code, report = run_doctor(capsys, root, "--no-selftest", "--scope", "user")
    assert (code, report["problems"]) == (0, [])


def test_doctor_names_a_folder_at_the_manifest_path_instead_of_suggesting_chmod(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, root: Path) -> None:
    udd = profile_dir(tmp_path)
    manifest = udd / "NativeMessagingHosts" / MANIFEST
    manifest.mkdir(parents=True)
    code, report = run_doctor(capsys, root, "--user-data-dir", str(udd), "--no-selftest")
    assert code == 1
    [problem] = report["problems"]
    assert f"{manifest} is a folder" in problem["problem"]
    assert "chmod" not in problem["fix"]
    assert problem["fix"].startswith(f"mv {manifest} {manifest}.moved-aside && ")


def test_doctor_checks_a_browser_installed_but_never_started_and_its_fix_provisions_it(
        capsys: pytest.CaptureFixture[str], private_home: Path, root: Path) -> None:
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/firefox").write_text("")
    code, report = run_doctor(capsys, root, "--no-selftest")
    assert code == 1
    [problem] = report["problems"]
    assert problem["problem"].startswith("no resocket manifest where Firefox looks")
    assert problem["fix"] == "resocket install --browser firefox"
    assert [b["browser"] for b in report["browsers"]] == ["firefox"] and report["browsers"][0]["installed"] is True
    assert cli.main(shlex.split(problem["fix"])[1:] + ["--root", str(root)]) == 0
    capsys.readouterr()
    assert (private_home / ".mozilla/native-messaging-hosts" / MANIFEST).exists()
    code, report = run_doctor(capsys, root, "--no-selftest")
    assert (code, report["problems"]) == (0, [])


def test_doctor_with_no_browser_at_all_offers_an_install_command_for_each(
        capsys: pytest.CaptureFixture[str], root: Path) -> None:
    code, report = run_doctor(capsys, root, "--no-selftest")
    assert code == 1
    [problem] = report["problems"]
    assert problem["problem"].startswith("no supported browser found for this user")
    commands = [problem["fix"], *problem["alternatives"]]
    assert commands == [f"resocket install --browser {name}" for name in browsers.BROWSER_NAMES]
    for command in commands:
        assert cli.build_parser().parse_args(shlex.split(command)[1:]).command == "install"


def test_user_level_hosts_policy_is_no_problem_when_a_sound_system_manifest_serves_the_browser(
        capsys: pytest.CaptureFixture[str], private_home: Path, root: Path) -> None:
    (private_home / ".config/google-chrome").mkdir(parents=True)
    for scope in ("user", "system"):
        assert cli.main(["install", "--browser", "chrome", "--scope", scope, "--root", str(root)]) == 0
    capsys.readouterr()
    _policy(root, "policy.json", {"NativeMessagingUserLevelHosts": False}, "etc/opt/chrome/policies/managed")
    code, report = run_doctor(capsys, root, "--no-selftest", "--scope", "user")
    assert (code, report["problems"]) == (0, [])
    assert report["browsers"][0]["policy"]["user_level_hosts"] is False


@pytest.mark.parametrize("folder", ["etc/opt/vivaldi/policies/managed", "etc/vivaldi/policies/managed"])
def test_doctor_reads_vivaldis_policy_folders(capsys: pytest.CaptureFixture[str], private_home: Path, root: Path,
                                             folder: str) -> None:
    (private_home / ".config/vivaldi").mkdir(parents=True)
    assert cli.main(["install", "--browser", "vivaldi"]) == 0
    capsys.readouterr()
    policy = _policy(root, "lockdown.json", {"NativeMessagingBlocklist": ["*"]}, folder)
    code, report = run_doctor(capsys, root, "--no-selftest")
    assert code == 1 and str(policy) in report["problems"][0]["problem"]


# -- Snap and Flatpak builds: how each can reach the host ------------------------------------------------------------
def test_doctor_says_how_firefoxs_snap_reaches_the_host_and_its_fix_is_the_ordinary_install(
        capsys: pytest.CaptureFixture[str], private_home: Path, root: Path) -> None:
    (private_home / "snap/firefox/common/.mozilla/firefox").mkdir(parents=True)
    code, report = run_doctor(capsys, root, "--no-selftest")
    assert code == 1
    [firefox] = report["browsers"]
    assert firefox["sandboxed"] == ["snap"]
    [note] = firefox["notes"]
    assert "WebExtensions portal" in note and str(private_home / ".mozilla/native-messaging-hosts") in note
    [problem] = report["problems"]
    assert "no resocket manifest where Firefox looks" in problem["problem"] and "impossible" not in problem["problem"]
    assert problem["fix"] == "resocket install --browser firefox"
    # `resocket install` alone finds the snap too: the portal reads ~/.mozilla/native-messaging-hosts.
    assert cli.main(["install", "--root", str(root)]) == 0
    text = capsys.readouterr().out
    assert str(private_home / ".mozilla/native-messaging-hosts" / MANIFEST) in text
    code, report = run_doctor(capsys, root, "--no-selftest")
    assert (code, report["problems"]) == (0, [])
    assert "WebExtensions portal" in doctor.format_text(report)
    # Chromium's snap does not use the portal: that one cannot reach the host.
    (private_home / "snap/chromium/current").mkdir(parents=True)
    code, report = run_doctor(capsys, root, "--no-selftest")
    [problem] = report["problems"]
    assert (code, problem["browser"]) == (1, "chromium")
    assert "does not use the WebExtensions portal, so it cannot reach resocket-host" in problem["problem"]
    assert report["browsers"][0]["sandboxed"] == ["snap"]


def _fake_flatpak_tools(bin_dir: Path) -> Path:
    """`flatpak` that records its arguments, and `flatpak-spawn` that runs its command here, as the real one
    runs it on the host system (it drops --host)."""
    script(bin_dir / "flatpak", "import sys, pathlib\n"
           "pathlib.Path(__file__).with_name('flatpak.args').write_text(' '.join(sys.argv[1:]))\n")
    (bin_dir / "flatpak-spawn").write_text('#!/bin/sh\n[ "$1" = --host ] && shift\nexec "$@"\n')
    (bin_dir / "flatpak-spawn").chmod(0o755)
    return bin_dir


@pytest.mark.parametrize(("name", "app_id", "manifest_dir"), [
    ("chrome", "com.google.Chrome", "config/google-chrome/NativeMessagingHosts"),
    ("firefox", "org.mozilla.firefox", ".mozilla/native-messaging-hosts"),
])
def test_doctor_gives_a_flatpak_browser_the_flatpak_spawn_recipe_and_the_recipe_works(
        capsys: pytest.CaptureFixture[str], private_home: Path, tmp_path: Path, root: Path,
        monkeypatch: pytest.MonkeyPatch, name: str, app_id: str, manifest_dir: str) -> None:
    (private_home / ".var/app" / app_id).mkdir(parents=True)
    code, report = run_doctor(capsys, root, "--no-selftest")
    assert code == 1
    [problem] = report["problems"]
    assert f"installed as a Flatpak ({app_id})" in problem["problem"]
    assert "flatpak-spawn --host" in problem["problem"] and "--talk-name=org.freedesktop.Flatpak" in problem["problem"]
    recipe = problem["fix"]
    assert recipe.startswith(f"flatpak override --user --talk-name=org.freedesktop.Flatpak {app_id} && ")
    # Run the recipe as a user pastes it; `flatpak` and `flatpak-spawn` are stand-ins on PATH.
    tools = _fake_flatpak_tools(tmp_path / "tools")
    env = {**os.environ, "PATH": f"{tools}:{VENV_BIN}:/usr/bin:/bin"}
    subprocess.run(["sh", "-c", recipe], check=True, env=env, capture_output=True, timeout=60)
    assert (tools / "flatpak.args").read_text() == f"override --user --talk-name=org.freedesktop.Flatpak {app_id}"
    manifest = private_home / ".var/app" / app_id / manifest_dir / MANIFEST
    wrapper = Path(json.loads(manifest.read_text())["path"])
    assert wrapper.is_relative_to(private_home / ".var/app" / app_id)  # the sandbox sees it at that path
    code, report = run_doctor(capsys, root, "--no-selftest")
    assert (code, report["problems"]) == (0, [])
    [location] = [loc for loc in report["browsers"][0]["locations"] if loc.get("sandbox")]
    assert (location["manifest"], location["status"]) == (str(manifest), "ok")
    # The wrapper starts the real host through flatpak-spawn, and the host answers hello.
    monkeypatch.setenv("PATH", env["PATH"])
    result = doctor.self_test(wrapper, timeout=30)
    assert result["error"] is None and result["version"] == __version__
    # uninstall knows the recipe's places too.
    assert cli.main(["uninstall"]) == 0
    assert f"removed      {name:<13} user   {wrapper} (Flatpak wrapper)" in capsys.readouterr().out
    assert not manifest.exists() and not wrapper.exists()


# -- the reply is read with the host's own codec ------------------------------------------------------------------
def test_selftest_reads_the_reply_with_the_hosts_frame_codec(tmp_path: Path) -> None:
    # A frame whose JSON holds NaN: Python's json would take it, the host's codec (and Chrome) does not.
    body = '{"id": 1, "result": {"protocol": NaN}}'
    host = script(tmp_path / "host", "import struct, sys\nsys.stdin.buffer.read(4)\n"
                  f"body = {body!r}.encode()\n"
                  "sys.stdout.buffer.write(struct.pack('=I', len(body)) + body)\nsys.stdout.buffer.flush()\n"
                  "sys.stdin.buffer.read()\n")
    result = doctor.self_test(host, timeout=30)
    assert result["ok"] is False
    assert result["error"] == "the host's reply is not UTF-8 JSON: frame is not valid JSON (NaN is not valid JSON)"
    assert "framing" in doctor.__doc__ and not hasattr(doctor, "struct")


# -- channels and config homes in the doctor -----------------------------------------------------------------------
def test_doctor_checks_chrome_beta_where_it_looks_and_applies_chromes_policies_to_it(
        capsys: pytest.CaptureFixture[str], private_home: Path, root: Path) -> None:
    (private_home / ".config/google-chrome-beta").mkdir(parents=True)
    assert cli.main(["install", "--root", str(root)]) == 0
    capsys.readouterr()
    code, report = run_doctor(capsys, root, "--no-selftest")
    assert (code, report["problems"]) == (0, [])
    [beta] = report["browsers"]
    assert beta["locations"][0]["manifest"] == str(private_home / ".config/google-chrome-beta/NativeMessagingHosts"
                                                   / MANIFEST)
    _policy(root, "policy.json", {"NativeMessagingUserLevelHosts": False}, "etc/opt/chrome/policies/managed")
    code, report = run_doctor(capsys, root, "--no-selftest")
    [problem] = report["problems"]
    assert problem["fix"] == "sudo resocket install --browser chrome-beta --scope system"


def test_doctor_follows_chrome_config_home(capsys: pytest.CaptureFixture[str], private_home: Path, tmp_path: Path,
                                           root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chrome_home = tmp_path / "chrome-home"
    (chrome_home / "chromium").mkdir(parents=True)
    monkeypatch.setenv("CHROME_CONFIG_HOME", str(chrome_home))
    code, report = run_doctor(capsys, root, "--no-selftest", "--scope", "user")
    [problem] = report["problems"]
    assert str(chrome_home / "chromium/NativeMessagingHosts" / MANIFEST) in problem["problem"]
    assert cli.main(shlex.split(problem["fix"])[1:]) == 0
    capsys.readouterr()
    code, report = run_doctor(capsys, root, "--no-selftest", "--scope", "user")
    assert (code, report["problems"]) == (0, [])
    assert not (private_home / ".config").exists()


def test_doctor_for_a_user_data_dir_that_does_not_exist_says_so(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, root: Path) -> None:
    missing = tmp_path / "profle"
    code, report = run_doctor(capsys, root, "--user-data-dir", str(missing), "--no-selftest")
    assert code == 1
    [problem] = report["problems"]
    assert problem["problem"].startswith(f"the --user-data-dir folder {missing} does not exist")
    assert problem["fix"] == f"mkdir -p {missing} && resocket install --browser chromium --user-data-dir {missing}"
    mkdir, reinstall = problem["fix"].split(" && ")
    subprocess.run(shlex.split(mkdir), check=True)
    assert cli.main(shlex.split(reinstall)[1:]) == 0
    capsys.readouterr()
    code, report = run_doctor(capsys, root, "--user-data-dir", str(missing), "--no-selftest")
    assert (code, report["problems"]) == (0, [])


# -- fixes spell `resocket` the way this installation runs ------------------------------------------------------------
def test_fixes_name_resocket_as_the_user_can_run_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chrome = browsers.get("chrome")
    venv = make_program(tmp_path / "venv/bin")
    monkeypatch.setattr(sys, "argv", [str(venv)])
    # Not on PATH: the full path, so the fix can be pasted as is.
    assert doctor.program_name() == str(venv)
    # On PATH (an activated venv): the bare name, but sudo's own PATH does not hold the venv.
    monkeypatch.setenv("PATH", f"{venv.parent}:/usr/bin:/bin")
    assert doctor.program_name() == "resocket"
    assert doctor.install_command("resocket", chrome, "user", None) == "resocket install --browser chrome"
    assert doctor.install_command("resocket", chrome, "system", None) == (
        f"sudo {venv} install --browser chrome --scope system")
    # `python -m resocket`: the same interpreter, the same module.
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "site-packages/resocket/__main__.py")])
    assert doctor.program_name() == f"{sys.executable} -m resocket"


def test_fixes_name_a_bundled_resocket_by_its_executable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A PyInstaller bundle started through a link on PATH (the .deb's /usr/bin/resocket): argv[0] is "resocket".
    bundle = make_program(tmp_path / "opt/resocket")
    links = tmp_path / "usr/bin"
    links.mkdir(parents=True)
    (links / "resocket").symlink_to(bundle)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(bundle))
    monkeypatch.setattr(sys, "argv", ["resocket"])
    monkeypatch.setenv("PATH", f"{links}:/usr/bin:/bin")
    assert doctor.program_name() == "resocket"
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert doctor.program_name() == str(bundle)
    assert doctor.reinstall_command() == f"unpack the matching resocket bundle over {bundle.parent}"


def make_program(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / "resocket"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    return program
