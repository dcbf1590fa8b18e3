"""One version for every part a user installs: the package metadata (pyproject), `resocket.__version__`,
the extension's manifest.json and the shim's SHIM_VERSION (sent in every hello), and CHANGELOG.md names it.

pyproject reads the version from `resocket/__init__.py` (the one source); the extension is loaded as it is
(no build step), so its two copies are written by hand and this test holds them to that source.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import resocket
import tomllib

REPO = Path(__file__).resolve().parents[1]


def pyproject_version() -> str:
    """The version setuptools gives the distribution: a static one, or the `attr` it reads statically."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    project = config["project"]
    if "version" in project:
        return project["version"]
    assert "version" in project.get("dynamic", []), "pyproject has neither a version nor a dynamic one"
    attr = config["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    module, _, name = attr.rpartition(".")
    source = REPO / "host" / Path(*module.split(".")) / "__init__.py"
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{attr} not found in {source}")


def shim_version() -> str:
    match = re.search(r"const SHIM_VERSION = '([^']+)';", (REPO / "extension" / "chrome-socket.js").read_text())
    assert match, "SHIM_VERSION not found in extension/chrome-socket.js"
    return match.group(1)


def test_package_extension_and_shim_share_one_version() -> None:
    manifest = json.loads((REPO / "extension" / "manifest.json").read_text())
    found = {
        "pyproject.toml": pyproject_version(),
        "extension/manifest.json": manifest["version"],
        "extension/chrome-socket.js SHIM_VERSION": shim_version(),
    }
    assert found == dict.fromkeys(found, resocket.__version__)


def test_pyproject_reads_the_version_from_the_package() -> None:
    # One source: a version written into pyproject as well would be a second place to forget.
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]


def test_changelog_has_an_entry_for_the_version() -> None:
    headings = re.findall(r"^## \[([^\]]+)\]", (REPO / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert headings[0] in ("Unreleased", resocket.__version__), headings
    assert resocket.__version__ in headings
