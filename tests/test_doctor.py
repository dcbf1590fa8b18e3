"""resocket doctor: each way a browser fails to reach the host is found, with a fix that works, and a good
install passes with a live hello round trip to the real resocket-host.

Temporary HOME and root everywhere: the machine's real browser folders and /etc policies are never read.
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

VENV_BIN = Path(sys.executable).parent
MANIFEST = f"{HOST_NAME}.json"


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("RESOCKET_CONFIG_DIR", str(tmp_path / "config"))
    return home


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
    udd = tmp_path / "profile"
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
    udd = tmp_path / "profile"
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
    udd = tmp_path / "profile"
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
    udd = tmp_path / "profile"
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


def test_doctor_with_no_browser_found_says_so(capsys: pytest.CaptureFixture[str], root: Path) -> None:
    code, report = run_doctor(capsys, root, "--no-selftest")
    assert code == 1
    assert "no supported browser found" in report["problems"][0]["problem"]


# -- things the host cannot fix: sandboxes and policies --------------------------------------------------------
def test_doctor_explains_that_a_snap_browser_cannot_reach_the_host(
        capsys: pytest.CaptureFixture[str], private_home: Path, root: Path) -> None:
    (private_home / "snap/chromium/current").mkdir(parents=True)
    code, report = run_doctor(capsys, root, "--no-selftest")
    assert code == 1
    [problem] = report["problems"]
    assert problem["browser"] == "chromium"
    assert "Snap" in problem["problem"] and "cannot reach resocket-host" in problem["problem"]
    assert report["browsers"][0]["sandboxed"] == ["snap"]


def test_doctor_warns_nothing_about_a_flatpak_beside_a_working_native_browser(
        capsys: pytest.CaptureFixture[str], private_home: Path, tmp_path: Path, root: Path) -> None:
    (private_home / ".var/app/com.google.Chrome").mkdir(parents=True)
    (private_home / ".config/google-chrome").mkdir(parents=True)
    assert cli.main(["install"]) == 0
    capsys.readouterr()
    code, report = run_doctor(capsys, root, "--no-selftest")
    assert (code, report["problems"]) == (0, [])
    assert report["browsers"][0]["sandboxed"] == ["flatpak"]


def _policy(root: Path, name: str, content: dict, folder: str = "etc/chromium/policies/managed") -> Path:
    path = root / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content))
    return path


@pytest.mark.parametrize("blocked", ["*", HOST_NAME])
def test_doctor_reports_a_policy_blocklist_that_blocks_the_host(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, root: Path, blocked: str) -> None:
    udd = tmp_path / "profile"
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


def test_doctor_reports_an_unparseable_policy_file(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, root: Path) -> None:
    udd = tmp_path / "profile"
    install_into(capsys, udd)
    _policy(root, "x.json", {}).write_text("{not json")
    code, report = run_doctor(capsys, root, "--user-data-dir", str(udd), "--no-selftest")
    assert code == 1 and "cannot be read" in report["problems"][0]["problem"]


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
    udd = tmp_path / "profile"
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
    udd = tmp_path / "profile"
    manifest = udd / "NativeMessagingHosts" / MANIFEST
    manifest.mkdir(parents=True)
    code, report = run_doctor(capsys, root, "--user-data-dir", str(udd), "--no-selftest")
    assert code == 1
    [problem] = report["problems"]
    assert f"{manifest} is a folder" in problem["problem"]
    assert "chmod" not in problem["fix"]
    assert problem["fix"].startswith(f"mv {manifest} {manifest}.moved-aside && ")


def test_doctor_with_no_browser_offers_runnable_install_commands_installed_browsers_first(
        capsys: pytest.CaptureFixture[str], private_home: Path, root: Path) -> None:
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/firefox").write_text("")
    code, report = run_doctor(capsys, root, "--no-selftest")
    assert code == 1
    [problem] = report["problems"]
    assert "installed on this machine but never started by this user: Firefox" in problem["problem"]
    assert problem["fix"] == "resocket install --browser firefox"
    assert "resocket install --browser chromium" in problem["alternatives"]
    for command in [problem["fix"], *problem["alternatives"]]:
        argv = shlex.split(command)
        assert argv[0] == "resocket" and cli.build_parser().parse_args(argv[1:]).command == "install"
    assert cli.main(shlex.split(problem["fix"])[1:]) == 0
    assert (private_home / ".mozilla/native-messaging-hosts" / MANIFEST).exists()


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
