"""Socket permission grants per origin: the user's ``grants.json`` and the administrator's managed one.

Two layers, one file format:
- the user's, in the user's config dir (``$RESOCKET_CONFIG_DIR``, else ~/.config/resocket...);
- the managed one, in the system config dir (``$RESOCKET_SYSTEM_CONFIG_DIR``, else /etc/resocket,
  %ProgramData%\\resocket, /Library/Application Support/resocket), written by the administrator
  (`resocket grant --scope system`) and read by every user's host. ``Grants`` merges them: an origin gets
  its managed rules plus the user's, or, when the managed file says ``"locked": true``, the managed rules
  alone, so a user grant never widens a locked managed set. Nothing a user runs (the CLI without
  ``--scope system``, the options page) changes the managed layer.

Design rules:
- The file is the only state. Every read goes to the file, so a running host sees what the CLI wrote
  the next time it looks, and every change is read-modify-write under an exclusive lock
  (``grants.json.lock``, never deleted: deleting a lock file lets two writers lock different files).
- Writes are atomic: a temp file in the same directory, fsync, ``os.replace``. A reader sees the old
  file or the new one, never half of one.
- A file we cannot read as ours (bad JSON, wrong shape, unknown version) raises ``GrantsCorrupt``
  naming the path and the problem. It is never reset or overwritten: grants are security decisions,
  and silently dropping (or keeping half of) them is worse than stopping.
- Rules are stored in canonical form (permissions.PermissionRule), de-duplicated, in grant order.
- The managed file is trusted only when no one but its owner can write it, and its owner is root (or the
  user reading it): a managed file anyone could edit would let any local user grant sockets to every
  other user's browser. Such a file is reported as ``GrantsCorrupt``, like an unreadable one (POSIX only;
  on Windows the folder's ACL decides, docs/deploy.md).

File format (version 1; ``locked`` only has a meaning in the managed file)::

    {"version": 1, "locked": false, "origins": {"https://example.com": ["tcp-connect:localhost:8080"]}}

Exceptions: ``GrantsCorrupt(Exception)`` for the file; ``InvalidRules(ValueError)`` for rules given to
``grant``; ``ValueError`` from ``normalize_origin`` for an origin that is not one.
"""
from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from resocket.chrome.permissions import InvalidRule, PermissionRule

FORMAT_VERSION = 1
GRANTS_FILE = "grants.json"
LOCK_FILE = "grants.json.lock"
CONFIG_DIR_ENV = "RESOCKET_CONFIG_DIR"
SYSTEM_CONFIG_DIR_ENV = "RESOCKET_SYSTEM_CONFIG_DIR"
#: Where a rule comes from, as `resocket grants --json` and grants.list name it.
MANAGED = "managed"
USER = "user"

# Chrome extension ids are 32 characters a..p (the hex of a SHA-256 prefix, digits mapped to a..p). The one
# pattern for an extension origin: grants and `resocket install --extension-id` read it alike.
_EXTENSION_ORIGIN = re.compile(r"chrome-extension://([a-p]{32})/?")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# A host as a browser serializes it in an origin: a domain (ASCII, punycode for IDNs) or IPv4, or [IPv6].
_DOMAIN_OR_IPV4 = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?")


class GrantsCorrupt(Exception):
    """The grants file exists but is not a grants file we can read. ``path`` and ``problem`` say why."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class InvalidRules(ValueError):
    """Some rules given to ``grant`` do not parse; ``invalid`` lists ``(rule, reason)``. Nothing was written."""

    def __init__(self, invalid: list[tuple[str, str]]) -> None:
        lines = "; ".join(reason for _, reason in invalid)
        super().__init__(f"invalid rule{'s' if len(invalid) > 1 else ''}: {lines}")
        self.invalid = invalid


def default_config_dir() -> Path:
    """``$RESOCKET_CONFIG_DIR`` if set, else the platform's per-user config dir + ``resocket``."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override)
    home = Path.home()
    if sys.platform == "win32":
        appdata = os.environ.get("APPDATA")
        return (Path(appdata) if appdata else home / "AppData" / "Roaming") / "resocket"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "resocket"
    # XDG Base Directory spec: a relative XDG_CONFIG_HOME is invalid and must be ignored.
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else home / ".config"
    return base / "resocket"


def system_config_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """``$RESOCKET_SYSTEM_CONFIG_DIR`` if set, else the machine-wide config dir + ``resocket``.

    ``root`` puts the platform's dir under another root (an image being built, `install --root`); the
    environment override still wins, so tests never touch the real one.
    """
    override = os.environ.get(SYSTEM_CONFIG_DIR_ENV)
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("PROGRAMDATA") or r"C:\ProgramData") / "resocket"
    elif sys.platform == "darwin":
        base = Path("/Library/Application Support/resocket")
    else:
        base = Path("/etc/resocket")
    if root is None:
        return base
    return Path(root) / base.relative_to(base.anchor)


def canonical_extension_origin(text: str) -> str | None:
    """``chrome-extension://<id>/`` for an extension origin in any case, with or without its final "/"; None
    for anything else (a path after the id, an id that is not 32 letters a-p, another scheme)."""
    match = _EXTENSION_ORIGIN.fullmatch(text.lower())
    return f"chrome-extension://{match.group(1)}/" if match else None


def normalize_origin(text: str) -> str:
    """The canonical origin string: ``chrome-extension://<id>/`` or ``http(s)://host[:port]``.

    Lowercased; a default port (80 for http, 443 for https) is dropped; a lone trailing "/" after a
    web origin is dropped and one is added after an extension id. Raises ValueError saying what is wrong.
    """
    if not isinstance(text, str):
        raise TypeError(f"an origin must be a string, not {type(text).__name__}")
    if not text:
        raise ValueError("empty origin: expected chrome-extension://<id>/ or https://host[:port]")
    if any(ch.isspace() for ch in text):
        raise ValueError(f"origin {text!r} contains whitespace")
    if not text.isascii():
        raise ValueError(f"origin {text!r} is not ASCII (write internationalized domains in punycode, xn--...)")
    lowered = text.lower()
    scheme, sep, rest = lowered.partition("://")
    if not sep:
        raise ValueError(f"origin {text!r} has no scheme: expected chrome-extension://<id>/ or https://host[:port]")
    if scheme == "chrome-extension":
        canonical = canonical_extension_origin(lowered)
        if canonical is None:
            raise ValueError(
                f"origin {text!r} is not chrome-extension://<id>/ with a 32-letter extension id (letters a-p) "
                "and nothing after the '/'")
        return canonical
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"origin {text!r}: only chrome-extension, http and https origins can be granted")
    rest = rest.removesuffix("/")
    for char, what in (("/", "a path"), ("?", "a query"), ("#", "a fragment"), ("@", "user info")):
        if char in rest:
            raise ValueError(f"origin {text!r} has {what}: an origin is only scheme://host[:port]")
    host, port = _split_host_port(text, rest)
    if host.startswith("["):
        try:
            host = f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"  # as browsers serialize it
        except ValueError:
            raise ValueError(f"origin {text!r}: {host!r} is not a valid IPv6 address") from None
    elif not _DOMAIN_OR_IPV4.fullmatch(host) or ".." in host:
        raise ValueError(f"origin {text!r}: {host!r} is not a valid host")
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _split_host_port(text: str, authority: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise ValueError(f"origin {text!r}: unclosed '[' in the host")
        host, after = authority[: end + 1], authority[end + 1:]
        if after and not after.startswith(":"):
            raise ValueError(f"origin {text!r}: unexpected {after!r} after the host")
        port_text = after[1:] if after else None
    else:
        host, sep, port_text_raw = authority.partition(":")
        port_text = port_text_raw if sep else None
    if not host:
        raise ValueError(f"origin {text!r} has no host")
    if port_text is None:
        return host, None
    if not re.fullmatch(r"[0-9]{1,5}", port_text) or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"origin {text!r}: port {port_text!r} is not a number in 1..65535")
    return host, int(port_text)


class GrantStore:
    """Grants in one config dir. Cheap to create; every call reads the file anew.

    ``managed``: the system layer. Its dir and file are made readable by every user (each user's host
    reads it) and it is read only when no one else can write it (module docstring).
    """

    def __init__(self, config_dir: Path, *, managed: bool = False) -> None:
        self.config_dir = config_dir
        self.path = config_dir / GRANTS_FILE
        self.managed = managed
        self._lock_path = config_dir / LOCK_FILE

    @classmethod
    def open(cls, config_dir: str | os.PathLike[str] | None = None) -> GrantStore:
        """A store for ``config_dir`` (default: ``default_config_dir()``). Raises GrantsCorrupt at once
        if the file is unreadable, so a host reports a broken file when it starts, not at the first call."""
        store = cls(Path(config_dir) if config_dir is not None else default_config_dir())
        store._load()
        return store

    @classmethod
    def open_managed(cls, system_dir: str | os.PathLike[str] | None = None) -> GrantStore:
        """The managed store in ``system_dir`` (default: ``system_config_dir()``); GrantsCorrupt as open()."""
        store = cls(Path(system_dir) if system_dir is not None else system_config_dir(), managed=True)
        store._load()
        return store

    # -- reading --------------------------------------------------------------------------------------
    def all(self) -> dict[str, list[str]]:
        """Every granted origin and its rules (canonical form), origins sorted."""
        return self._load()

    def rules_for(self, origin: str) -> list[str]:
        """The rules granted to ``origin`` (normalized first); [] when it has none."""
        return list(self._load().get(normalize_origin(origin), []))

    def locked(self) -> bool:
        """The file says ``"locked": true`` (meaningful in the managed file: user grants are ignored)."""
        return self._read()[1]

    def set_locked(self, locked: bool) -> bool:
        """Set ``locked``; returns whether it changed. Only the managed store has a lock to set."""
        if not self.managed:
            raise ValueError("only the managed (system) grants can be locked")
        with self._locked():
            grants, was = self._read()
            if was == locked:
                return False
            self._write(grants, locked)
        return True

    # -- changing -------------------------------------------------------------------------------------
    def grant(self, origin: str, rules: Iterable[str], *, replace: bool = False) -> list[str]:
        """Add ``rules`` to ``origin``'s grant (or set them, with ``replace``); returns its rules after.

        Every rule is checked first: if any is invalid, InvalidRules lists them and nothing is written.
        """
        key = normalize_origin(origin)
        parsed = _parse_rules(list(rules))
        if not parsed:
            raise ValueError("no rules given")
        with self._locked():
            grants, locked = self._read()
            current = [] if replace else grants.get(key, [])
            merged = list(dict.fromkeys([*current, *parsed]))
            grants[key] = merged
            self._write(grants, locked)
        return merged

    def revoke(self, origin: str) -> bool:
        """Remove every rule of ``origin``; False (and nothing written) if it had none."""
        key = normalize_origin(origin)
        with self._locked():
            grants, locked = self._read()
            if key not in grants:
                return False
            del grants[key]
            self._write(grants, locked)
        return True

    # -- file -----------------------------------------------------------------------------------------
    def _load(self) -> dict[str, list[str]]:
        return self._read()[0]

    def _read(self) -> tuple[dict[str, list[str]], bool]:
        try:
            with open(self.path, "rb") as f:
                if self.managed:
                    check_admin_owned(self.path, os.fstat(f.fileno()))
                raw = f.read()
        except FileNotFoundError:
            return {}, False
        except IsADirectoryError:
            raise GrantsCorrupt(self.path, "is a directory, not a file") from None
        except PermissionError:
            if not self.managed:
                raise
            # Every user's host reads the managed file: one only root can read must say so, not fail oddly.
            raise GrantsCorrupt(self.path, f"cannot be read by this user: managed grants must be readable by "
                                           f"every user (chmod 644 {self.path})") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise GrantsCorrupt(self.path, f"not valid JSON ({exc})") from None
        grants = _check_shape(self.path, data)
        locked = data.get("locked", False)
        if not isinstance(locked, bool):
            raise GrantsCorrupt(self.path, f"\"locked\" must be true or false, found {locked!r}")
        return grants, locked

    def _write(self, grants: dict[str, list[str]], locked: bool = False) -> None:
        body: dict[str, Any] = {"version": FORMAT_VERSION}
        if locked:
            body["locked"] = True
        body["origins"] = {origin: grants[origin] for origin in sorted(grants)}
        # The managed file must be readable by every user's host; the user's stays the user's (mkstemp: 0600).
        write_atomically(self.path, (json.dumps(body, indent=2) + "\n").encode("utf-8"),
                         mode=0o644 if self.managed else None)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # 0o700: grants decide what web pages may reach on this machine; other users have no business here.
        # The managed dir is 0o755: every user's host reads it, only its owner (root) writes it.
        self.config_dir.mkdir(mode=0o755 if self.managed else 0o700, parents=True, exist_ok=True)
        with open(self._lock_path, "a+b") as lock_file:
            _lock(lock_file)
            try:
                yield
            finally:
                _unlock(lock_file)


class Grants:
    """What a host applies: the managed layer merged with the user's (module docstring).

    Reading only, plus ``revoke`` of the user's layer (the options page): the managed layer is changed
    with `resocket grant --scope system` alone.
    """

    def __init__(self, user: GrantStore, managed: GrantStore) -> None:
        self.user = user
        self.managed = managed

    @classmethod
    def open(cls, config_dir: str | os.PathLike[str] | None = None,
             system_dir: str | os.PathLike[str] | None = None) -> Grants:
        """Both layers; GrantsCorrupt names the file (either one) that cannot be used."""
        return cls(GrantStore.open(config_dir), GrantStore.open_managed(system_dir))

    def locked(self) -> bool:
        return self.managed.locked()

    def layers(self) -> tuple[dict[str, list[str]], dict[str, list[str]], bool]:
        """(managed grants, user grants, locked), each file read once."""
        managed, locked = self.managed._read()
        return managed, self.user.all(), locked

    def all(self) -> dict[str, list[str]]:
        """Every origin and the rules it gets: managed first, then the user's unless locked; sorted."""
        managed, user, locked = self.layers()
        merged = {origin: list(rules) for origin, rules in managed.items()}
        if not locked:
            for origin, rules in user.items():
                merged[origin] = list(dict.fromkeys([*merged.get(origin, []), *rules]))
        return dict(sorted(merged.items()))

    def rules_for(self, origin: str) -> list[str]:
        """The rules ``origin`` gets (normalized first); [] when it has none."""
        return self.all().get(normalize_origin(origin), [])

    def sources(self) -> dict[str, list[dict[str, Any]]]:
        """Per origin, each rule with where it comes from: ``{"rule", "source": "managed"|"user"}``, and
        ``"ignored": true`` on the user's rules while the managed set is locked. A user rule that is also
        managed is listed once, as managed (that is what grants it)."""
        managed, user, locked = self.layers()
        out: dict[str, list[dict[str, Any]]] = {}
        for origin in sorted({*managed, *user}):
            mine = managed.get(origin, [])
            entries: list[dict[str, Any]] = [{"rule": rule, "source": MANAGED} for rule in mine]
            for rule in user.get(origin, []):
                if rule not in mine:
                    entries.append({"rule": rule, "source": USER, **({"ignored": True} if locked else {})})
            out[origin] = entries
        return out

    def revoke(self, origin: str) -> bool:
        """Remove the user's rules of ``origin`` (never managed ones); False if the user had none."""
        return self.user.revoke(origin)


def write_atomically(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data``: a temp file in the same dir, fsync, ``os.replace``, fsync the dir.
    ``mode`` (POSIX) is set before the data is written; otherwise the file is mkstemp's 0600."""
    import tempfile  # here, not at the top: resocket-host reads the grants at every start, writes them rarely

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def check_admin_owned(path: Path, st: os.stat_result) -> None:
    """Refuse a managed file that someone other than the administrator could have written."""
    if os.name != "posix":
        return  # Windows: %ProgramData%\resocket's ACL decides (docs/deploy.md)
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise GrantsCorrupt(path, f"is writable by other users (mode {stat.S_IMODE(st.st_mode):04o}), so it "
                                  f"is not the administrator's: fix it with chmod go-w {path}")
    if st.st_uid not in (0, os.geteuid()):
        raise GrantsCorrupt(path, f"belongs to uid {st.st_uid}, not to root: managed grants are ignored "
                                  f"until root owns the file (chown root {path})")
    folder = os.stat(path.parent)
    if folder.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or folder.st_uid not in (0, os.geteuid()):
        raise GrantsCorrupt(path, f"its folder {path.parent} can be written by users other than root, who "
                                  f"could replace the file: fix it with chown root {path.parent} && "
                                  f"chmod 755 {path.parent}")


def _parse_rules(rules: list[str]) -> list[str]:
    canonical: list[str] = []
    invalid: list[tuple[str, str]] = []
    for text in rules:
        try:
            canonical.append(str(PermissionRule.parse(text)))
        except InvalidRule as exc:
            invalid.append((text, str(exc)))
    if invalid:
        raise InvalidRules(invalid)
    return list(dict.fromkeys(canonical))


def _check_shape(path: Path, data: Any) -> dict[str, list[str]]:
    if not isinstance(data, dict):
        raise GrantsCorrupt(path, f"expected a JSON object, found {type(data).__name__}")
    version = data.get("version")
    if version != FORMAT_VERSION:
        if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
            raise GrantsCorrupt(path, f"written by a newer resocket (format version {version}; this one reads "
                                      f"{FORMAT_VERSION}): upgrade resocket")
        raise GrantsCorrupt(path, f"\"version\" must be {FORMAT_VERSION}, found {version!r}")
    origins = data.get("origins")
    if not isinstance(origins, dict):
        raise GrantsCorrupt(path, f"\"origins\" must be an object, found {type(origins).__name__}")
    grants: dict[str, list[str]] = {}
    for origin, rules in origins.items():
        try:
            normalized = normalize_origin(origin)
        except ValueError as exc:
            raise GrantsCorrupt(path, f"bad origin key: {exc}") from None
        if not isinstance(rules, list):
            raise GrantsCorrupt(path, f"rules of {origin} must be a list, found {type(rules).__name__}")
        try:
            parsed = _parse_rules(rules)
        except InvalidRules as exc:
            raise GrantsCorrupt(path, f"{origin}: {exc}") from None
        # A hand-edited key such as "HTTPS://Example.com" joins its canonical form instead of being lost.
        grants[normalized] = list(dict.fromkeys([*grants.get(normalized, []), *parsed]))
    return dict(sorted(grants.items()))


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX); Windows cannot open a directory for fsync."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on directories; the data itself is already synced
    finally:
        os.close(fd)


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(f: Any) -> None:
        f.seek(0)
        # LK_LOCK retries for 10 s, then raises; loop so a long-held lock just waits.
        while True:
            try:
                msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)
                return
            except OSError:
                continue

    def _unlock(f: Any) -> None:
        f.seek(0)
        msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(f: Any) -> None:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)

    def _unlock(f: Any) -> None:
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
