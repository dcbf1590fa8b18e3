"""Socket permission grants per origin, kept in ``grants.json`` in the user's config dir.

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

File format (version 1)::

    {"version": 1, "origins": {"https://example.com": ["tcp-connect:localhost:8080"]}}

Exceptions: ``GrantsCorrupt(Exception)`` for the file; ``InvalidRules(ValueError)`` for rules given to
``grant``; ``ValueError`` from ``normalize_origin`` for an origin that is not one.
"""
from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from resocket.chrome.permissions import InvalidRule, PermissionRule

FORMAT_VERSION = 1
GRANTS_FILE = "grants.json"
LOCK_FILE = "grants.json.lock"
CONFIG_DIR_ENV = "RESOCKET_CONFIG_DIR"

# Chrome extension ids are 32 characters a..p (the hex of a SHA-256 prefix, digits mapped to a..p).
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
        match = _EXTENSION_ORIGIN.fullmatch(lowered)
        if not match:
            raise ValueError(
                f"origin {text!r} is not chrome-extension://<id>/ with a 32-letter extension id (letters a-p) "
                "and nothing after the '/'")
        return f"chrome-extension://{match.group(1)}/"
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
    """Grants in one config dir. Cheap to create; every call reads the file anew."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir
        self.path = config_dir / GRANTS_FILE
        self._lock_path = config_dir / LOCK_FILE

    @classmethod
    def open(cls, config_dir: str | os.PathLike[str] | None = None) -> GrantStore:
        """A store for ``config_dir`` (default: ``default_config_dir()``). Raises GrantsCorrupt at once
        if the file is unreadable, so a host reports a broken file when it starts, not at the first call."""
        store = cls(Path(config_dir) if config_dir is not None else default_config_dir())
        store._load()
        return store

    # -- reading --------------------------------------------------------------------------------------
    def all(self) -> dict[str, list[str]]:
        """Every granted origin and its rules (canonical form), origins sorted."""
        return self._load()

    def rules_for(self, origin: str) -> list[str]:
        """The rules granted to ``origin`` (normalized first); [] when it has none."""
        return list(self._load().get(normalize_origin(origin), []))

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
            grants = self._load()
            current = [] if replace else grants.get(key, [])
            merged = list(dict.fromkeys([*current, *parsed]))
            grants[key] = merged
            self._write(grants)
        return merged

    def revoke(self, origin: str) -> bool:
        """Remove every rule of ``origin``; False (and nothing written) if it had none."""
        key = normalize_origin(origin)
        with self._locked():
            grants = self._load()
            if key not in grants:
                return False
            del grants[key]
            self._write(grants)
        return True

    # -- file -----------------------------------------------------------------------------------------
    def _load(self) -> dict[str, list[str]]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except IsADirectoryError:
            raise GrantsCorrupt(self.path, "is a directory, not a file") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise GrantsCorrupt(self.path, f"not valid JSON ({exc})") from None
        return _check_shape(self.path, data)

    def _write(self, grants: dict[str, list[str]]) -> None:
        body = {"version": FORMAT_VERSION, "origins": {origin: grants[origin] for origin in sorted(grants)}}
        data = (json.dumps(body, indent=2) + "\n").encode("utf-8")
        import tempfile  # here, not at the top: resocket-host reads the grants at every start, writes them rarely

        fd, tmp = tempfile.mkstemp(dir=self.config_dir, prefix=".grants.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(self.config_dir)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # 0o700: grants decide what web pages may reach on this machine; other users have no business here.
        self.config_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self._lock_path, "a+b") as lock_file:
            _lock(lock_file)
            try:
                yield
            finally:
                _unlock(lock_file)


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
