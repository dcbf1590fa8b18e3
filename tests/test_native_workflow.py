"""The Windows/macOS workflow (.github/workflows/native.yml) cannot run here; this keeps it honest: every
test file it names exists, and none of them needs what only Linux CI has (the network namespace,
Chromium, the e2e harness)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github/workflows/native.yml"
#: Modules only the Linux CI machine has or can use: the e2e harness (Chromium), the private-machine and
#: network-namespace helpers, POSIX-only standard modules.
LINUX_ONLY = ("tests.e2e", "tests.support.machine", "fcntl", "termios", "pwd", "grp", "resource")


def named_tests() -> list[str]:
    return re.findall(r"^\s+(tests/\S+\.py)$", WORKFLOW.read_text(), flags=re.MULTILINE)


def test_the_workflow_names_test_files_that_exist() -> None:
    names = named_tests()
    assert len(names) >= 5, names
    assert [n for n in names if not (REPO / n).is_file()] == []


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_named_tests_and_their_conftests_import_nothing_linux_only() -> None:
    found: dict[str, set[str]] = {}
    for name in named_tests():
        path = REPO / name
        files = [path] + [d / "conftest.py" for d in path.parents if REPO in d.parents or d == REPO]
        for file in (f for f in files if f.is_file()):
            bad = {m for m in imported(file) if any(m == x or m.startswith(x + ".") for x in LINUX_ONLY)}
            if bad:
                found[str(file.relative_to(REPO))] = bad
    assert found == {}


def test_the_self_test_uses_the_files_it_names() -> None:
    text = WORKFLOW.read_text()
    for path in ("debug/hello.bin", "debug/read_replies.py", "installer/build.py", ".github/scripts/secure_check.py"):
        assert path in text and (REPO / path).is_file(), path
