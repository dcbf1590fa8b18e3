"""Run resocket's benchmarks: a table on stdout, JSON in bench/runs/<date>-<host>.json and latest.json.

    python bench/run.py [--smoke] [--only host,browser,scale,startup] [--out DIR]

Runs go to bench/runs/, which git ignores: a run is a measurement, not source. bench/results/ holds the one
reference run per machine kind that docs/performance.md quotes (bench/results/README.md says how to replace it).

Every figure stands next to a baseline measured in the same run, with the ratio value/baseline. The
browser section needs Debian's Chromium and runs it; run the whole thing inside the private network
namespace (tests/netns.sh), as `make bench` does. Benchmarks report; they never assert on time.
A section that cannot run (no Chromium, no PyInstaller bundle) reports rows with a note instead of numbers.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Row, shown

SECTIONS = ("host", "browser", "scale", "startup")


def _module(name: str) -> Any:
    import importlib

    return importlib.import_module({"host": "bench.host_level", "browser": "bench.browser_level",
                                    "scale": "bench.scale", "startup": "bench.startup"}[name])


def compile_package() -> str:
    """Byte-compile the resocket package the hosts will import, as `pip install .` does at install time.

    An editable install (`make venv`) compiles its sources on first import and caches the bytecode, unless
    PYTHONDONTWRITEBYTECODE is set (as on the machines this project is built on): then every host the bench
    spawns would compile ~9,000 lines again, ~30 ms that no installed host pays, and the start-up rows would
    measure the compiler. Returns what was done, for the result file."""
    import compileall

    import resocket

    where = os.path.dirname(resocket.__file__)
    # A read-only install (compiled when it was installed) makes compile_dir report failure, not raise.
    ok = compileall.compile_dir(where, quiet=2, workers=1)
    return f"compiled {shown(where)}" if ok else f"not compiled: {shown(where)} (read-only, or a file does not compile)"


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def table(rows: list[Row]) -> str:
    head = ("section", "figure", "value", "unit", "baseline (same run)", "baseline", "ratio", "target")
    lines = [head]
    for r in rows:
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}x" + (" (lower is better)" if r.better == "lower" else "")
        lines.append((r.section, r.name, _fmt(r.value), r.unit, r.baseline, _fmt(r.baseline_value), ratio,
                      r.target))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    notes = [f"  [{r.section}] {r.name}: {r.note}" for r in rows if r.note]
    if notes:
        out.append("")
        out.append("notes:")
        out += notes
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that every bench runs (CI)")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "runs",
                        help="where the JSON goes (default bench/runs/, git-ignored)")
    args = parser.parse_args(argv)
    from bench.echoserver import raise_fd_limit

    raise_fd_limit()
    bytecode = compile_package()
    started = time.time()
    load_before = os.getloadavg()
    rows: list[Row] = []
    errors: dict[str, str] = {}
    retried: dict[str, str] = {}
    for name in [s.strip() for s in args.only.split(",") if s.strip()]:
        if name not in SECTIONS:
            parser.error(f"unknown section {name!r} (choose from {', '.join(SECTIONS)})")
        t0 = time.monotonic()
        print(f"== {name} ...", file=sys.stderr, flush=True)
        for attempt in (1, 2):
            try:
                rows += _module(name).run(args.smoke)
                break
            except Exception as exc:  # noqa: BLE001 - one broken section must not hide the others' numbers
                traceback.print_exc()
                problem = f"{type(exc).__name__}: {exc}"
                if attempt == 1:
                    # A loaded 2-core machine can push Chromium past a harness timeout: try once more, say so.
                    retried[name] = problem
                    print(f"== {name} failed ({problem}); trying once more", file=sys.stderr, flush=True)
                    continue
                errors[name] = problem
                rows.append(Row(name, "section failed", None, "", note=problem))
        print(f"== {name} done in {time.monotonic() - t0:.1f}s", file=sys.stderr, flush=True)
    print(table(rows))
    print(f"\nload average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs: "
          "figures move with load; the ratios against same-run baselines move less.")
    stamp = datetime.datetime.now(datetime.timezone.utc)
    result = {
        "date": stamp.isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "smoke": args.smoke,
        # Load average before and after: other work on a 2-core machine moves every figure (read the ratios).
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "loadavg_before": load_before, "loadavg_after": os.getloadavg(), "bytecode": bytecode},
        "duration_s": round(time.time() - started, 1),
        "sections": {name: [r.to_json() for r in rows if r.section == name]
                     for name in dict.fromkeys(r.section for r in rows)},
        "errors": errors,
        "retried": retried,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2)
    path = args.out / f"{stamp:%Y%m%d-%H%M%S}-{socket.gethostname()}{'-smoke' if args.smoke else ''}.json"
    path.write_text(text)
    (args.out / "latest.json").write_text(text)
    print(f"\nresults: {path}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
