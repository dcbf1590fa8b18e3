"""The keys `resocket convert-app` makes for apps that have none: one key per app, never one per name.

A converted app's extension ID is its key's, and the ID is its origin: its grants, its `chrome.storage`, its
entry in the host manifests. So two different apps must never share a key silently (two samples both named
"Hello World!" did, and the one that declared only UDP got the other's TCP grant), and a newer version of the
same app must keep its key (docs/convert-app.md, "The extension ID").

Design rules:
- A key is kept with a record of the app it was made for: its name, and every source (the absolute path of
  the folder, .zip or .crx) and every fingerprint (a hash of all its files) it was converted from.
- `choose(name, source, fingerprint)` looks at the records of that name only:
  none: a new key (a new app); a record holding this source or this fingerprint: its key (the same app,
  converted again, or a newer version from the same place); anything else is `Unsure`, and the caller asks
  the user or refuses, naming `--key` and `--new-key`: a name alone never decides.
- Nothing is written by `choose`: the caller calls `Choice.keep()` once the converted extension is written,
  so a refused or failed conversion leaves no key and no record behind.
- Files, in `<config dir>/app-keys/`: `<slug>-<id>.pem` (the private key, mode 0600, as `crx` writes it) and
  `<slug>-<id>.json` (the record: `{"version": 1, "name", "id", "key", "sources", "fingerprints"}`, `key` the PEM's
  path, which may be a `--key` file elsewhere). A key of resocket 0.1.0 (`<slug>-<hash of the name>.pem`, no
  record) is a candidate of unknown origin: it was made for whichever app first bore the name.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RECORD_VERSION = 1
KEYS_DIR = "app-keys"


def keys_dir() -> Path:
    from resocket.grants import default_config_dir

    return default_config_dir() / KEYS_DIR


def fingerprint(files: Mapping[str, bytes]) -> str:
    """The same for the same files however they were packed (folder, .zip, .crx), different for any change."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(hashlib.sha256(path.encode("utf-8")).digest() + hashlib.sha256(files[path]).digest())
    return "sha256:" + digest.hexdigest()


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "app"


def legacy_key_path(name: str) -> Path:
    """Where resocket 0.1.0 kept the one key of every app of this name."""
    return keys_dir() / f"{_slug(name)}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:8]}.pem"


@dataclass
class Record:
    """An app a key was made for (or, `legacy`, a 0.1.0 key known only by its name)."""

    name: str
    ext_id: str
    key: Path
    sources: list[str] = field(default_factory=list)
    fingerprints: list[str] = field(default_factory=list)
    path: Path | None = None  # the record's file; None for a legacy key or a record not written yet
    legacy: bool = False

    def describe(self) -> str:
        where = ", ".join(self.sources) if self.sources else "a source resocket did not record (an older resocket)"
        return f"ID {self.ext_id}, converted from {where}, key {self.key}"

    def as_json(self) -> dict[str, Any]:
        return {"version": RECORD_VERSION, "name": self.name, "id": self.ext_id, "key": str(self.key),
                "sources": self.sources, "fingerprints": self.fingerprints}


class KeyStoreError(Exception):
    """A record or key that cannot be read or written; the message names the file."""


def records(name: str) -> list[Record]:
    """The records of apps called exactly `name`, legacy key included, oldest file first."""
    found: list[Record] = []
    directory = keys_dir()
    claimed: set[Path] = set()
    for path in sorted(directory.glob("*.json"), key=lambda p: (p.stat().st_mtime, p.name)):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
                raise ValueError("not a resocket app key record of version 1")
            record = Record(str(data["name"]), str(data["id"]), Path(str(data["key"])),
                            [str(s) for s in data.get("sources", [])],
                            [str(f) for f in data.get("fingerprints", [])], path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(f"cannot read the app key record {path}: {exc}; fix or move it aside") from None
        claimed.add(record.key)
        if record.name == name:
            found.append(record)
    legacy = legacy_key_path(name)
    if legacy.is_file() and legacy not in claimed:
        found.insert(0, Record(name, _id_of_key(legacy), legacy, legacy=True))
    return found


def _id_of_key(path: Path) -> str:
    from resocket.cli import crx

    try:
        return crx.extension_id(crx.spki_from_pem_file(path))
    except crx.ExtensionKeyError as exc:
        raise KeyStoreError(str(exc)) from None


@dataclass
class Choice:
    """The key for one conversion, and what to remember once it is written."""

    spki: bytes
    note: str  # for the report: where the key is kept and why it was chosen
    record: Record
    new_key: Any = None  # a private key made for this conversion, written by keep()
    source: str = ""
    fingerprint: str = ""

    def keep(self) -> None:
        """Write the new key (if any) and the record with this source and fingerprint added."""
        from resocket.cli import crx

        record = self.record
        directory = keys_dir()
        directory.mkdir(parents=True, exist_ok=True)
        if self.new_key is not None:
            crx.write_private_key(record.key, self.new_key)
            self.new_key = None
        for value, known in ((self.source, record.sources), (self.fingerprint, record.fingerprints)):
            if value and value not in known:
                known.append(value)
        path = record.path or directory / f"{_slug(record.name)}-{record.ext_id}.json"
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(record.as_json(), indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)
        record.path, record.legacy = path, False


class Unsure(Exception):
    """Apps of this name were converted before and nothing says this is one of them."""

    def __init__(self, name: str, candidates: list[Record]) -> None:
        super().__init__(name)
        self.name, self.candidates = name, candidates


def choose(name: str, source: str, files: Mapping[str, bytes]) -> Choice:
    """The key of the app called `name` converted from `source` (an absolute path) with these files: a record
    that knows this source or these files, else a new key if no app of this name is recorded; raises Unsure."""
    print_ = fingerprint(files)
    candidates = records(name)
    for record in candidates:
        if source in record.sources or print_ in record.fingerprints:
            why = "same source" if source in record.sources else "same files"
            return Choice(_spki(record.key), f"key kept in {record.key} ({why} as before)", record,
                          source=source, fingerprint=print_)
    if candidates:
        raise Unsure(name, candidates)
    return new_key(name, source, files)


def new_key(name: str, source: str, files: Mapping[str, bytes]) -> Choice:
    """A new key of its own for this app (nothing written before `keep`)."""
    from resocket.cli import crx

    key = crx.generate_private_key()
    spki = crx.public_key_der(key)
    ext_id = crx.extension_id(spki)
    path = keys_dir() / f"{_slug(name)}-{ext_id}.pem"
    return Choice(spki, f"new key, kept in {path}", Record(name, ext_id, path), new_key=key, source=source,
                  fingerprint=fingerprint(files))


def given_key(name: str, key_file: str, source: str, files: Mapping[str, bytes]) -> Choice:
    """`--key PEM`: that key; the record of that key (found by the key's ID) learns this source, so the next
    conversion from here needs no --key."""
    from resocket.cli import crx

    path = Path(key_file).resolve()
    spki = crx.spki_from_pem_file(path)
    ext_id = crx.extension_id(spki)
    known = [r for r in records(name) if r.ext_id == ext_id]
    record = known[0] if known else Record(name, ext_id, path)
    return Choice(spki, f"key from {key_file}", record, source=source, fingerprint=fingerprint(files))


def choice_for(record: Record, source: str, files: Mapping[str, bytes]) -> Choice:
    """The user said this app is `record`'s app (a newer version of it)."""
    return Choice(_spki(record.key), f"key kept in {record.key} (you said it is the app converted before)",
                  record, source=source, fingerprint=fingerprint(files))


def _spki(path: Path) -> bytes:
    from resocket.cli import crx

    return crx.spki_from_pem_file(path)
