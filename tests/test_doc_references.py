"""Every test, scenario and test file the docs cite as proof exists under that name, every module of the
package they name (`host/resocket/engine/tcp.py`, `engine/tcp.py`, `resocket.engine.tcp`) exists too, and what
the repo cites is in it.

docs/fidelity.md maps Chrome's behaviours to tests with short forms (`D:name` a scenario compared with Chrome,
`H:file::test` a host test, ...: its opening paragraph), and docs/SECURITY.md and the others cite
`tests/...py::test_name` (a following `::other` names another test of the same file) or a test file with the
quoted titles of its cases. A rename that leaves the docs behind makes them cite proof that no longer runs. Comments and docs cite Chrome's
behaviour as docs/chrome-behaviour.md sections, never notes kept outside the repository, which a clone cannot
follow (the names of the ones that once were cited are in OUTSIDE_NOTES).
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted((REPO / "docs").glob("*.md")) + [REPO / "README.md"]
SCENARIOS = REPO / "tests" / "e2e" / "scenarios"
PLACEHOLDERS = {"name", "file"}  # the forms explained in fidelity.md's opening paragraph

# Notes about Chrome that were never part of the repository; their facts are in docs/chrome-behaviour.md.
OUTSIDE_NOTES = re.compile(r"(?:chrome-socket-semantics|chrome-apps-oracle|e2e-chromium|native-messaging-hosts"
                           r"|enterprise-policy-linux|direct-sockets-iwa|file-system-access)\.md"
                           r"|socket-api\.txt|\.\./shared/|\breference/[\w.-]+\.md")
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


def test_bench_results_keep_one_cited_reference_run_per_machine_kind() -> None:
    """bench/results/ is not a lab notebook: each file there is a full run the docs quote, one per machine
    kind (the host part of `<date>-<host>.json`); every other run stays in the git-ignored bench/runs/."""
    docs = "\n".join(doc.read_text() for doc in DOCS)
    kept = sorted((REPO / "bench" / "results").glob("*.json"))
    assert kept, "bench/results/ holds no reference run for docs/performance.md to quote"
    kinds = [re.sub(r"^\d{8}-\d{6}-", "", p.stem) for p in kept]
    assert len(set(kinds)) == len(kinds), f"more than one reference run per machine kind: {kept}"
    for path in kept:
        assert f"bench/results/{path.name}" in docs, f"no doc cites bench/results/{path.name}"
        assert json.loads(path.read_text())["smoke"] is False, f"{path.name} is a --smoke run"


def outside_citations(files: dict[str, str]) -> list[str]:
    """`path:line: citation` for every citation of a note outside the repository, given (path -> text)."""
    return [f"{path}:{number}: {m[0]}" for path, text in files.items()
            for number, line in enumerate(text.splitlines(), 1) for m in OUTSIDE_NOTES.finditer(line)]


def test_comments_and_docs_cite_only_what_is_in_the_repository() -> None:
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    files = {}
    for name in tracked.decode().split("\0"):
        path = REPO / name
        if not name or name == "tests/test_doc_references.py" or not path.is_file():
            continue
        try:
            files[name] = path.read_text()
        except UnicodeDecodeError:
            continue  # a binary file (the debug/ frames, images): no comments to cite anything
    assert len(files) > 100, "git ls-files listed too few files to prove anything"
    found = outside_citations(files)
    assert not found, "cite docs/chrome-behaviour.md (by section) instead of:\n" + "\n".join(found)


@pytest.mark.parametrize("line", [
    "# Chrome answers -4 (chrome-socket-semantics.md 2.5).",
    "// see chrome-apps-oracle.md",
    "(../shared/reference/e2e-chromium.md)",
    "the list in reference/direct-sockets-iwa.md",
    "#: the full API (chrome.socket-api.txt)",
])
def test_a_citation_of_an_outside_note_is_reported(line: str) -> None:
    found = outside_citations({"x.py": f"first\n{line}\n"})
    assert found and all(f.startswith("x.py:2: ") for f in found), found


def test_a_citation_of_the_in_repo_doc_is_not_reported() -> None:
    assert outside_citations({"x.py": "# (docs/chrome-behaviour.md 7.4); ~/.mozilla/native-messaging-hosts/x.json"}) == []


FIGURE = re.compile(r"(?<![\w.-])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?) ?(MB/s|ms|KiB|/s)\b")


def untraced_figures(section: str, run: dict) -> list[str]:
    """Figures with a unit in the tables of `section` that no value or baseline of `run` shows when rounded to
    the digits the doc prints."""
    measured = [number for rows in run["sections"].values() for row in rows
                for number in (row["value"], row["baseline_value"]) if isinstance(number, (int, float))]
    missing = []
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        for m in FIGURE.finditer(line):
            text = m[1].replace(",", "")
            shown = float(text)
            half_step = 0.5 * 10 ** -(len(text.partition(".")[2]))
            if not any(abs(number - shown) <= half_step * 1.0001 for number in measured):
                missing.append(f"{m[0]} in: {line[:80]}")
    return missing


def test_the_present_figures_of_performance_md_are_the_reference_runs() -> None:
    """docs/performance.md's "Where it stands" quotes one committed run, and every figure of its tables is one
    of that run's values or baselines, as printed (the History section's figures are of their own rounds)."""
    text = (REPO / "docs" / "performance.md").read_text()
    section = text.split("\n## Where it stands\n", 1)[1].split("\n## ", 1)[0]
    cited = re.findall(r"bench/results/([\w-]+\.json)", section)
    assert len(set(cited)) == 1, f"the present figures must come from one reference run, not {cited}"
    run = json.loads((REPO / "bench" / "results" / cited[0]).read_text())
    assert section.count("|") > 100, "the section lost its tables"
    missing = untraced_figures(section, run)
    assert not missing, "figures not in " + cited[0] + ":\n" + "\n".join(missing)


def test_a_figure_the_run_does_not_hold_is_reported() -> None:
    run = {"sections": {"browser": [{"value": 40.023, "baseline_value": 46.22}]}}
    assert untraced_figures("| x | 40.0 MB/s | 46.2 MB/s |", run) == []
    assert untraced_figures("| x | 40.1 MB/s | 46 ms |", run) == ["40.1 MB/s in: | x | 40.1 MB/s | 46 ms |"]
