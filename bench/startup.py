"""Section 4 (outside the browser): host spawn to first reply.

- script: this checkout's `resocket-host` console script, spawn -> `hello` reply.
- binary: the PyInstaller one-dir bundle's `resocket-host` (installer/build.py binaries), when one was built:
  $RESOCKET_BENCH_BUNDLE, else build/pyinstaller/dist/resocket/. Without one the row says so.
Baseline: the trivial echo host (bench/nm_echo.py, the same Python), spawn -> its first echo.
The browser half (`connectNative` to first result) is measured in browser_level.py.
"""
from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import BENCH_ORIGIN, REPO, PipeHost, Row, Rpc, grant_config, host_cmd, median, shown

SECTION = "startup"


def bundle_host() -> Path | None:
    candidates = [os.environ.get("RESOCKET_BENCH_BUNDLE", ""), str(REPO / "build" / "pyinstaller" / "dist" / "resocket")]
    for c in candidates:
        if c and (Path(c) / "resocket-host").exists():
            return Path(c) / "resocket-host"
    return None


def spawn_to_hello(cmd: list[str], env: dict[str, str]) -> float:
    rpc = Rpc(cmd, env)
    try:
        reply = rpc.call("hello", protocol=1, client="bench/1")
        elapsed = time.perf_counter() - rpc.pipe.t_spawn
        assert "result" in reply, reply
    finally:
        rpc.close()
    return elapsed


def spawn_to_echo() -> float:
    got = threading.Event()
    pipe = PipeHost([sys.executable, str(REPO / "bench" / "nm_echo.py")], on_message=lambda b: got.set(),
                    parse=False)
    try:
        pipe.send({"id": 1, "op": "hello", "args": {"protocol": 1, "client": "bench/1"}})
        if not got.wait(30):
            raise TimeoutError("echo host did not answer")
        return time.perf_counter() - pipe.t_spawn
    finally:
        pipe.close()


def run(smoke: bool) -> list[Row]:
    n = 3 if smoke else 15
    with tempfile.TemporaryDirectory() as tmp:
        env = grant_config(Path(tmp), BENCH_ORIGIN, ["tcp-connect:127.0.0.1:*"])
        base = median([spawn_to_echo() for _ in range(n)]) * 1e3
        script = median([spawn_to_hello(host_cmd(), env) for _ in range(n)]) * 1e3
        rows = [Row(SECTION, "host spawn to first reply (script)", script, "ms",
                    "trivial Python echo host, spawn to first echo", base, better="lower",
                    note=f"median of {n}")]
        binary = bundle_host()
        if binary is None:
            rows.append(Row(SECTION, "host spawn to first reply (PyInstaller bundle)", None, "ms",
                            "trivial Python echo host, spawn to first echo", base, better="lower",
                            note="skipped: no bundle built (python installer/build.py binaries, "
                                 "or set RESOCKET_BENCH_BUNDLE to a one-dir bundle)"))
        else:
            value = median([spawn_to_hello([str(binary), BENCH_ORIGIN], env) for _ in range(n)]) * 1e3
            rows.append(Row(SECTION, "host spawn to first reply (PyInstaller bundle)", value, "ms",
                            "trivial Python echo host, spawn to first echo", base, better="lower",
                            note=f"median of {n}; {shown(binary)}"))
    return rows
