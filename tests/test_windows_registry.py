"""Windows registry writes (cli/install.py's adapter): every HKLM key is opened in the 64-bit view
(KEY_WOW64_64KEY), so a 32-bit resocket never lands under WOW6432Node, which 64-bit Firefox does not read.
Checked through MemoryRegistry, which records the view each write asks for as WinRegistry passes it on."""
from __future__ import annotations

from pathlib import Path

from resocket import HOST_NAME
from resocket.cli import browsers, install
from resocket.cli.browsers import Platform

FIREFOX_KEY = rf"Software\Mozilla\NativeMessagingHosts\{HOST_NAME}"
CHROME_KEY = rf"Software\Google\Chrome\NativeMessagingHosts\{HOST_NAME}"


def host_exe(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    host = folder / "resocket-host.exe"
    host.write_bytes(b"MZ")
    return host


def installed(tmp_path: Path, scope: str) -> tuple[Platform, install.MemoryRegistry, list[install.Target]]:
    plat = Platform("windows", tmp_path / "home", tmp_path / "root")
    registry = install.MemoryRegistry()
    targets, _ = install.targets_for([browsers.get("chrome"), browsers.get("firefox")], plat, scope)
    changes, contents, _ = install.plan_install(targets, host_exe(tmp_path / "bin"), [], registry)
    install.apply(changes, contents, registry)
    return plat, registry, targets


def test_a_system_install_writes_hklm_in_the_64_bit_view(tmp_path: Path) -> None:
    _, registry, _ = installed(tmp_path, "system")
    assert sorted(registry.views) == sorted([
        ("set", "HKLM", CHROME_KEY, install.KEY_WOW64_64KEY),
        ("set", "HKLM", FIREFOX_KEY, install.KEY_WOW64_64KEY),
    ])
    assert install.KEY_WOW64_64KEY == 0x0100  # winnt.h


def test_a_system_uninstall_deletes_in_the_same_view(tmp_path: Path) -> None:
    plat, registry, targets = installed(tmp_path, "system")
    registry.views.clear()
    changes = install.plan_uninstall(targets, plat, registry)
    install.apply(changes, {}, registry)
    assert {(op, hive, view) for op, hive, _key, view in registry.views} == {
        ("delete", "HKLM", install.KEY_WOW64_64KEY)}
    assert registry.get_default("HKLM", FIREFOX_KEY) is None


def test_a_user_install_asks_for_no_view_hkcu_is_not_redirected(tmp_path: Path) -> None:
    _, registry, _ = installed(tmp_path, "user")
    assert {(hive, view) for _op, hive, _key, view in registry.views} == {("HKCU", 0)}
