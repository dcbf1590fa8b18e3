"""Where each browser looks for native messaging host manifests: a table, and path arithmetic over it.

Design rules:
- Pure: nothing here touches the file system or the registry. Every function takes a `Platform` (OS name,
  home folder, root of the file system) so the macOS and Windows layouts are computed and tested on any
  machine; `install.py` and `doctor.py` do the I/O.
- The table is the single source of truth for locations. Sources: Chrome's and Firefox's native messaging
  documentation, checked against the issue trackers of popular hosts (docs/install.md lists them).
- On Windows a browser finds the manifest through a registry key whose (Default) value is the manifest's
  path; the manifest itself may live anywhere, so resocket keeps one per browser family in its own folder.
- Each release channel (Beta, Dev, Canary) is a browser of its own: its own profile folder, so its own
  per-user manifest folder. Channels share their stable browser's system folder and Windows registry key
  (Chromium compiles those in per brand, not per channel: chrome_paths.cc, native_process_launcher_win.cc).
- Linux per-user paths starting with "{config}/" are below the browser's config home: the first of its
  `config_home_envs` set to an absolute path in `Platform.env`, else ~/.config. Chromium's
  chrome_paths_linux.cc reads CHROME_CONFIG_HOME, then XDG_CONFIG_HOME; Brave replaces that function and
  reads XDG_CONFIG_HOME only (brave-core chromium_src/chrome/common/chrome_paths_linux.cc).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
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

#: Environment variables that move browsers' per-user folders on Linux (see `Browser.config_home_envs`).
ENV_KEYS = ("CHROME_CONFIG_HOME", "XDG_CONFIG_HOME")
_CONFIG = "{config}/"


@dataclass(frozen=True)
class Platform:
    """The machine the paths are computed for. `root` prefixes every system-wide path ("/" or "C:\\");
    `env` holds the variables of ENV_KEYS that are set (empty: every browser uses its default folders)."""

    os: str
    home: Path
    root: Path
    env: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.os not in OS_NAMES:
            raise ValueError(f"unknown OS {self.os!r}; expected one of {', '.join(OS_NAMES)}")

    @classmethod
    def current(cls) -> Platform:
        env = {k: os.environ[k] for k in ENV_KEYS if os.environ.get(k)}
        if sys.platform.startswith("win"):
            return cls("windows", Path.home(), Path(os.environ.get("SystemDrive", "C:") + "\\"), env)
        if sys.platform == "darwin":
            return cls("macos", Path.home(), Path("/"), env)
        return cls("linux", Path.home(), Path("/"), env)


@dataclass(frozen=True)
class Browser:
    name: str
    label: str
    family: str
    #: os -> manifest folder relative to the home folder, or to the config home when it starts with
    #: "{config}/" (None: the browser has no per-user folder there)
    user_dirs: Mapping[str, str | None]
    #: os -> system-wide manifest folders relative to the root; several when installers disagree
    system_dirs: Mapping[str, tuple[str, ...]]
    #: Windows registry keys (below HKCU or HKLM) the browser reads, without the host name
    registry_keys: tuple[str, ...]
    #: os -> the browser's own config folders (as user_dirs); one existing = the browser is used by this user
    config_dirs: Mapping[str, tuple[str, ...]]
    #: os -> files or folders (relative to the root) whose existence means the browser is installed on the
    #: machine: how a system-wide install (run by root, whose home has no browser profile) finds browsers
    installed_paths: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Windows: the browser's executable name, registered under HKLM ...\App Paths\<exe> by its installer
    windows_exe: str | None = None
    #: Linux folders of enterprise policy files (JSON) that can forbid native messaging hosts
    policy_dirs: tuple[str, ...] = ()
    #: Flatpak application IDs and Snap names of sandboxed builds, which cannot start a host on the machine
    #: by themselves (see `snap_portal` and docs/install.md for the ways around that)
    flatpak_ids: tuple[str, ...] = ()
    snap_names: tuple[str, ...] = ()
    #: the Snap build starts native hosts through the WebExtensions portal of xdg-desktop-portal, which reads
    #: the manifest from the usual folders and runs the host outside the sandbox (Firefox's snap since 2022)
    snap_portal: bool = False
    #: Linux: environment variables, first set wins, for the folder that "{config}/" paths are under
    config_home_envs: tuple[str, ...] = ("XDG_CONFIG_HOME",)
    #: os -> (marker, manifest folder) pairs: when the marker exists, the browser uses a second layout and
    #: the manifest is written in that folder too (Firefox 147+ on Linux: $XDG_CONFIG_HOME/mozilla)
    layout_dirs: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    aliases: tuple[str, ...] = field(default=())


_MAC = "Library/Application Support"
_WIN_LOCAL = "AppData/Local"
_WIN_ROAMING = "AppData/Roaming"
_CHROME_KEY = r"Software\Google\Chrome\NativeMessagingHosts"
_CHROME_SYSTEM_LINUX = "etc/opt/chrome/native-messaging-hosts"
_CHROME_POLICIES = ("etc/opt/chrome/policies/managed",)
_EDGE_KEY = r"Software\Microsoft\Edge\NativeMessagingHosts"
_EDGE_SYSTEM_LINUX = "etc/opt/edge/native-messaging-hosts"
_EDGE_POLICIES = ("etc/opt/edge/policies/managed",)
#: Chrome and Chromium read CHROME_CONFIG_HOME before XDG_CONFIG_HOME (chrome_paths_linux.cc).
_CHROME_ENVS = ("CHROME_CONFIG_HOME", "XDG_CONFIG_HOME")
_PF, _PF86 = "Program Files", "Program Files (x86)"
#: Windows: where installers register each browser's executable (HKLM, (Default) = the .exe's path).
APP_PATHS_KEY = r"Software\Microsoft\Windows\CurrentVersion\App Paths"


def _chrome_channel(channel: str, linux: str, mac: str, windows: str, aliases: tuple[str, ...] = ()) -> Browser:
    """Chrome Beta/Dev/Canary: folders named by channel (GetChannelSuffixForDataDir: "-beta", "-unstable"
    for Dev, "-canary"; macOS "Chrome <Channel>"; Windows "Chrome <Channel>", Canary "Chrome SxS"), and
    Chrome's own system folder, registry key and policies."""
    label = f"Google Chrome {channel}"
    return Browser(
        name=f"chrome-{channel.lower()}", label=label, family=CHROMIUM_FAMILY,
        user_dirs={"linux": f"{_CONFIG}{linux}/NativeMessagingHosts", "macos": f"{_MAC}/Google/{mac}/NativeMessagingHosts"},
        system_dirs={"linux": (_CHROME_SYSTEM_LINUX,), "macos": ("Library/Google/Chrome/NativeMessagingHosts",)},
        registry_keys=(_CHROME_KEY,),
        config_dirs={"linux": (f"{_CONFIG}{linux}",), "macos": (f"{_MAC}/Google/{mac}",),
                     "windows": (f"{_WIN_LOCAL}/Google/{windows}/User Data",)},
        policy_dirs=_CHROME_POLICIES,
        installed_paths={"linux": (f"usr/bin/{linux}", f"opt/google/{linux.removeprefix('google-')}/chrome"),
                         "macos": (f"Applications/{label}.app",),
                         # Canary installs per user (under %LOCALAPPDATA%): its profile folder finds it.
                         "windows": () if windows.endswith("SxS") else
                         (f"{_PF}/Google/{windows}/Application/chrome.exe",
                          f"{_PF86}/Google/{windows}/Application/chrome.exe")},
        config_home_envs=_CHROME_ENVS,
        aliases=aliases,
    )


def _edge_channel(channel: str, linux: bool) -> Browser:
    """Edge Beta/Dev/Canary (microsoft-edge-beta/-dev on Linux; no Canary there): Edge's system folder,
    registry key and policies, as Microsoft's native messaging documentation lists them."""
    label = f"Microsoft Edge {channel}"
    win = "Edge SxS" if channel == "Canary" else f"Edge {channel}"
    folder = f"microsoft-edge-{channel.lower()}"
    return Browser(
        name=f"edge-{channel.lower()}", label=label, family=CHROMIUM_FAMILY,
        user_dirs={"linux": f"{_CONFIG}{folder}/NativeMessagingHosts" if linux else None,
                   "macos": f"{_MAC}/{label}/NativeMessagingHosts"},
        system_dirs={"linux": (_EDGE_SYSTEM_LINUX,), "macos": ("Library/Microsoft/Edge/NativeMessagingHosts",)},
        registry_keys=(_EDGE_KEY,),
        config_dirs={"linux": (f"{_CONFIG}{folder}",) if linux else (), "macos": (f"{_MAC}/{label}",),
                     "windows": (f"{_WIN_LOCAL}/Microsoft/{win}/User Data",)},
        policy_dirs=_EDGE_POLICIES,
        installed_paths={"linux": (f"usr/bin/{folder}", f"opt/microsoft/msedge-{channel.lower()}/msedge")
                         if linux else (),
                         "macos": (f"Applications/{label}.app",),
                         # Canary installs per user (under %LOCALAPPDATA%): its profile folder finds it.
                         "windows": () if channel == "Canary" else
                         (f"{_PF86}/Microsoft/{win}/Application/msedge.exe",
                          f"{_PF}/Microsoft/{win}/Application/msedge.exe")},
    )


BROWSERS: tuple[Browser, ...] = (
    Browser(
        name="chrome", label="Google Chrome", family=CHROMIUM_FAMILY,
        user_dirs={"linux": f"{_CONFIG}google-chrome/NativeMessagingHosts",
                   "macos": f"{_MAC}/Google/Chrome/NativeMessagingHosts"},
        system_dirs={"linux": (_CHROME_SYSTEM_LINUX,),
                     "macos": ("Library/Google/Chrome/NativeMessagingHosts",)},
        registry_keys=(_CHROME_KEY,),
        config_dirs={"linux": (f"{_CONFIG}google-chrome",), "macos": (f"{_MAC}/Google/Chrome",),
                     "windows": (f"{_WIN_LOCAL}/Google/Chrome/User Data",)},
        policy_dirs=_CHROME_POLICIES,
        installed_paths={"linux": ("usr/bin/google-chrome", "usr/bin/google-chrome-stable", "opt/google/chrome/chrome"),
                         "macos": ("Applications/Google Chrome.app",),
                         "windows": (f"{_PF}/Google/Chrome/Application/chrome.exe",
                                     f"{_PF86}/Google/Chrome/Application/chrome.exe")},
        windows_exe="chrome.exe",
        flatpak_ids=("com.google.Chrome",),
        config_home_envs=_CHROME_ENVS,
        aliases=("google-chrome",),
    ),
    _chrome_channel("Beta", "google-chrome-beta", "Chrome Beta", "Chrome Beta", ("google-chrome-beta",)),
    # Chrome's Linux Dev channel is the package google-chrome-unstable.
    _chrome_channel("Dev", "google-chrome-unstable", "Chrome Dev", "Chrome Dev",
                    ("chrome-unstable", "google-chrome-unstable")),
    _chrome_channel("Canary", "google-chrome-canary", "Chrome Canary", "Chrome SxS", ("google-chrome-canary",)),
    Browser(
        name="chromium", label="Chromium", family=CHROMIUM_FAMILY,
        user_dirs={"linux": f"{_CONFIG}chromium/NativeMessagingHosts",
                   "macos": f"{_MAC}/Chromium/NativeMessagingHosts"},
        system_dirs={"linux": ("etc/chromium/native-messaging-hosts",),
                     "macos": (f"{_MAC}/Chromium/NativeMessagingHosts",)},
        registry_keys=(r"Software\Chromium\NativeMessagingHosts",),
        config_dirs={"linux": (f"{_CONFIG}chromium",), "macos": (f"{_MAC}/Chromium",),
                     "windows": (f"{_WIN_LOCAL}/Chromium/User Data",)},
        policy_dirs=("etc/chromium/policies/managed",),
        installed_paths={"linux": ("usr/bin/chromium", "usr/bin/chromium-browser", "usr/lib/chromium/chromium",
                                   "usr/lib64/chromium-browser/chromium-browser"),
                         "macos": ("Applications/Chromium.app",),
                         "windows": (f"{_PF}/Chromium/Application/chrome.exe",)},
        flatpak_ids=("org.chromium.Chromium",),
        snap_names=("chromium",),
        config_home_envs=_CHROME_ENVS,
    ),
    Browser(
        name="edge", label="Microsoft Edge", family=CHROMIUM_FAMILY,
        user_dirs={"linux": f"{_CONFIG}microsoft-edge/NativeMessagingHosts",
                   "macos": f"{_MAC}/Microsoft Edge/NativeMessagingHosts"},
        system_dirs={"linux": (_EDGE_SYSTEM_LINUX,),
                     "macos": ("Library/Microsoft/Edge/NativeMessagingHosts",)},
        registry_keys=(_EDGE_KEY,),
        config_dirs={"linux": (f"{_CONFIG}microsoft-edge",), "macos": (f"{_MAC}/Microsoft Edge",),
                     "windows": (f"{_WIN_LOCAL}/Microsoft/Edge/User Data",)},
        policy_dirs=_EDGE_POLICIES,
        installed_paths={"linux": ("usr/bin/microsoft-edge", "usr/bin/microsoft-edge-stable", "opt/microsoft/msedge/msedge"),
                         "macos": ("Applications/Microsoft Edge.app",),
                         "windows": (f"{_PF86}/Microsoft/Edge/Application/msedge.exe",
                                     f"{_PF}/Microsoft/Edge/Application/msedge.exe")},
        windows_exe="msedge.exe",
        flatpak_ids=("com.microsoft.Edge",),
        aliases=("microsoft-edge",),
    ),
    _edge_channel("Beta", linux=True),
    _edge_channel("Dev", linux=True),
    _edge_channel("Canary", linux=False),
    Browser(
        # Brave reads Chrome's system folder on Linux and Chrome's registry key on Windows; some
        # installers also write Brave's own key, so resocket writes both.
        name="brave", label="Brave", family=CHROMIUM_FAMILY,
        user_dirs={"linux": f"{_CONFIG}BraveSoftware/Brave-Browser/NativeMessagingHosts",
                   "macos": f"{_MAC}/BraveSoftware/Brave-Browser/NativeMessagingHosts"},
        system_dirs={"linux": (_CHROME_SYSTEM_LINUX,)},
        registry_keys=(r"Software\BraveSoftware\Brave-Browser\NativeMessagingHosts", _CHROME_KEY),
        config_dirs={"linux": (f"{_CONFIG}BraveSoftware/Brave-Browser",),
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
        user_dirs={"linux": f"{_CONFIG}vivaldi/NativeMessagingHosts",
                   "macos": f"{_MAC}/Vivaldi/NativeMessagingHosts"},
        system_dirs={"linux": ("etc/opt/vivaldi/native-messaging-hosts", "etc/vivaldi/native-messaging-hosts"),
                     "macos": (f"{_MAC}/Vivaldi/NativeMessagingHosts",)},
        registry_keys=(_CHROME_KEY,),
        config_dirs={"linux": (f"{_CONFIG}vivaldi",), "macos": (f"{_MAC}/Vivaldi",),
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
        user_dirs={"linux": f"{_CONFIG}opera/NativeMessagingHosts"},
        system_dirs={},
        registry_keys=(_CHROME_KEY,),
        config_dirs={"linux": (f"{_CONFIG}opera",), "windows": (f"{_WIN_ROAMING}/Opera Software/Opera Stable",)},
        installed_paths={"linux": ("usr/bin/opera", "usr/lib/x86_64-linux-gnu/opera/opera", "usr/lib64/opera/opera"),
                         "macos": ("Applications/Opera.app",),
                         "windows": (f"{_PF}/Opera/launcher.exe",)},
        windows_exe="opera.exe",
        # Opera documents no enterprise policy folder on Linux: doctor reads none (docs/install.md).
        flatpak_ids=("com.opera.Opera",),
        snap_names=("opera",),
    ),
    Browser(
        # Firefox 147+ puts a new user's profiles in $XDG_CONFIG_HOME/mozilla/firefox when ~/.mozilla does not
        # exist, yet reads native messaging manifests from ~/.mozilla/native-messaging-hosts (MDN; Mozilla
        # bug 1955255 is open): resocket writes that folder always, and the XDG one too when that layout is used.
        name="firefox", label="Firefox", family=FIREFOX_FAMILY,
        user_dirs={"linux": ".mozilla/native-messaging-hosts",
                   "macos": f"{_MAC}/Mozilla/NativeMessagingHosts"},
        system_dirs={"linux": ("usr/lib/mozilla/native-messaging-hosts", "usr/lib64/mozilla/native-messaging-hosts"),
                     "macos": (f"{_MAC}/Mozilla/NativeMessagingHosts",)},
        registry_keys=(r"Software\Mozilla\NativeMessagingHosts",),
        config_dirs={"linux": (".mozilla/firefox", f"{_CONFIG}mozilla/firefox"), "macos": (f"{_MAC}/Firefox",),
                     "windows": (f"{_WIN_ROAMING}/Mozilla/Firefox",)},
        layout_dirs={"linux": ((f"{_CONFIG}mozilla/firefox", f"{_CONFIG}mozilla/native-messaging-hosts"),)},
        installed_paths={"linux": ("usr/bin/firefox", "usr/lib/firefox/firefox", "usr/lib64/firefox/firefox",
                                   "opt/firefox/firefox"),
                         "macos": ("Applications/Firefox.app",),
                         "windows": (f"{_PF}/Mozilla Firefox/firefox.exe", f"{_PF86}/Mozilla Firefox/firefox.exe")},
        windows_exe="firefox.exe",
        flatpak_ids=("org.mozilla.firefox",),
        snap_names=("firefox",),
        snap_portal=True,
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


def manifest_dirs(browser: Browser, plat: Platform, scope: str,
                  exists: Callable[[Path], bool] | None = None) -> list[Path]:
    """The folders to write the manifest into for `browser` (empty: no such location on this OS).
    `exists` tells which `layout_dirs` markers are present (the caller does the I/O; None: none are)."""
    _check_scope(scope)
    if plat.os == "windows":
        base = plat.home / _WINDOWS_USER_DIR if scope == "user" else plat.root / _WINDOWS_SYSTEM_DIR
        return [base / browser.family]
    if scope == "system":
        return [plat.root / rel for rel in browser.system_dirs.get(plat.os, ())]
    rel = browser.user_dirs.get(plat.os)
    dirs = [user_path(browser, plat, rel)] if rel else []
    for marker, folder in browser.layout_dirs.get(plat.os, ()):
        if exists is not None and exists(user_path(browser, plat, marker)):
            dirs.append(user_path(browser, plat, folder))
    return dirs


def known_manifest_dirs(browser: Browser, plat: Platform, scope: str) -> list[Path]:
    """Every folder where some install could have put the manifest for `browser`: `manifest_dirs` under
    each setting of the config-home variables (set now, or not at all) and with every layout. Uninstall
    cleans all of them, since the environment or the layout may have changed since the install."""
    if plat.os == "windows" or scope == "system":
        return manifest_dirs(browser, plat, scope)
    found: list[Path] = []
    for env in _env_variants(browser, plat):
        variant = Platform(plat.os, plat.home, plat.root, env)
        for folder in manifest_dirs(browser, variant, scope, exists=lambda _p: True):
            if folder not in found:
                found.append(folder)
    if plat.os == "linux":  # where doctor's Flatpak recipe registers the host
        found += [d for d in (flatpak_manifest_dir(browser, plat, app_id) for app_id in browser.flatpak_ids) if d]
    return found


def user_path(browser: Browser, plat: Platform, rel: str) -> Path:
    """A per-user path of the table: below the browser's config home for "{config}/...", else below home."""
    if rel.startswith(_CONFIG):
        return config_home(browser, plat) / rel[len(_CONFIG):]
    return plat.home / rel


def config_home(browser: Browser, plat: Platform) -> Path:
    """The folder "{config}/" paths are under: the first of the browser's variables that holds an absolute
    path (the XDG spec says a relative one is invalid and must be ignored), else ~/.config."""
    for key in browser.config_home_envs:
        value = plat.env.get(key, "")
        if value and os.path.isabs(value):
            return Path(value)
    return plat.home / ".config"


def _env_variants(browser: Browser, plat: Platform) -> list[Mapping[str, str]]:
    variants: list[Mapping[str, str]] = [dict(plat.env), {}]
    variants += [{key: plat.env[key]} for key in browser.config_home_envs if key in plat.env]
    return variants


#: Where doctor's Flatpak recipe puts its wrapper, below ~/.var/app/<id> (the sandbox sees it at that path).
FLATPAK_WRAPPER = "resocket/resocket-host"


def flatpak_wrapper(plat: Platform, app_id: str) -> Path:
    return plat.home / ".var/app" / app_id / FLATPAK_WRAPPER


def flatpak_manifest_dir(browser: Browser, plat: Platform, app_id: str) -> Path | None:
    """Linux: the per-user manifest folder as the Flatpak build `app_id` sees it. Flatpak keeps an app's
    files in ~/.var/app/<id>: its XDG_CONFIG_HOME is ~/.var/app/<id>/config, and dot-folders it persists
    (Firefox's ~/.mozilla) are below ~/.var/app/<id> too."""
    rel = browser.user_dirs.get("linux")
    if not rel:
        return None
    sandbox = plat.home / ".var/app" / app_id
    if rel.startswith(_CONFIG):
        return sandbox / "config" / rel[len(_CONFIG):]
    return sandbox / rel


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
    return [user_path(browser, plat, rel) for rel in browser.config_dirs.get(plat.os, ())]


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
