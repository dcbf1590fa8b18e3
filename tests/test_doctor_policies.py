"""doctor reads enterprise policies where Windows and macOS browsers read them (cli/doctor.py): the
registry's Software\\Policies keys (a fake registry: MemoryRegistry) and the managed plists MDM profiles
install under /Library/Managed Preferences (a fake root). The rules are the Linux ones (tests/test_doctor.py)."""
from __future__ import annotations

import json
import plistlib
from pathlib import Path

import pytest
from resocket import EXTENSION_ID, HOST_NAME, fleet
from resocket.cli import browsers, doctor, install
from resocket.cli.browsers import Platform

CHROME = r"SOFTWARE\Policies\Google\Chrome"
EDGE = r"SOFTWARE\Policies\Microsoft\Edge"


@pytest.fixture(autouse=True)
def no_fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESOCKET_SYSTEM_CONFIG_DIR", str(tmp_path / "system-config"))


def windows(tmp_path: Path) -> Platform:
    return Platform("windows", tmp_path / "home", tmp_path / "root")


def listed(*items: str) -> dict[str, object]:
    """A list policy as Chrome's ADMX/GPO writes it: a subkey of values named 1, 2, ..."""
    return {str(i): item for i, item in enumerate(items, 1)}


def check(browser: str, plat: Platform, registry: install.MemoryRegistry | None = None,
          user_level_only: bool = False) -> tuple[dict, list[doctor.Problem]]:
    return doctor.check_policies(browsers.get(browser), plat, user_level_only=user_level_only, prog="resocket",
                                 registry=registry)


def test_a_gpo_blocklist_in_hklm_is_reported_with_its_key(tmp_path: Path) -> None:
    registry = install.MemoryRegistry(named={("HKLM", CHROME): {},
                                             ("HKLM", rf"{CHROME}\NativeMessagingBlocklist"): listed("*")})
    policy, [problem] = check("chrome", windows(tmp_path), registry)
    assert problem.problem == (rf"policy key HKLM\{CHROME} blocks native messaging host {HOST_NAME} "
                               "(NativeMessagingBlocklist: ['*'])")
    assert problem.fix == rf'administrator: add "{HOST_NAME}" to "NativeMessagingAllowlist" in HKLM\{CHROME}'
    assert policy["blocklist"] == ["*"] and policy["sources"] == [rf"HKLM\{CHROME}"]


def test_an_allowlist_in_either_hive_lets_the_host_through(tmp_path: Path) -> None:
    registry = install.MemoryRegistry(named={
        ("HKLM", rf"{CHROME}\NativeMessagingBlocklist"): listed("*"),
        ("HKCU", rf"{CHROME}\NativeMessagingAllowlist"): listed("com.other.host", HOST_NAME),
    })
    policy, problems = check("chrome", windows(tmp_path), registry)
    assert problems == [] and policy["allowlist"] == ["com.other.host", HOST_NAME]


def test_the_machine_value_of_user_level_hosts_wins_over_the_users(tmp_path: Path) -> None:
    registry = install.MemoryRegistry(named={("HKLM", CHROME): {"NativeMessagingUserLevelHosts": 0},
                                             ("HKCU", CHROME): {"NativeMessagingUserLevelHosts": 1}})
    policy, [problem] = check("chrome", windows(tmp_path), registry, user_level_only=True)
    assert policy["user_level_hosts"] is False
    assert "NativeMessagingUserLevelHosts is false" in problem.problem
    assert "--scope system" in problem.fix


def test_each_browser_reads_its_own_vendor_key(tmp_path: Path) -> None:
    registry = install.MemoryRegistry(named={("HKLM", rf"{EDGE}\NativeMessagingBlocklist"): listed(HOST_NAME)})
    assert check("chrome", windows(tmp_path), registry)[1] == []
    assert len(check("edge", windows(tmp_path), registry)[1]) == 1


def test_an_extension_blocklist_is_a_problem_unless_the_extension_is_force_installed(tmp_path: Path) -> None:
    blocked = {("HKLM", rf"{CHROME}\ExtensionInstallBlocklist"): listed("*")}
    _, [problem] = check("chrome", windows(tmp_path), install.MemoryRegistry(named=blocked))
    assert "blocks installing the resocket extension" in problem.problem
    settings = {EXTENSION_ID: {"installation_mode": "force_installed", "update_url": "https://u.example/x.xml"}}
    forced = {**blocked, ("HKLM", CHROME): {"ExtensionSettings": json.dumps(settings)}}
    assert check("chrome", windows(tmp_path), install.MemoryRegistry(named=forced))[1] == []
    listed_forced = {**blocked, ("HKLM", rf"{CHROME}\ExtensionInstallForcelist"):
                     listed(f"{EXTENSION_ID};https://u.example/x.xml")}
    assert check("chrome", windows(tmp_path), install.MemoryRegistry(named=listed_forced))[1] == []


def test_a_fleet_that_blocks_everything_and_force_installs_its_own_build_is_fine(tmp_path: Path) -> None:
    own = "a" * 32
    fleet.add_to_fleet([own], [], tmp_path / "system-config")
    registry = install.MemoryRegistry(named={
        ("HKLM", rf"{CHROME}\ExtensionInstallBlocklist"): listed("*"),
        ("HKLM", rf"{CHROME}\ExtensionInstallForcelist"): listed(f"{own};https://u.example/x.xml"),
    })
    policy, problems = check("chrome", windows(tmp_path), registry)
    assert problems == [] and policy["extension_blocklist"] == ["*"]


def test_no_policy_keys_means_no_policy(tmp_path: Path) -> None:
    policy, problems = check("chrome", windows(tmp_path), install.MemoryRegistry())
    assert problems == [] and policy["sources"] == [] and policy["user_level_hosts"] is None


def mac(tmp_path: Path) -> Platform:
    return Platform("macos", tmp_path / "Users/ada", tmp_path / "root")


def managed(plat: Platform, name: str, content: object, user: bool = False,
            fmt: plistlib.PlistFormat = plistlib.FMT_XML) -> Path:
    folder = plat.root / "Library/Managed Preferences"
    if user:
        folder = folder / plat.home.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(plistlib.dumps(content, fmt=fmt))
    return path


def test_an_mdm_profiles_managed_plist_is_read(tmp_path: Path) -> None:
    plat = mac(tmp_path)
    path = managed(plat, "com.google.Chrome.plist", {"NativeMessagingBlocklist": ["*"]}, fmt=plistlib.FMT_BINARY)
    policy, [problem] = check("chrome", plat)
    assert problem.problem.startswith(f"policy file {path} blocks native messaging host {HOST_NAME}")
    assert policy["files"] == [str(path)]


def test_the_device_plist_wins_over_the_users(tmp_path: Path) -> None:
    plat = mac(tmp_path)
    managed(plat, "com.google.Chrome.plist", {"NativeMessagingUserLevelHosts": True}, user=True)
    managed(plat, "com.google.Chrome.plist", {"NativeMessagingUserLevelHosts": False})
    policy, problems = check("chrome", plat, user_level_only=True)
    assert policy["user_level_hosts"] is False and len(problems) == 1


def test_each_browser_reads_its_own_preference_domain(tmp_path: Path) -> None:
    plat = mac(tmp_path)
    managed(plat, "com.microsoft.Edge.plist", {"NativeMessagingBlocklist": [HOST_NAME]})
    assert check("chrome", plat)[1] == []
    assert len(check("edge", plat)[1]) == 1


def test_a_plist_that_does_not_parse_is_named(tmp_path: Path) -> None:
    plat = mac(tmp_path)
    path = managed(plat, "com.google.Chrome.plist", {})
    path.write_bytes(b"<?xml version='1.0'?><plist><dict><key>x</key></plist>")
    _, [problem] = check("chrome", plat)
    assert problem.problem.startswith(f"policy file {path} is not a valid property list")
    assert "ignores the whole file" in problem.problem
