"""Where each browser looks for native messaging host manifests: a table, and path arithmetic over it.

Design rules:
- Pure: nothing here touches the file system or the registry. Every function takes a `Platform` (OS name,
  home folder, root of the file system) so the macOS and Windows layouts are computed and tested on any
  machine; `install.py` and `doctor.py` do the I/O.
- The table is the single source of truth for locations. Sources: Chrome's and Firefox's native messaging
  documentation, checked against the issue trackers of popular hosts (docs/install.md lists them).
- On Windows a browser finds the manifest through a registry key whose (Default) value is the manifest's
  path; the manifest itself may live anywhere, so resocket keeps one per browser family in its own folder.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from resocket import HOST_NAME

OS_NAMES = ("linux", "macos", "windows")
SCOPES = ("user", "system")
CHROMIUM_FAMILY = "chromium"
FIREFOX_FAMILY = "firefox"

#: Windows: resocket's own folders for the manifests that the registry keys point at.
_WINDOWS_USER_DIR = "AppData/Local/resocket/NativeMessagingHosts"
_WINDOWS_SYSTEM_DIR = "ProgramData/resocket/NativeMessagingHosts"


@dataclass(frozen=True)
class Platform:
    """The machine the paths are computed for. `root` prefixes every system-wide path ("/" or "C:\\")."""

    os: str
    home: Path
    root: Path

    def __post_init__(self) -> None:
        if self.os not in OS_NAMES:
            raise ValueError(f"unknown OS {self.os!r}; expected one of {', '.join(OS_NAMES)}")

    @classmethod
    def current(cls) -> Platform:
        if sys.platform.startswith("win"):
            return cls("windows", Path.home(), Path(os.environ.get("SystemDrive", "C:") + "\\"))
        if sys.platform == "darwin":
            return cls("macos", Path.home(), Path("/"))
        return cls("linux", Path.home(), Path("/"))


@dataclass(frozen=True)
class Browser:
    name: str
    label: str
    family: str
    #: os -> manifest folder relative to the home folder (None: the browser has no per-user folder there)
    user_dirs: Mapping[str, str | None]
    #: os -> system-wide manifest folders relative to the root; several when installers disagree
    system_dirs: Mapping[str, tuple[str, ...]]
    #: Windows registry keys (below HKCU or HKLM) the browser reads, without the host name
    registry_keys: tuple[str, ...]
    #: os -> the browser's own config folders (relative to home); one existing = the browser is installed
    config_dirs: Mapping[str, tuple[str, ...]]
    #: os -> files or folders (relative to the root) whose existence means the browser is installed on the
    #: machine: how a system-wide install (run by root, whose home has no browser profile) finds browsers
    installed_paths: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Windows: the browser's executable name, registered under HKLM ...\App Paths\<exe> by its installer
    windows_exe: str | None = None
    #: Linux folders of enterprise policy files (JSON) that can forbid native messaging hosts
    policy_dirs: tuple[str, ...] = ()
    #: Flatpak application IDs and Snap names of sandboxed builds, which cannot start a host on the machine
    flatpak_ids: tuple[str, ...] = ()
    snap_names: tuple[str, ...] = ()
    aliases: tuple[str, ...] = field(default=())


_MAC = "Library/Application Support"
_WIN_LOCAL = "AppData/Local"
_WIN_ROAMING = "AppData/Roaming"
_CHROME_KEY = r"Software\Google\Chrome\NativeMessagingHosts"
_CHROME_SYSTEM_LINUX = "etc/opt/chrome/native-messaging-hosts"
_PF, _PF86 = "Program Files", "Program Files (x86)"
#: Windows: where installers register each browser's executable (HKLM, (Default) = the .exe's path).
APP_PATHS_KEY = r"Software\Microsoft\Windows\CurrentVersion\App Paths"

BROWSERS: tuple[Browser, ...] = (
    Browser(
        name="chrome", label="Google Chrome", family=CHROMIUM_FAMILY,
        user_dirs={"linux": ".config/google-chrome/NativeMessagingHosts",
                   "macos": f"{_MAC}/Google/Chrome/NativeMessagingHosts"},
        system_dirs={"linux": (_CHROME_SYSTEM_LINUX,),
                     "macos": ("Library/Google/Chrome/NativeMessagingHosts",)},
        registry_keys=(_CHROME_KEY,),
        config_dirs={"linux": (".config/google-chrome",), "macos": (f"{_MAC}/Google/Chrome",),
                     "windows": (f"{_WIN_LOCAL}/Google/Chrome/User Data",)},
        policy_dirs=("etc/opt/chrome/policies/managed",),
        installed_paths={"linux": ("usr/bin/google-chrome", "usr/bin/google-chrome-stable", "usr/bin/google-chrome-beta",
                                   "usr/bin/google-chrome-unstable", "opt/google/chrome/chrome"),
                         "macos": ("Applications/Google Chrome.app",),
                         "windows": (f"{_PF}/Google/Chrome/Application/chrome.exe",
                                     f"{_PF86}/Google/Chrome/Application/chrome.exe")},
        windows_exe="chrome.exe",
        flatpak_ids=("com.google.Chrome",),
        aliases=("google-chrome",),
    ),
    Browser(
        name="chromium", label="Chromium", family=CHROMIUM_FAMILY,
        user_dirs={"linux": ".config/chromium/NativeMessagingHosts",
                   "macos": f"{_MAC}/Chromium/NativeMessagingHosts"},
        system_dirs={"linux": ("etc/chromium/native-messaging-hosts",),
                     "macos": (f"{_MAC}/Chromium/NativeMessagingHosts",)},
        registry_keys=(r"Software\Chromium\NativeMessagingHosts",),
        config_dirs={"linux": (".config/chromium",), "macos": (f"{_MAC}/Chromium",),
                     "windows": (f"{_WIN_LOCAL}/Chromium/User Data",)},
        policy_dirs=("etc/chromium/policies/managed",),
        installed_paths={"linux": ("usr/bin/chromium", "usr/bin/chromium-browser", "usr/lib/chromium/chromium",
                                   "usr/lib64/chromium-browser/chromium-browser"),
                         "macos": ("Applications/Chromium.app",),
                         "windows": (f"{_PF}/Chromium/Application/chrome.exe",)},
        flatpak_ids=("org.chromium.Chromium",),
        snap_names=("chromium",),
    ),
    Browser(
        name="edge", label="Microsoft Edge", family=CHROMIUM_FAMILY,
        user_dirs={"linux": ".config/microsoft-edge/NativeMessagingHosts",
                   "macos": f"{_MAC}/Microsoft Edge/NativeMessagingHosts"},
        system_dirs={"linux": ("etc/opt/edge/native-messaging-hosts",),
                     "macos": ("Library/Microsoft/Edge/NativeMessagingHosts",)},
        registry_keys=(r"Software\Microsoft\Edge\NativeMessagingHosts",),
        config_dirs={"linux": (".config/microsoft-edge",), "macos": (f"{_MAC}/Microsoft Edge",),
                     "windows": (f"{_WIN_LOCAL}/Microsoft/Edge/User Data",)},
        policy_dirs=("etc/opt/edge/policies/managed",),
        installed_paths={"linux": ("usr/bin/microsoft-edge", "usr/bin/microsoft-edge-stable", "opt/microsoft/msedge/msedge"),
                         "macos": ("Applications/Microsoft Edge.app",),
                         "windows": (f"{_PF86}/Microsoft/Edge/Application/msedge.exe",
                                     f"{_PF}/Microsoft/Edge/Application/msedge.exe")},
        windows_exe="msedge.exe",
        flatpak_ids=("com.microsoft.Edge",),
        aliases=("microsoft-edge",),
    ),
    Browser(
        # Brave reads Chrome's system folder on Linux and Chrome's registry key on Windows; some
        # installers also write Brave's own key, so resocket writes both.
        name="brave", label="Brave", family=CHROMIUM_FAMILY,
        user_dirs={"linux": ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
                   "macos": f"{_MAC}/BraveSoftware/Brave-Browser/NativeMessagingHosts"},
        system_dirs={"linux": (_CHROME_SYSTEM_LINUX,)},
        registry_keys=(r"Software\BraveSoftware\Brave-Browser\NativeMessagingHosts", _CHROME_KEY),
        config_dirs={"linux": (".config/BraveSoftware/Brave-Browser",),
                     "macos": (f"{_MAC}/BraveSoftware/Brave-Browser",),
                     "windows": (f"{_WIN_LOCAL}/BraveSoftware/Brave-Browser/User Data",)},
        policy_dirs=("etc/brave/policies/managed",),
        installed_paths={"linux": ("usr/bin/brave-browser", "usr/bin/brave-browser-stable", "opt/brave.com/brave/brave"),
                         "macos": ("Applications/Brave Browser.app",),
                         "windows": (f"{_PF}/BraveSoftware/Brave-Browser/Application/brave.exe",
                                     f"{_PF86}/BraveSoftware/Brave-Browser/Application/brave.exe")},
        windows_exe="brave.exe",
        flatpak_ids=("com.brave.Browser",),
        snap_names=("brave",),
    ),
    Browser(
        # Some Vivaldi installers use /etc/vivaldi, others /etc/opt/vivaldi: system installs write both.
        name="vivaldi", label="Vivaldi", family=CHROMIUM_FAMILY,
        user_dirs={"linux": ".config/vivaldi/NativeMessagingHosts",
                   "macos": f"{_MAC}/Vivaldi/NativeMessagingHosts"},
        system_dirs={"linux": ("etc/opt/vivaldi/native-messaging-hosts", "etc/vivaldi/native-messaging-hosts"),
                     "macos": (f"{_MAC}/Vivaldi/NativeMessagingHosts",)},
        registry_keys=(_CHROME_KEY,),
        config_dirs={"linux": (".config/vivaldi",), "macos": (f"{_MAC}/Vivaldi",),
                     "windows": (f"{_WIN_LOCAL}/Vivaldi/User Data",)},
        installed_paths={"linux": ("usr/bin/vivaldi", "usr/bin/vivaldi-stable", "opt/vivaldi/vivaldi"),
                         "macos": ("Applications/Vivaldi.app",),
                         "windows": (f"{_PF}/Vivaldi/Application/vivaldi.exe",)},
        windows_exe="vivaldi.exe",
        # Vivaldi is a Chromium build with its own branding: the same policy layout under its own name.
        policy_dirs=("etc/opt/vivaldi/policies/managed", "etc/vivaldi/policies/managed"),
        flatpak_ids=("com.vivaldi.Vivaldi",),
    ),
    Browser(
        # Opera's Linux folder is reported by users, not documented; it has no known system folder.
        name="opera", label="Opera", family=CHROMIUM_FAMILY,
        user_dirs={"linux": ".config/opera/NativeMessagingHosts"},
        system_dirs={},
        registry_keys=(_CHROME_KEY,),
        config_dirs={"linux": (".config/opera",), "windows": (f"{_WIN_ROAMING}/Opera Software/Opera Stable",)},
        installed_paths={"linux": ("usr/bin/opera", "usr/lib/x86_64-linux-gnu/opera/opera", "usr/lib64/opera/opera"),
                         "macos": ("Applications/Opera.app",),
                         "windows": (f"{_PF}/Opera/launcher.exe",)},
        windows_exe="opera.exe",
        # Opera documents no enterprise policy folder on Linux: doctor reads none (docs/install.md).
        flatpak_ids=("com.opera.Opera",),
        snap_names=("opera",),
    ),
    Browser(
        name="firefox", label="Firefox", family=FIREFOX_FAMILY,
        user_dirs={"linux": ".mozilla/native-messaging-hosts",
                   "macos": f"{_MAC}/Mozilla/NativeMessagingHosts"},
        system_dirs={"linux": ("usr/lib/mozilla/native-messaging-hosts", "usr/lib64/mozilla/native-messaging-hosts"),
                     "macos": (f"{_MAC}/Mozilla/NativeMessagingHosts",)},
        registry_keys=(r"Software\Mozilla\NativeMessagingHosts",),
        config_dirs={"linux": (".mozilla/firefox",), "macos": (f"{_MAC}/Firefox",),
                     "windows": (f"{_WIN_ROAMING}/Mozilla/Firefox",)},
        installed_paths={"linux": ("usr/bin/firefox", "usr/lib/firefox/firefox", "usr/lib64/firefox/firefox",
                                   "opt/firefox/firefox"),
                         "macos": ("Applications/Firefox.app",),
                         "windows": (f"{_PF}/Mozilla Firefox/firefox.exe", f"{_PF86}/Mozilla Firefox/firefox.exe")},
        windows_exe="firefox.exe",
        flatpak_ids=("org.mozilla.firefox",),
        snap_names=("firefox",),
    ),
)

BROWSER_NAMES = tuple(b.name for b in BROWSERS)
_BY_NAME = {name: b for b in BROWSERS for name in (b.name, *b.aliases)}


def get(name: str) -> Browser:
    try:
        return _BY_NAME[name.lower()]
    except KeyError:
        raise ValueError(f"unknown browser {name!r}; expected one of {', '.join(BROWSER_NAMES)}") from None


def manifest_file_name() -> str:
    # Chrome and Firefox look for exactly "<host name>.json"; any other file name is never read.
    return f"{HOST_NAME}.json"


def manifest_dirs(browser: Browser, plat: Platform, scope: str) -> list[Path]:
    """The folders to write the manifest into for `browser` (empty: no such location on this OS)."""
    _check_scope(scope)
    if plat.os == "windows":
        base = plat.home / _WINDOWS_USER_DIR if scope == "user" else plat.root / _WINDOWS_SYSTEM_DIR
        return [base / browser.family]
    if scope == "user":
        rel = browser.user_dirs.get(plat.os)
        return [plat.home / rel] if rel else []
    return [plat.root / rel for rel in browser.system_dirs.get(plat.os, ())]


def user_data_dir_manifest_dir(user_data_dir: Path) -> Path:
    """Chromium started with --user-data-dir=DIR reads DIR/NativeMessagingHosts and ignores ~/.config."""
    return Path(user_data_dir) / "NativeMessagingHosts"


def registry_hive(scope: str) -> str:
    _check_scope(scope)
    return "HKCU" if scope == "user" else "HKLM"


def registry_keys(browser: Browser, scope: str) -> list[tuple[str, str]]:
    """Windows: (hive, key) pairs whose (Default) value must be the manifest's full path."""
    hive = registry_hive(scope)
    return [(hive, f"{key}\\{HOST_NAME}") for key in browser.registry_keys]


def config_dirs(browser: Browser, plat: Platform) -> list[Path]:
    """The browser's own config folders: if one exists, the browser is installed for this user."""
    return [plat.home / rel for rel in browser.config_dirs.get(plat.os, ())]


def installed_paths(browser: Browser, plat: Platform) -> list[Path]:
    """Files or folders whose existence means the browser is installed on the machine (any user)."""
    return [plat.root / rel for rel in browser.installed_paths.get(plat.os, ())]


def app_paths_key(browser: Browser) -> tuple[str, str] | None:
    """Windows: the HKLM App Paths key whose (Default) value is the browser's executable, if it has one."""
    return ("HKLM", f"{APP_PATHS_KEY}\\{browser.windows_exe}") if browser.windows_exe else None


def sandbox_locations(browser: Browser, plat: Platform) -> list[tuple[str, Path]]:
    """Linux: (kind, folder) pairs whose existence means a Flatpak or Snap build of the browser."""
    if plat.os != "linux":
        return []
    found: list[tuple[str, Path]] = []
    for app_id in browser.flatpak_ids:
        found += [("flatpak", plat.home / ".var/app" / app_id),
                  ("flatpak", plat.home / ".local/share/flatpak/app" / app_id),
                  ("flatpak", plat.root / "var/lib/flatpak/app" / app_id)]
    for snap in browser.snap_names:
        found += [("snap", plat.home / "snap" / snap), ("snap", plat.root / "snap" / snap)]
    return found


def policy_dirs(browser: Browser, plat: Platform) -> list[Path]:
    """Linux managed-policy folders (JSON files). macOS and Windows keep policies elsewhere (plist, registry)."""
    if plat.os != "linux":
        return []
    return [plat.root / rel for rel in browser.policy_dirs]


def _check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; expected user or system")
