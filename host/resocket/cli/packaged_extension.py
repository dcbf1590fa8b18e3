"""The resocket extension as an installed resocket carries it: where it is, and which files ship.

Design rules:
- Rule 1: `extension/` in the source tree is the only copy anyone edits. Builds copy it: setup.py into the
  wheel (`resocket/data/extension/`), installer/resocket.spec into the PyInstaller bundle (the same place
  under `_internal/`), installer/build.py into the `.deb` (/usr/share/resocket/extension) and tarball.
- Rule 2: every build ships the same files, chosen by `shipped_files` alone: never dotfiles (.git) or
  private keys someone left in the folder (`*.pem`), which would hand out the extension's identity.
- Rule 3: `find()` answers with a folder that exists and holds a manifest, resolved through symlinks (the
  `.deb` and tarball link the bundle's copy to the one they show users), so Load unpacked gets a real path.
  An editable or checkout install has no copy: it answers the checkout's `extension/`.
- Rule 4: stdlib only, so setup.py and the PyInstaller spec can import it at build time.
"""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # host/resocket/ (this module is in cli/)
#: Inside the package: resocket/data/extension (a wheel's site-packages, a bundle's _internal/).
PACKAGED = _PACKAGE / "data" / "extension"
#: A source checkout: host/resocket/ -> extension/.
CHECKOUT = _PACKAGE.parent.parent / "extension"


class ExtensionMissing(RuntimeError):
    """No extension folder comes with this resocket; the message says where it looked."""


def is_private(name: str) -> bool:
    """Never shipped (Rule 2): dotfiles, private keys, bytecode caches."""
    return name.startswith(".") or name.lower().endswith(".pem") or name == "__pycache__"


def shipped_files(source: Path) -> list[Path]:
    """The files of `source` that a build ships, relative to it, sorted."""
    found = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if path.is_file() and not any(is_private(part) for part in rel.parts):
            found.append(rel)
    return found


def find() -> Path:
    """The unpacked extension folder of this install (Rule 3)."""
    for folder in (PACKAGED, CHECKOUT):
        if (folder / "manifest.json").is_file():
            return folder.resolve()
    raise ExtensionMissing(f"no resocket extension comes with this resocket (looked in {PACKAGED} and "
                           f"{CHECKOUT}); reinstall resocket, or load extension/ of a resocket source checkout")
