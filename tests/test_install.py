"""resocket install / uninstall: manifest locations per browser and OS, the files written, repair, uninstall.

Every test runs with a temporary HOME and an empty temporary root for system-wide paths (the machine's own
browsers are not seen unless a test puts their programs under that root); nothing touches the machine's
real browser folders. macOS and Windows layouts are computed here from the same table, with a dict-backed
registry standing in for Windows's.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from resocket import EXTENSION_ORIGIN, HOST_NAME, cli
from resocket.cli import browsers, install
from resocket.cli.browsers import Platform

from tests.support.machine import private_machine, profile_dir

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
OTHER_ID = "abcdefghijklmnopabcdefghijklmnop"
OTHER_ORIGIN = f"chrome-extension://{OTHER_ID}/"
MANIFEST = f"{HOST_NAME}.json"


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return private_machine(tmp_path, monkeypatch)


def make_host(folder: Path, name: str = "resocket-host") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    host = folder / name
    host.write_text("#!/bin/sh\nexit 0\n")
    host.chmod(0o755)
    return host


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def load(path: Path) -> dict:
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    return json.loads(raw.decode("utf-8"))


# -- the location table ---------------------------------------------------------------------------------
def test_linux_user_and_system_folders_follow_the_browsers_documentation(tmp_path: Path) -> None:
    plat = Platform("linux", tmp_path / "h", tmp_path / "r")
    h, r = plat.home, plat.root

    def dirs(name: str, scope: str) -> list[Path]:
        return browsers.manifest_dirs(browsers.get(name), plat, scope)

    assert dirs("chrome", "user") == [h / ".config/google-chrome/NativeMessagingHosts"]
    assert dirs("chromium", "user") == [h / ".config/chromium/NativeMessagingHosts"]
    assert dirs("edge", "user") == [h / ".config/microsoft-edge/NativeMessagingHosts"]
    assert dirs("brave", "user") == [h / ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts"]
    assert dirs("vivaldi", "user") == [h / ".config/vivaldi/NativeMessagingHosts"]
    assert dirs("opera", "user") == [h / ".config/opera/NativeMessagingHosts"]
    assert dirs("firefox", "user") == [h / ".mozilla/native-messaging-hosts"]
    assert dirs("chrome", "system") == [r / "etc/opt/chrome/native-messaging-hosts"]
    assert dirs("chromium", "system") == [r / "etc/chromium/native-messaging-hosts"]
    assert dirs("edge", "system") == [r / "etc/opt/edge/native-messaging-hosts"]
    assert dirs("brave", "system") == [r / "etc/opt/chrome/native-messaging-hosts"]  # Brave reads Chrome's
    assert dirs("vivaldi", "system") == [r / "etc/opt/vivaldi/native-messaging-hosts",
                                         r / "etc/vivaldi/native-messaging-hosts"]
    assert dirs("firefox", "system") == [r / "usr/lib/mozilla/native-messaging-hosts",
                                         r / "usr/lib64/mozilla/native-messaging-hosts"]
    assert dirs("opera", "system") == []


def test_macos_folders_are_under_library_application_support(tmp_path: Path) -> None:
    plat = Platform("macos", tmp_path / "h", tmp_path / "r")
    support = plat.home / "Library/Application Support"
    assert browsers.manifest_dirs(browsers.get("chrome"), plat, "user") == [support / "Google/Chrome/NativeMessagingHosts"]
    assert browsers.manifest_dirs(browsers.get("chrome"), plat, "system") == [
        plat.root / "Library/Google/Chrome/NativeMessagingHosts"]
    assert browsers.manifest_dirs(browsers.get("edge"), plat, "user") == [support / "Microsoft Edge/NativeMessagingHosts"]
    assert browsers.manifest_dirs(browsers.get("edge"), plat, "system") == [
        plat.root / "Library/Microsoft/Edge/NativeMessagingHosts"]
    assert browsers.manifest_dirs(browsers.get("firefox"), plat, "user") == [support / "Mozilla/NativeMessagingHosts"]
    assert browsers.manifest_dirs(browsers.get("brave"), plat, "system") == []


def test_windows_registry_keys_per_browser_and_scope() -> None:
    def keys(name: str, scope: str = "user") -> list[tuple[str, str]]:
        return browsers.registry_keys(browsers.get(name), scope)

    chrome_key = rf"Software\Google\Chrome\NativeMessagingHosts\{HOST_NAME}"
    assert keys("chrome") == [("HKCU", chrome_key)]
    assert keys("chrome", "system") == [("HKLM", chrome_key)]
    assert keys("chromium") == [("HKCU", rf"Software\Chromium\NativeMessagingHosts\{HOST_NAME}")]
    assert keys("edge") == [("HKCU", rf"Software\Microsoft\Edge\NativeMessagingHosts\{HOST_NAME}")]
    assert keys("brave") == [("HKCU", rf"Software\BraveSoftware\Brave-Browser\NativeMessagingHosts\{HOST_NAME}"),
                             ("HKCU", chrome_key)]
    assert keys("vivaldi") == keys("opera") == [("HKCU", chrome_key)]
    assert keys("firefox") == [("HKCU", rf"Software\Mozilla\NativeMessagingHosts\{HOST_NAME}")]


def test_unknown_browser_and_scope_are_refused_with_the_valid_choices(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="chromium"):
        browsers.get("netscape")
    with pytest.raises(ValueError, match="user or system"):
        browsers.manifest_dirs(browsers.get("chrome"), Platform("linux", tmp_path, tmp_path), "global")


def test_manifest_templates_match_what_the_installer_writes() -> None:
    for family, key in (("chromium", "@ALLOWED_ORIGINS@"), ("firefox", "@ALLOWED_EXTENSIONS@")):
        template = (REPO / "manifests" / f"{family}.json.in").read_text(encoding="utf-8")
        allowed = [EXTENSION_ORIGIN, OTHER_ORIGIN] if family == "chromium" else [install.FIREFOX_EXTENSION_ID]
        filled = (template.replace("@HOST_NAME@", HOST_NAME).replace("@DESCRIPTION@", install.DESCRIPTION)
                  .replace("@HOST_PATH@", "/opt/resocket/resocket-host").replace(key, json.dumps(allowed)))
        rendered = install.render_manifest(family, "/opt/resocket/resocket-host", allowed)
        assert json.loads(filled) == rendered
        assert list(json.loads(filled)) == list(rendered)  # same key order too


# -- the public contract ---------------------------------------------------------------------------------
def test_install_for_a_custom_user_data_dir_writes_the_manifest_chromium_reads(tmp_path: Path) -> None:
    udd = profile_dir(tmp_path)
    proc = subprocess.run([str(VENV_BIN / "resocket"), "install", "--browser", "chromium", "--user-data-dir", str(udd)],
                          check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    manifest = udd / "NativeMessagingHosts" / MANIFEST
    assert str(manifest) in proc.stdout
    data = load(manifest)
    assert data["name"] == HOST_NAME
    assert data["type"] == "stdio"
    assert data["path"] == str(VENV_BIN / "resocket-host")
    assert os.path.isabs(data["path"]) and os.access(data["path"], os.X_OK)
    assert data["allowed_origins"] == [EXTENSION_ORIGIN]
    assert not (Path(os.environ["HOME"]) / ".config").exists()


def test_install_by_default_registers_only_the_browsers_found_for_the_user(
        capsys: pytest.CaptureFixture[str], private_home: Path, tmp_path: Path) -> None:
    (private_home / ".config/chromium").mkdir(parents=True)
    (private_home / ".mozilla/firefox").mkdir(parents=True)
    host = make_host(tmp_path / "bin")
    code, _out, _ = run_cli(capsys, "install", "--host-path", str(host))
    assert code == 0
    chromium = load(private_home / ".config/chromium/NativeMessagingHosts" / MANIFEST)
    firefox = load(private_home / ".mozilla/native-messaging-hosts" / MANIFEST)
    assert chromium["path"] == firefox["path"] == str(host)
    assert firefox["allowed_extensions"] == [install.FIREFOX_EXTENSION_ID]
    assert "allowed_origins" not in firefox
    assert not (private_home / ".config/google-chrome").exists()


def test_install_with_no_browser_found_says_how_to_name_one(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _out, err = run_cli(capsys, "install", "--host-path", str(make_host(tmp_path / "bin")))
    assert code == 2
    assert "no supported browser found" in err and "--browser" in err


def test_reinstall_repairs_a_moved_host_and_reports_an_unchanged_one(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    udd = profile_dir(tmp_path)
    manifest = udd / "NativeMessagingHosts" / MANIFEST
    old, new = make_host(tmp_path / "old"), make_host(tmp_path / "new")
    assert run_cli(capsys, "install", "--user-data-dir", str(udd), "--host-path", str(old))[0] == 0
    assert load(manifest)["path"] == str(old)
    code, out, _ = run_cli(capsys, "install", "--user-data-dir", str(udd), "--host-path", str(new))
    assert code == 0 and "wrote" in out
    assert load(manifest)["path"] == str(new)
    code, out, _ = run_cli(capsys, "install", "--user-data-dir", str(udd), "--host-path", str(new))
    assert code == 0 and "up to date" in out


def test_install_rewrites_a_manifest_with_a_bom_and_a_wrong_name(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    udd = profile_dir(tmp_path)
    manifest = udd / "NativeMessagingHosts" / MANIFEST
    manifest.parent.mkdir(parents=True)
    manifest.write_bytes(b"\xef\xbb\xbf" + json.dumps({"name": "org.resocket.hots", "path": "resocket-host"}).encode())
    host = make_host(tmp_path / "bin")
    assert run_cli(capsys, "install", "--user-data-dir", str(udd), "--host-path", str(host))[0] == 0
    data = load(manifest)
    assert data["name"] == HOST_NAME and data["path"] == str(host)


def test_extension_ids_are_added_and_kept_by_later_installs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    udd, host = profile_dir(tmp_path), make_host(tmp_path / "bin")
    manifest = udd / "NativeMessagingHosts" / MANIFEST
    assert run_cli(capsys, "install", "--user-data-dir", str(udd), "--host-path", str(host),
                   "--extension-id", OTHER_ID)[0] == 0
    assert load(manifest)["allowed_origins"] == [EXTENSION_ORIGIN, OTHER_ORIGIN]
    assert run_cli(capsys, "install", "--user-data-dir", str(udd), "--host-path", str(host))[0] == 0
    assert load(manifest)["allowed_origins"] == [EXTENSION_ORIGIN, OTHER_ORIGIN]


def test_an_invalid_extension_id_is_refused_and_nothing_is_written(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    udd = profile_dir(tmp_path)
    code, _, err = run_cli(capsys, "install", "--user-data-dir", str(udd), "--host-path",
                           str(make_host(tmp_path / "bin")), "--extension-id", "not-an-id")
    assert code == 2 and "not-an-id" in err
    assert list(udd.iterdir()) == []


def test_granted_extension_origins_are_allowed_but_web_origins_are_not(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    grants = pytest.importorskip("resocket.grants")
    store = grants.GrantStore.open()
    store.grant(OTHER_ORIGIN, ["tcp-connect"])
    store.grant("https://example.com", ["tcp-connect"])
    udd = profile_dir(tmp_path)
    assert run_cli(capsys, "install", "--user-data-dir", str(udd), "--host-path", str(make_host(tmp_path / "bin")))[0] == 0
    assert load(udd / "NativeMessagingHosts" / MANIFEST)["allowed_origins"] == [EXTENSION_ORIGIN, OTHER_ORIGIN]


def test_dry_run_prints_the_plan_and_writes_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    udd = profile_dir(tmp_path)
    code, out, _ = run_cli(capsys, "install", "--user-data-dir", str(udd), "--host-path",
                           str(make_host(tmp_path / "bin")), "--dry-run", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["dry_run"] is True
    assert [c["action"] for c in report["changes"]] == ["write"]
    assert report["changes"][0]["where"] == str(udd / "NativeMessagingHosts" / MANIFEST)
    assert list(udd.iterdir()) == []


def test_user_data_dir_is_refused_for_firefox(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "install", "--browser", "firefox", "--user-data-dir", str(profile_dir(tmp_path)),
                           "--host-path", str(make_host(tmp_path / "bin")))
    assert code == 2 and "Chromium-family" in err


def test_a_host_path_that_is_not_executable_is_refused_with_the_chmod_fix(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    host = make_host(tmp_path / "bin")
    host.chmod(0o644)
    code, _, err = run_cli(capsys, "install", "--user-data-dir", str(profile_dir(tmp_path)), "--host-path", str(host))
    assert code == 2 and f"chmod +x {host}" in err


def test_system_scope_writes_both_vivaldi_folders(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = tmp_path / "root"
    code, _, _ = run_cli(capsys, "install", "--browser", "vivaldi", "--scope", "system", "--root", str(root),
                         "--host-path", str(make_host(tmp_path / "bin")))
    assert code == 0
    for folder in ("etc/opt/vivaldi/native-messaging-hosts", "etc/vivaldi/native-messaging-hosts"):
        manifest = root / folder / MANIFEST
        assert load(manifest)["name"] == HOST_NAME
        assert manifest.stat().st_mode & 0o777 == 0o644  # other users' browsers must read it


# -- uninstall --------------------------------------------------------------------------------------------
def test_uninstall_removes_resocket_manifests_and_leaves_foreign_files_alone(
        capsys: pytest.CaptureFixture[str], private_home: Path, tmp_path: Path) -> None:
    (private_home / ".config/chromium").mkdir(parents=True)
    (private_home / ".config/google-chrome").mkdir(parents=True)
    host = make_host(tmp_path / "bin")
    assert run_cli(capsys, "install", "--host-path", str(host))[0] == 0
    chromium_dir = private_home / ".config/chromium/NativeMessagingHosts"
    neighbour = chromium_dir / "com.example.other.json"
    neighbour.write_text(json.dumps({"name": "com.example.other", "path": "/bin/true"}))
    # A file at resocket's file name that resocket did not write (someone else's host of that name).
    foreign = private_home / ".config/google-chrome/NativeMessagingHosts" / MANIFEST
    foreign.write_text(json.dumps({"name": "someone.else", "path": "/bin/true"}))
    code, out, _ = run_cli(capsys, "uninstall")
    assert code == 0
    assert not (chromium_dir / MANIFEST).exists()
    assert neighbour.exists() and foreign.exists()
    assert "removed" in out and str(chromium_dir / MANIFEST) in out
    assert run_cli(capsys, "uninstall")[1].startswith("nothing to remove")


def test_uninstall_keeps_a_system_folder_another_installed_browser_reads(
        capsys: pytest.CaptureFixture[str], private_home: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (private_home / ".config/google-chrome").mkdir(parents=True)
    (private_home / ".config/BraveSoftware/Brave-Browser").mkdir(parents=True)
    args = ("--scope", "system", "--root", str(root))
    assert run_cli(capsys, "install", *args, "--host-path", str(make_host(tmp_path / "bin")))[0] == 0
    shared = root / "etc/opt/chrome/native-messaging-hosts" / MANIFEST
    code, out, _ = run_cli(capsys, "uninstall", "--browser", "brave", *args)
    assert code == 0 and shared.exists() and "also read by Google Chrome" in out
    assert run_cli(capsys, "uninstall", "--browser", "chrome", "--browser", "brave", *args)[0] == 0
    assert not shared.exists()


# -- macOS and Windows layouts (computed here; the real registry is only reachable on Windows) ------------
def test_macos_install_writes_under_application_support(tmp_path: Path) -> None:
    plat = Platform("macos", tmp_path / "home", tmp_path / "root")
    host = make_host(tmp_path / "bin")
    targets, _ = install.targets_for([browsers.get("chrome"), browsers.get("firefox")], plat, "user")
    changes, contents, _ = install.plan_install(targets, host, [], None)
    install.apply(changes, contents, None)
    support = plat.home / "Library/Application Support"
    assert load(support / "Google/Chrome/NativeMessagingHosts" / MANIFEST)["path"] == str(host)
    assert load(support / "Mozilla/NativeMessagingHosts" / MANIFEST)["allowed_extensions"] == [install.FIREFOX_EXTENSION_ID]


def test_windows_install_writes_one_manifest_per_family_and_points_each_key_at_it(tmp_path: Path) -> None:
    plat = Platform("windows", tmp_path / "home", tmp_path / "root")
    registry = install.MemoryRegistry()
    host = make_host(tmp_path / "Scripts", "resocket-host.exe")
    selected = [browsers.get(n) for n in ("chrome", "edge", "brave", "firefox")]
    targets, _ = install.targets_for(selected, plat, "user")
    changes, contents, _ = install.plan_install(targets, host, [], registry)
    install.apply(changes, contents, registry)
    base = plat.home / "AppData/Local/resocket/NativeMessagingHosts"
    chromium_manifest, firefox_manifest = base / "chromium" / MANIFEST, base / "firefox" / MANIFEST
    assert load(chromium_manifest)["path"] == str(host)
    assert load(firefox_manifest)["allowed_extensions"] == [install.FIREFOX_EXTENSION_ID]
    assert registry.values == {
        ("HKCU", rf"software\google\chrome\nativemessaginghosts\{HOST_NAME}"): str(chromium_manifest),
        ("HKCU", rf"software\microsoft\edge\nativemessaginghosts\{HOST_NAME}"): str(chromium_manifest),
        ("HKCU", rf"software\bravesoftware\brave-browser\nativemessaginghosts\{HOST_NAME}"): str(chromium_manifest),
        ("HKCU", rf"software\mozilla\nativemessaginghosts\{HOST_NAME}"): str(firefox_manifest),
    }


def test_windows_system_scope_uses_hklm_and_programdata(tmp_path: Path) -> None:
    plat = Platform("windows", tmp_path / "home", tmp_path / "root")
    registry = install.MemoryRegistry()
    targets, _ = install.targets_for([browsers.get("edge")], plat, "system")
    changes, contents, _ = install.plan_install(targets, make_host(tmp_path / "bin", "resocket-host.exe"), [], registry)
    install.apply(changes, contents, registry)
    manifest = plat.root / "ProgramData/resocket/NativeMessagingHosts/chromium" / MANIFEST
    assert registry.get_default("HKLM", rf"Software\Microsoft\Edge\NativeMessagingHosts\{HOST_NAME}") == str(manifest)
    assert manifest.exists()


def test_windows_uninstall_deletes_resocket_keys_and_leaves_foreign_keys(tmp_path: Path) -> None:
    plat = Platform("windows", tmp_path / "home", tmp_path / "root")
    foreign = tmp_path / "other.json"
    foreign.write_text(json.dumps({"name": "com.other.host"}))
    edge_key = rf"Software\Microsoft\Edge\NativeMessagingHosts\{HOST_NAME}"
    registry = install.MemoryRegistry({("HKCU", edge_key): str(foreign)})
    host = make_host(tmp_path / "bin", "resocket-host.exe")
    targets, _ = install.targets_for([browsers.get("chrome"), browsers.get("chromium")], plat, "user")
    changes, contents, _ = install.plan_install(targets, host, [], registry)
    install.apply(changes, contents, registry)
    manifest = Path(registry.get_default("HKCU", rf"Software\Chromium\NativeMessagingHosts\{HOST_NAME}") or "")
    assert manifest.exists()

    # Uninstalling Chromium alone keeps the manifest: Chrome's key still points at it.
    chromium_only, _ = install.targets_for([browsers.get("chromium")], plat, "user")
    install.apply(install.plan_uninstall(chromium_only, plat, registry), {}, registry)
    assert registry.get_default("HKCU", rf"Software\Chromium\NativeMessagingHosts\{HOST_NAME}") is None
    assert manifest.exists()

    all_targets, _ = install.targets_for(list(browsers.BROWSERS), plat, "user")
    install.apply(install.plan_uninstall(all_targets, plat, registry), {}, registry)
    assert not manifest.exists()
    assert registry.values == {("HKCU", edge_key.lower()): str(foreign)}


# -- what install says when it cannot write (never a traceback; JSON stays JSON) ---------------------------------
def _install_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = cli.main(["install", "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_a_file_where_the_manifest_folder_should_be_is_a_clear_problem_with_a_fix_that_works(
        capsys: pytest.CaptureFixture[str], private_home: Path, tmp_path: Path) -> None:
    (private_home / ".config/chromium").mkdir(parents=True)
    blocker = private_home / ".config/chromium/NativeMessagingHosts"
    blocker.write_text("not a folder")
    host = make_host(tmp_path / "bin")
    code, report = _install_json(capsys, "--host-path", str(host))
    assert code == 1 and report["ok"] is False
    [problem] = report["problems"]
    assert problem["browser"] == "chromium"
    assert f"{blocker} is a file where a folder must be" in problem["problem"]
    assert problem["fix"].startswith(f"mv {blocker} {blocker}.moved-aside && ")
    assert problem["fix"].endswith("install --browser chromium")
    mv = shlex.split(problem["fix"].split(" && ")[0])
    subprocess.run(mv, check=True)
    assert run_cli(capsys, "install", "--host-path", str(host))[0] == 0
    assert load(blocker / MANIFEST)["path"] == str(host)
    assert (private_home / ".config/chromium/NativeMessagingHosts.moved-aside").read_text() == "not a folder"


def test_a_write_failure_for_one_browser_still_installs_the_others(
        capsys: pytest.CaptureFixture[str], private_home: Path, tmp_path: Path) -> None:
    (private_home / ".config/chromium").mkdir(parents=True)
    (private_home / ".mozilla/firefox").mkdir(parents=True)
    (private_home / ".config/chromium/NativeMessagingHosts").write_text("")
    code, _out, err = run_cli(capsys, "install", "--host-path", str(make_host(tmp_path / "bin")))
    assert code == 1
    assert "Traceback" not in err and "[chromium]" in err and "fix: mv " in err
    assert load(private_home / ".mozilla/native-messaging-hosts" / MANIFEST)["name"] == HOST_NAME


def test_a_folder_at_the_manifest_path_is_reported_and_no_temp_file_is_left(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    udd = profile_dir(tmp_path)
    (udd / "NativeMessagingHosts" / MANIFEST).mkdir(parents=True)
    code, report = _install_json(capsys, "--user-data-dir", str(udd), "--host-path", str(make_host(tmp_path / "bin")))
    assert code == 1
    [problem] = report["problems"]
    assert "is a folder; the manifest must be a file" in problem["problem"]
    assert "mv " in problem["fix"] and f"--user-data-dir {udd}" in problem["fix"]
    assert sorted(p.name for p in (udd / "NativeMessagingHosts").iterdir()) == [MANIFEST]  # no .tmp left


def test_a_browser_config_folder_that_is_a_file_is_a_clear_error(
        capsys: pytest.CaptureFixture[str], private_home: Path, tmp_path: Path) -> None:
    (private_home / ".config").mkdir()
    (private_home / ".config/chromium").write_text("")
    code, report = _install_json(capsys, "--browser", "chromium", "--host-path", str(make_host(tmp_path / "bin")))
    assert code == 1
    assert f"{private_home / '.config/chromium'} is a file where a folder must be" in report["problems"][0]["problem"]


def test_permission_denied_in_a_system_folder_is_fixed_with_sudo(tmp_path: Path) -> None:
    where = tmp_path / "etc/chromium/native-messaging-hosts" / MANIFEST
    change = install.Change("write", "chromium", "system", str(where))
    problem, fix = install.diagnose_write_error(change, PermissionError(13, "Permission denied"),
                                                "sudo resocket install --browser chromium --scope system")
    assert f"cannot change {where}: Permission denied" in problem
    assert fix == "sudo resocket install --browser chromium --scope system"


# -- system scope finds browsers by their programs (root has no browser profile) ------------------------------
def test_system_scope_without_browser_finds_browsers_installed_on_the_machine(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_host(root / "usr/bin", "chromium")
    (root / "opt/google/chrome").mkdir(parents=True)
    make_host(root / "opt/google/chrome", "chrome")
    make_host(root / "usr/lib/firefox", "firefox")
    code, report = _install_json(capsys, "--scope", "system", "--root", str(root),
                                 "--host-path", str(make_host(tmp_path / "bin")))
    assert code == 0, report
    assert sorted({c["browser"] for c in report["changes"]}) == ["chrome", "chromium", "firefox"]
    for folder in ("etc/chromium/native-messaging-hosts", "etc/opt/chrome/native-messaging-hosts",
                   "usr/lib/mozilla/native-messaging-hosts"):
        assert load(root / folder / MANIFEST)["name"] == HOST_NAME



def test_a_browser_installed_but_never_started_gets_its_manifest_in_user_scope(
        capsys: pytest.CaptureFixture[str], private_home: Path, tmp_path: Path) -> None:
    # A provisioning script runs before the user's first login: programs installed, no profile folder yet.
    root = tmp_path / "root"
    make_host(root / "usr/bin", "chromium")
    make_host(root / "usr/bin", "google-chrome-beta")
    make_host(root / "usr/lib/firefox", "firefox")
    assert list(private_home.iterdir()) == []
    code, report = _install_json(capsys, "--root", str(root), "--host-path", str(make_host(tmp_path / "bin")))
    assert code == 0, report
    assert [c["browser"] for c in report["changes"]] == ["chrome-beta", "chromium", "firefox"]
    for folder in (".config/google-chrome-beta/NativeMessagingHosts", ".config/chromium/NativeMessagingHosts",
                   ".mozilla/native-messaging-hosts"):
        assert load(private_home / folder / MANIFEST)["name"] == HOST_NAME
    assert not (root / "etc").exists()  # user scope: nothing system-wide


def test_installed_browsers_are_found_on_macos_and_windows_too(tmp_path: Path) -> None:
    mac = Platform("macos", tmp_path / "h", tmp_path / "mac")
    (mac.root / "Applications/Brave Browser.app").mkdir(parents=True)
    assert [b.name for b in install.found_browsers(mac, "system")] == ["brave"]
    win = Platform("windows", tmp_path / "h", tmp_path / "win")
    make_host(win.root / "Program Files/Mozilla Firefox", "firefox.exe")
    registry = install.MemoryRegistry({("HKLM", rf"{browsers.APP_PATHS_KEY}\msedge.exe"): r"C:\x\msedge.exe"})
    assert [b.name for b in install.found_browsers(win, "system", registry)] == ["edge", "firefox"]
    # A user install too: a browser installed on the machine reads the per-user key once the user starts it.
    assert [b.name for b in install.found_browsers(win, "user", registry)] == ["edge", "firefox"]


# -- allowed origins are recomputed: revoked apps lose access, --extension-id extras stay -------------------------
def test_reinstall_drops_the_origin_of_a_revoked_app_and_keeps_explicit_extension_ids(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    grants = pytest.importorskip("resocket.grants")
    app = "chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba/"
    grants.GrantStore.open().grant(app, ["tcp-connect"])
    udd, host = profile_dir(tmp_path), make_host(tmp_path / "bin")
    manifest = udd / "NativeMessagingHosts" / MANIFEST
    assert run_cli(capsys, "install", "--user-data-dir", str(udd), "--host-path", str(host),
                   "--extension-id", OTHER_ID)[0] == 0
    assert load(manifest)["allowed_origins"] == [EXTENSION_ORIGIN, OTHER_ORIGIN, app]
    grants.GrantStore.open().revoke(app)
    assert run_cli(capsys, "install", "--user-data-dir", str(udd), "--host-path", str(host))[0] == 0
    assert load(manifest)["allowed_origins"] == [EXTENSION_ORIGIN, OTHER_ORIGIN]
    assert json.loads(install.extras_path().read_text()) == {"extensions": [OTHER_ID]}


def test_an_origin_written_into_the_manifest_by_hand_is_not_kept(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    udd, host = profile_dir(tmp_path), make_host(tmp_path / "bin")
    manifest = udd / "NativeMessagingHosts" / MANIFEST
    assert run_cli(capsys, "install", "--user-data-dir", str(udd), "--host-path", str(host))[0] == 0
    data = load(manifest)
    data["allowed_origins"].append(OTHER_ORIGIN)
    manifest.write_text(json.dumps(data))
    assert run_cli(capsys, "install", "--user-data-dir", str(udd), "--host-path", str(host))[0] == 0
    assert load(manifest)["allowed_origins"] == [EXTENSION_ORIGIN]


def test_revoke_removes_the_apps_origin_from_installed_manifests_at_once(
        capsys: pytest.CaptureFixture[str], private_home: Path, tmp_path: Path) -> None:
    grants = pytest.importorskip("resocket.grants")
    (private_home / ".config/chromium").mkdir(parents=True)
    grants.GrantStore.open().grant(OTHER_ORIGIN, ["tcp-connect"])
    assert run_cli(capsys, "install", "--host-path", str(make_host(tmp_path / "bin")))[0] == 0
    manifest = private_home / ".config/chromium/NativeMessagingHosts" / MANIFEST
    assert OTHER_ORIGIN in load(manifest)["allowed_origins"]
    code, out, _ = run_cli(capsys, "revoke", OTHER_ORIGIN)
    assert code == 0 and f"Removed {OTHER_ORIGIN} from allowed_origins in: {manifest}" in out
    assert load(manifest)["allowed_origins"] == [EXTENSION_ORIGIN]


# -- release channels: each its own profile folder; the stable browser's system folder and registry key ---------
CHANNELS = ("chrome-beta", "chrome-dev", "chrome-canary", "edge-beta", "edge-dev", "edge-canary")


def test_chrome_and_edge_channels_have_their_own_user_folders_on_linux_and_macos(tmp_path: Path) -> None:
    linux = Platform("linux", tmp_path / "h", tmp_path / "r")
    user = {name: browsers.manifest_dirs(browsers.get(name), linux, "user") for name in CHANNELS}
    config = linux.home / ".config"
    assert user == {
        "chrome-beta": [config / "google-chrome-beta/NativeMessagingHosts"],
        "chrome-dev": [config / "google-chrome-unstable/NativeMessagingHosts"],  # Linux Dev is "unstable"
        "chrome-canary": [config / "google-chrome-canary/NativeMessagingHosts"],
        "edge-beta": [config / "microsoft-edge-beta/NativeMessagingHosts"],
        "edge-dev": [config / "microsoft-edge-dev/NativeMessagingHosts"],
        "edge-canary": [],  # no Linux build
    }
    mac = Platform("macos", tmp_path / "h", tmp_path / "r")
    support = mac.home / "Library/Application Support"
    assert {name: browsers.manifest_dirs(browsers.get(name), mac, "user") for name in CHANNELS} == {
        "chrome-beta": [support / "Google/Chrome Beta/NativeMessagingHosts"],
        "chrome-dev": [support / "Google/Chrome Dev/NativeMessagingHosts"],
        "chrome-canary": [support / "Google/Chrome Canary/NativeMessagingHosts"],
        "edge-beta": [support / "Microsoft Edge Beta/NativeMessagingHosts"],
        "edge-dev": [support / "Microsoft Edge Dev/NativeMessagingHosts"],
        "edge-canary": [support / "Microsoft Edge Canary/NativeMessagingHosts"],
    }
    for plat in (linux, mac):
        for name in CHANNELS:
            stable = browsers.get(name.split("-")[0])
            assert browsers.manifest_dirs(browsers.get(name), plat, "system") == browsers.manifest_dirs(
                stable, plat, "system")
    assert browsers.get("google-chrome-unstable") is browsers.get("chrome-unstable") is browsers.get("chrome-dev")


def test_channels_on_windows_read_the_stable_registry_key_and_are_found_by_their_profile(tmp_path: Path) -> None:
    for name in CHANNELS:
        stable = name.split("-")[0]
        for scope in browsers.SCOPES:
            assert browsers.registry_keys(browsers.get(name), scope) == browsers.registry_keys(browsers.get(stable), scope)
    win = Platform("windows", tmp_path / "home", tmp_path / "root")
    (win.home / "AppData/Local/Google/Chrome SxS/User Data").mkdir(parents=True)  # Canary
    (win.home / "AppData/Local/Microsoft/Edge Dev/User Data").mkdir(parents=True)
    registry = install.MemoryRegistry()
    found = install.found_browsers(win, "user", registry)
    assert [b.name for b in found] == ["chrome-canary", "edge-dev"]
    targets, _ = install.targets_for(found, win, "user")
    changes, contents, _ = install.plan_install(targets, make_host(tmp_path / "bin", "resocket-host.exe"), [], registry)
    install.apply(changes, contents, registry)
    manifest = str(win.home / "AppData/Local/resocket/NativeMessagingHosts/chromium" / MANIFEST)
    assert registry.values == {
        ("HKCU", rf"software\google\chrome\nativemessaginghosts\{HOST_NAME}"): manifest,
        ("HKCU", rf"software\microsoft\edge\nativemessaginghosts\{HOST_NAME}"): manifest,
    }


def test_channels_installed_on_the_machine_are_found_by_their_programs(tmp_path: Path) -> None:
    linux = Platform("linux", tmp_path / "h", tmp_path / "linux")
    make_host(linux.root / "opt/google/chrome-unstable", "chrome")
    make_host(linux.root / "usr/bin", "microsoft-edge-beta")
    make_host(linux.root / "usr/bin", "google-chrome-canary")
    assert [b.name for b in install.found_browsers(linux, "user")] == ["chrome-dev", "chrome-canary", "edge-beta"]
    mac = Platform("macos", tmp_path / "h", tmp_path / "mac")
    (mac.root / "Applications/Google Chrome Canary.app").mkdir(parents=True)
    (mac.root / "Applications/Microsoft Edge Dev.app").mkdir(parents=True)
    assert [b.name for b in install.found_browsers(mac, "system")] == ["chrome-canary", "edge-dev"]
    win = Platform("windows", tmp_path / "h", tmp_path / "win")
    make_host(win.root / "Program Files (x86)/Microsoft/Edge Beta/Application", "msedge.exe")
    make_host(win.root / "Program Files/Google/Chrome Beta/Application", "chrome.exe")
    assert [b.name for b in install.found_browsers(win, "system", install.MemoryRegistry())] == [
        "chrome-beta", "edge-beta"]


def test_uninstalling_stable_chrome_keeps_the_system_manifest_its_beta_still_reads(
        capsys: pytest.CaptureFixture[str], private_home: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_host(root / "usr/bin", "google-chrome")
    make_host(root / "usr/bin", "google-chrome-beta")
    args = ("--scope", "system", "--root", str(root))
    assert run_cli(capsys, "install", *args, "--host-path", str(make_host(tmp_path / "bin")))[0] == 0
    shared = root / "etc/opt/chrome/native-messaging-hosts" / MANIFEST
    code, out, _ = run_cli(capsys, "uninstall", "--browser", "chrome", *args)
    assert code == 0 and shared.exists() and "also read by Google Chrome Beta" in out


# -- XDG_CONFIG_HOME and CHROME_CONFIG_HOME, as each browser reads them -----------------------------------------
def test_config_home_variables_move_the_linux_user_folders_of_the_browsers_that_read_them(tmp_path: Path) -> None:
    xdg, chrome_home = tmp_path / "xdg", tmp_path / "chrome-home"
    plat = Platform("linux", tmp_path / "h", tmp_path / "r", {"XDG_CONFIG_HOME": str(xdg),
                                                              "CHROME_CONFIG_HOME": str(chrome_home)})

    def user(name: str, where: Platform = plat) -> Path:
        [folder] = browsers.manifest_dirs(browsers.get(name), where, "user")
        return folder

    # Chromium's chrome_paths_linux.cc: CHROME_CONFIG_HOME first, then XDG_CONFIG_HOME (Chrome and Chromium).
    assert user("chrome") == chrome_home / "google-chrome/NativeMessagingHosts"
    assert user("chrome-dev") == chrome_home / "google-chrome-unstable/NativeMessagingHosts"
    assert user("chromium") == chrome_home / "chromium/NativeMessagingHosts"
    # Brave replaces that function and reads XDG_CONFIG_HOME only; Edge, Vivaldi and Opera: XDG_CONFIG_HOME.
    assert user("brave") == xdg / "BraveSoftware/Brave-Browser/NativeMessagingHosts"
    assert user("edge-beta") == xdg / "microsoft-edge-beta/NativeMessagingHosts"
    assert user("vivaldi") == xdg / "vivaldi/NativeMessagingHosts"
    assert user("opera") == xdg / "opera/NativeMessagingHosts"
    assert user("firefox") == plat.home / ".mozilla/native-messaging-hosts"  # Firefox reads no variable for it
    xdg_only = Platform("linux", plat.home, plat.root, {"XDG_CONFIG_HOME": str(xdg)})
    assert user("chrome", xdg_only) == xdg / "google-chrome/NativeMessagingHosts"
    # The XDG spec: a relative value is invalid and ignored.
    relative = Platform("linux", plat.home, plat.root, {"XDG_CONFIG_HOME": "conf"})
    assert user("chromium", relative) == plat.home / ".config/chromium/NativeMessagingHosts"
    assert browsers.manifest_dirs(browsers.get("chrome"), plat, "system") == [plat.root / "etc/opt/chrome/native-messaging-hosts"]


def test_install_finds_and_writes_below_the_config_homes_set_now(
        capsys: pytest.CaptureFixture[str], private_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    xdg, chrome_home = tmp_path / "xdg", tmp_path / "chrome-home"
    (xdg / "BraveSoftware/Brave-Browser").mkdir(parents=True)
    (chrome_home / "chromium").mkdir(parents=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    monkeypatch.setenv("CHROME_CONFIG_HOME", str(chrome_home))
    code, report = _install_json(capsys, "--host-path", str(make_host(tmp_path / "bin")))
    assert code == 0, report
    assert [c["where"] for c in report["changes"]] == [str(chrome_home / "chromium/NativeMessagingHosts" / MANIFEST),
                                                        str(xdg / "BraveSoftware/Brave-Browser/NativeMessagingHosts" / MANIFEST)]
    assert not (private_home / ".config").exists()


# -- Firefox 147+'s XDG layout ---------------------------------------------------------------------------------
def test_firefox_with_the_xdg_profile_layout_is_found_and_gets_both_manifest_folders(
        capsys: pytest.CaptureFixture[str], private_home: Path, tmp_path: Path) -> None:
    (private_home / ".config/mozilla/firefox").mkdir(parents=True)
    host = make_host(tmp_path / "bin")
    code, report = _install_json(capsys, "--host-path", str(host))
    assert code == 0, report
    # ~/.mozilla/native-messaging-hosts is where Firefox reads manifests (MDN); the XDG folder is where newer
    # builds with that layout are reported to look.
    legacy = private_home / ".mozilla/native-messaging-hosts" / MANIFEST
    xdg = private_home / ".config/mozilla/native-messaging-hosts" / MANIFEST
    assert [c["where"] for c in report["changes"]] == [str(legacy), str(xdg)]
    assert load(legacy) == load(xdg) and load(xdg)["allowed_extensions"] == [install.FIREFOX_EXTENSION_ID]
    assert run_cli(capsys, "uninstall")[0] == 0
    assert not legacy.exists() and not xdg.exists()


def test_firefox_xdg_layout_follows_xdg_config_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    (xdg / "mozilla/firefox").mkdir(parents=True)
    plat = Platform("linux", tmp_path / "h", tmp_path / "r", {"XDG_CONFIG_HOME": str(xdg)})
    assert install.found_browsers(plat) == [browsers.get("firefox")]
    targets, _ = install.targets_for([browsers.get("firefox")], plat, "user")
    assert [t.manifest for t in targets] == [plat.home / ".mozilla/native-messaging-hosts" / MANIFEST,
                                             xdg / "mozilla/native-messaging-hosts" / MANIFEST]


# -- uninstall: every known place; --purge --------------------------------------------------------------------
def test_uninstall_removes_every_resocket_manifest_even_of_browsers_no_longer_found(
        capsys: pytest.CaptureFixture[str], private_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = make_host(tmp_path / "bin")
    (private_home / ".mozilla/firefox").mkdir(parents=True)
    (private_home / ".config/microsoft-edge-dev").mkdir(parents=True)
    assert run_cli(capsys, "install", "--host-path", str(host))[0] == 0
    firefox = private_home / ".mozilla/native-messaging-hosts" / MANIFEST
    edge_dev = private_home / ".config/microsoft-edge-dev/NativeMessagingHosts" / MANIFEST
    neighbour = firefox.parent / "com.example.other.json"
    neighbour.write_text(json.dumps({"name": "com.example.other", "path": "/bin/true"}))
    root = tmp_path / "root"
    make_host(root / "usr/bin", "chromium")
    assert run_cli(capsys, "install", "--scope", "system", "--root", str(root), "--host-path", str(host))[0] == 0
    system = root / "etc/chromium/native-messaging-hosts" / MANIFEST
    # Since then: Firefox's profiles are gone, XDG_CONFIG_HOME now points elsewhere, Chromium was removed.
    (private_home / ".mozilla/firefox").rmdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    (root / "usr/bin/chromium").unlink()
    assert install.found_browsers(Platform.current()) == []
    code, out, _ = run_cli(capsys, "uninstall")
    assert code == 0
    assert f"removed      firefox       user   {firefox}" in out and f"removed      edge-dev      user   {edge_dev}" in out
    assert not firefox.exists() and not edge_dev.exists() and neighbour.exists()
    code, out, _ = run_cli(capsys, "uninstall", "--scope", "system", "--root", str(root))
    assert code == 0 and str(system) in out and not system.exists()


def _config_with_everything(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Path:
    grants = pytest.importorskip("resocket.grants")
    grants.GrantStore.open().grant(OTHER_ORIGIN, ["tcp-connect"])
    config = Path(os.environ["RESOCKET_CONFIG_DIR"])
    (config / "app-keys").mkdir()
    (config / "app-keys/hello-world-0123abcd.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    assert run_cli(capsys, "install", "--user-data-dir", str(profile_dir(tmp_path)), "--host-path",
                   str(make_host(tmp_path / "bin")), "--extension-id", OTHER_ID)[0] == 0
    assert sorted(p.name for p in config.iterdir()) == ["app-keys", "extra-extensions.json", "grants.json",
                                                         "grants.json.lock"]
    return config


def test_uninstall_purge_removes_grants_app_keys_and_saved_ids_and_says_what_it_removed(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = _config_with_everything(capsys, tmp_path)
    code, out, _ = run_cli(capsys, "uninstall", "--purge", "--dry-run")
    assert code == 0 and config.exists()
    assert f"would remove -             config {config / 'grants.json'} (grants)" in out
    assert f"would remove -             config {config / 'app-keys'} (app keys)" in out
    code, out, _ = run_cli(capsys, "uninstall", "--purge", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True and report["warnings"] == []
    assert [(c["action"], c["where"]) for c in report["changes"]] == [
        ("remove-dir", str(config / "app-keys")), ("remove", str(config / "extra-extensions.json")),
        ("remove", str(config / "grants.json")), ("remove", str(config / "grants.json.lock")),
        ("remove-dir", str(config))]
    assert not config.exists()
    assert run_cli(capsys, "grants", "--json")[0] == 0  # resocket works on, with no grants
    assert run_cli(capsys, "uninstall", "--purge")[1].startswith("nothing to remove")


def test_uninstall_purge_keeps_files_resocket_did_not_write_in_a_chosen_config_dir(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = _config_with_everything(capsys, tmp_path)
    (config / "notes.txt").write_text("mine")
    code, out, err = run_cli(capsys, "uninstall", "--purge")
    assert code == 0
    assert f"removed      -             config {config / 'grants.json'} (grants)" in out
    assert f"warning: kept {config / 'notes.txt'} in the config dir: resocket did not write it" in err
    assert sorted(p.name for p in config.iterdir()) == ["notes.txt"]


# -- --user-data-dir must name an existing folder -----------------------------------------------------------------
def test_install_for_a_user_data_dir_that_does_not_exist_says_so_and_writes_nothing(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "profle"
    host = make_host(tmp_path / "bin")
    code, _out, err = run_cli(capsys, "install", "--user-data-dir", str(missing), "--host-path", str(host))
    assert code == 2
    assert f"--user-data-dir {missing} is not a folder (it does not exist)" in err and f"mkdir -p {missing}" in err
    assert not missing.exists() and not install.extras_path().exists()
    code, report = _install_json(capsys, "--user-data-dir", str(missing), "--host-path", str(host))
    assert code == 2 and report["ok"] is False and "does not exist" in report["error"]
    assert not missing.exists()


@pytest.mark.parametrize("text", [
    "chrome-extension://flgdmcpaemonpacjpigcafobmllikoco/",
    "chrome-extension://flgdmcpaemonpacjpigcafobmllikoco",
    "CHROME-EXTENSION://FLGDMCPAEMONPACJPIGCAFOBMLLIKOCO/",
    "chrome-extension://flgdmcpaemonpacjpigcafobmllikoco//",
    "chrome-extension://flgdmcpaemonpacjpigcafobmllikoco/page.html",
    "chrome-extension://flgdmcpaemonpacjpigcafobmllikocz/",
    "chrome-extension://flgdmcpaemonpacjpigcafobmlliko/",
    "moz-extension://flgdmcpaemonpacjpigcafobmllikoco/",
])
def test_install_reads_an_extension_origin_exactly_as_a_grant_does(text: str) -> None:
    """`resocket install --extension-id X` and `resocket grant X ...` accept the same extension origins and
    name them the same: an extension granted sockets is the one allowed to start the host."""
    from resocket.grants import normalize_origin

    try:
        granted: str | None = normalize_origin(text)
    except ValueError:
        granted = None
    try:
        installed: str | None = install.extension_origin(text)
    except install.InstallError:
        installed = None
    assert installed == granted
    if granted is not None:
        assert granted == "chrome-extension://flgdmcpaemonpacjpigcafobmllikoco/"
