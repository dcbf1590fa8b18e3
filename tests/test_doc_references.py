"""Every test, scenario and test file the docs cite as proof exists under that name, and every module of
the package they name (`host/resocket/engine/tcp.py`, `engine/tcp.py`, `resocket.engine.tcp`) exists too.

docs/fidelity.md maps Chrome's behaviours to tests with short forms (`D:name` a scenario compared with Chrome,
`H:file::test` a host test, ...: its opening paragraph), and docs/SECURITY.md and the others cite
`tests/...py::test_name` (a following `::other` names another test of the same file) or a test file with the
quoted titles of its cases. A rename that leaves the docs behind makes them cite proof that no longer runs.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted((REPO / "docs").glob("*.md")) + [REPO / "README.md"]
SCENARIOS = REPO / "tests" / "e2e" / "scenarios"
PLACEHOLDERS = {"name", "file"}  # the forms explained in fidelity.md's opening paragraph

SHORT = re.compile(r"\b(?P<kind>[DNSEHF]):(?P<name>[a-z_]+\*?)(?:-(?:tcp|udp))?(?:::(?P<test>test_\w+))?")
PATH_OR_TEST = re.compile(r"(?P<path>tests/[\w/.-]+\.(?:py|js))(?:::(?P<test>test_\w+))?|(?<![\w/])::(?P<more>test_\w+)")
PACKAGE = REPO / "host" / "resocket"
LAYERS = "wire|chrome|engine|client|cli"
#: A module path of the package: from the repo (`host/resocket/...`), or from the package (`engine/tcp.py`).
MODULE_PATH = re.compile(rf"(?<![\w/.-])(?:host/resocket/)?(?P<path>(?:{LAYERS})/\w+\.py|host/resocket/\w+\.py)")
#: A dotted module name of the package (`resocket.engine.loop`); `org.resocket.host` is the host's name.
MODULE_NAME = re.compile(rf"(?<![\w.-])resocket\.(?P<name>(?:{LAYERS})\.\w+)\b")
JS_TITLE = re.compile(r'(?P<path>tests/extension/[\w.-]+\.js)`?:? (?P<titles>(?:"[^"]+"(?:, )?)+)')


def defines(path: Path, test: str) -> bool:
    return re.search(rf"^\s*(?:async )?def {re.escape(test)}\(", path.read_text(), re.MULTILINE) is not None


def citations(fidelity: str, docs: dict[str, str]) -> list[tuple[str, str]]:
    """(where, problem) for every citation that names nothing, given fidelity.md's text and every doc's
    (name -> text); empty when all resolve."""
    problems = []
    for m in SHORT.finditer(fidelity):
        kind, name, test = m["kind"], m["name"], m["test"]
        if name in PLACEHOLDERS:
            continue
        where = f"docs/fidelity.md: {m[0]}"
        if kind in "DNS":
            if not list(SCENARIOS.glob(f"{name}.js")):  # `D:errors_*`: every scenario of that prefix
                problems.append((where, f"no scenario tests/e2e/scenarios/{name}.js"))
            continue
        folder = {"E": "e2e", "H": "host", "F": "faults"}[kind]
        path = REPO / "tests" / folder / f"{name}.py"
        if not path.exists():
            problems.append((where, f"no file tests/{folder}/{name}.py"))
        elif test and not defines(path, test):
            problems.append((where, f"tests/{folder}/{name}.py has no {test}"))
    for doc, text in docs.items():
        for number, line in enumerate(text.splitlines(), 1):
            where = f"{doc}:{number}"
            for cell in line.split("|"):
                last = None
                for m in PATH_OR_TEST.finditer(cell):
                    if m["path"] and Path(m["path"]).stem in PLACEHOLDERS:
                        last = None  # `tests/e2e/scenarios/name.js`: the form, not a citation
                    elif m["path"]:
                        last = REPO / m["path"]
                        if not last.exists():
                            problems.append((where, f"no file {m['path']}"))
                            last = None
                        elif m["test"] and not defines(last, m["test"]):
                            problems.append((where, f"{m['path']} has no {m['test']}"))
                    elif last is not None and last.suffix == ".py" and not defines(last, m["more"]):
                        problems.append((where, f"{last.relative_to(REPO)} has no {m['more']}"))
                for m in JS_TITLE.finditer(cell):
                    path = REPO / m["path"]
                    if path.exists():
                        text = path.read_text().replace("\\'", "'")  # 'sender\'s' in the source
                        problems += [(where, f"{m['path']} has no case {t!r}")
                                     for t in re.findall(r'"([^"]+)"', m["titles"]) if t not in text]
    return problems


def module_problems(docs: dict[str, str]) -> list[tuple[str, str]]:
    """(where, problem) for every module path or dotted module name in the docs that names no module."""
    problems = []
    for doc, text in docs.items():
        for number, line in enumerate(text.splitlines(), 1):
            for m in MODULE_PATH.finditer(line):
                path = m["path"].removeprefix("host/resocket/")
                if not (PACKAGE / path).exists():
                    problems.append((f"{doc}:{number}", f"no module host/resocket/{path}"))
            for m in MODULE_NAME.finditer(line):
                base = PACKAGE.joinpath(*m["name"].split("."))
                if not (base.with_suffix(".py").exists() or (base / "__init__.py").exists()):
                    problems.append((f"{doc}:{number}", f"no module resocket.{m['name']}"))
    return problems


def test_the_docs_name_only_modules_that_exist() -> None:
    problems = module_problems({str(doc.relative_to(REPO)): doc.read_text() for doc in DOCS})
    assert not problems, "\n".join(f"{where}: {what}" for where, what in problems)


@pytest.mark.parametrize("text", ["`engine/no_such.py`", "`host/resocket/wire/gone.py`", "`resocket.wire.gone`",
                                  "`host/resocket/gone.py`"])
def test_a_module_that_is_not_there_is_reported(text: str) -> None:
    assert module_problems({"doc.md": f"| x | {text} |"})


def test_a_module_that_is_there_passes_and_the_host_name_is_no_module() -> None:
    assert not module_problems({"doc.md": "`engine/tcp.py`, `host/resocket/cli/crx.py`, `resocket.wire.protocol`, "
                                          "org.resocket.host, `host/resocket/grants.py`"})


def test_the_docs_cite_only_tests_and_scenarios_that_exist() -> None:
    problems = citations((REPO / "docs" / "fidelity.md").read_text(),
                         {str(doc.relative_to(REPO)): doc.read_text() for doc in DOCS})
    assert not problems, "\n".join(f"{where}: {what}" for where, what in problems)


@pytest.mark.parametrize("text,problem", [
    ("| x | D:no_such_scenario |", "no scenario"),
    ("| x | `tests/host/test_engine_tcp.py::test_no_such_test` |", "has no test_no_such_test"),
    ("| x | `tests/host/test_engine_tcp.py::test_ids_count_up_and_are_never_reused`, `::test_gone` |", "has no test_gone"),
    ("| x | `tests/host/no_such_file.py` |", "no file"),
    ('| x | `tests/extension/page.test.js`: "a case nobody wrote" |', "has no case"),
])
def test_a_citation_that_names_nothing_is_reported(text: str, problem: str) -> None:
    """The checker itself: each form of citation, naming something missing, is found."""
    found = citations(text, {"doc.md": text})
    assert any(problem in what for _, what in found), found
