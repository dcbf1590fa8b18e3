"""`bench/run.py --smoke` runs every section and writes JSON with numbers in every section.

No timing assertions: benchmarks report, they never judge. This only proves the benchmark suite still runs
against the current host, extension and browser, so `make bench` does not rot between full runs.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SECTIONS = ("host", "browser", "scale", "startup")


@pytest.mark.timeout(240)
def test_smoke_run_reports_every_section_with_numbers_and_baselines(tmp_path: Path) -> None:
    pytest.importorskip("websockify", reason="the bench extra is not installed: pip install -e '.[bench]'")
    chromium = os.environ.get("RESOCKET_CHROMIUM", "/usr/lib/chromium/chromium")
    if not os.path.exists(chromium):
        pytest.skip(f"{chromium} missing: the browser section needs Debian's chromium")
    # Own process group: on a hang, the browser, hosts, websockify and echo servers go down with it.
    proc = subprocess.Popen([sys.executable, str(REPO / "bench" / "run.py"), "--smoke", "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=200)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"bench/run.py --smoke did not finish within 200 s; its progress:\n{stderr[-3000:]}")
    assert proc.returncode == 0, stdout + stderr
    latest = json.loads((tmp_path / "latest.json").read_text())
    assert latest["smoke"] is True and latest["errors"] == {}
    assert set(SECTIONS) <= set(latest["sections"])
    # Hosts start from bytecode, as installed ones do (not from source compiled at every spawn).
    assert latest["machine"]["bytecode"].startswith("compiled "), latest["machine"]
    for name in SECTIONS:
        measured = [row for row in latest["sections"][name] if row["value"] is not None]
        assert measured, f"section {name} has no measured figure: {latest['sections'][name]}"
        for row in measured:
            assert isinstance(row["value"], (int, float)) and row["value"] > 0, row
            assert isinstance(row["baseline_value"], (int, float)) and row["baseline_value"] > 0, row
            assert row["ratio"] == pytest.approx(row["value"] / row["baseline_value"]), row
    # The table on stdout names every section's figures next to their baselines.
    for name in SECTIONS:
        assert f"\n{name} " in stdout
    dated = [p for p in tmp_path.glob("*.json") if p.name != "latest.json"]
    assert len(dated) == 1 and json.loads(dated[0].read_text()) == latest
