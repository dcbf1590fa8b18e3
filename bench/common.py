"""Shared pieces of the benchmarks: result rows with their same-run baselines, statistics, a lean
native-messaging client over pipes.

Every figure is reported next to a baseline measured in the same run, as a ratio (value / baseline).
`better` says which direction is good, so the table can say whether resocket is ahead; nothing here asserts
on time.
"""
from __future__ import annotations

import json
import os
import statistics
import struct
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from bench.nmframes import read_frames

REPO = Path(__file__).resolve().parent.parent
HEADER = struct.Struct("=I")
BENCH_ORIGIN = "chrome-extension://benchbenchbenchbenchbenchbenchbe/"


@dataclass
class Row:
    """One measured figure and the baseline it is read against."""

    section: str
    name: str
    value: float | None
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    better: str = "higher"  # or "lower"
    target: str = ""
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline_value:
            return None
        return self.value / self.baseline_value

    def to_json(self) -> dict:
        d = asdict(self)
        d["ratio"] = self.ratio
        return d


def median(values: list[float]) -> float:
    return statistics.median(values)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class TreeCpu:
    """CPU time of whole process trees: what a contender costs the machine, not only how fast it went.

    `seconds()` sums user + system time of every live process under the given roots (found through their
    parent pid in /proc) plus what their exited, reaped children used (cutime + cstime): a native host or a
    websockify worker that exits between two readings still counts, and nothing counts twice. Linux only:
    elsewhere `seconds()` is None.
    """

    def __init__(self, *roots: int) -> None:
        self.roots = set(roots)
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def seconds(self) -> float | None:
        if not os.path.isdir("/proc/self/task"):
            return None
        parent: dict[int, int] = {}
        ticks: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:  # exited between the listing and the read
                continue
            fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state, ppid, ... utime at [11]
            parent[int(entry)] = int(fields[1])
            ticks[int(entry)] = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        total = 0
        for pid, t in ticks.items():
            seen = pid
            for _ in range(64):  # depth bound: a pid cycle (reuse mid-listing) cannot loop forever
                if seen in self.roots:
                    total += t
                    break
                seen = parent.get(seen, 0)
                if seen <= 1:
                    break
        return total / self.hz


def shown(path: str | Path) -> str:
    """`path` as a result file records it: relative to the repository when inside it, so a committed run
    names no machine's directories."""
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def venv_bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def grant_config(root: Path, origin: str, rules: list[str]) -> dict[str, str]:
    """A private grants dir for `origin`; returns the environment the host needs to find it."""
    sys.path.insert(0, str(REPO / "host"))
    from resocket.grants import GrantStore

    config = root / "config"
    config.mkdir(parents=True, exist_ok=True)
    GrantStore.open(config).grant(origin, rules)
    return {"RESOCKET_CONFIG_DIR": str(config), "RESOCKET_LOG": "WARNING"}


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (Linux /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class PipeHost:
    """A native-messaging peer over pipes, as lean as possible so the host is what gets measured.

    `on_message(msg)` runs on the reader thread for every frame (chunks included); `send_raw` is
    thread-safe. Frames are built by the caller (see `frame`).
    """

    def __init__(self, cmd: list[str], env: dict[str, str] | None = None,
                 on_message: Callable[[Any], None] | None = None, parse: bool = True,
                 stderr: Any = subprocess.DEVNULL) -> None:
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.t_spawn = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=stderr, env=full_env, bufsize=0)
        self.on_message = on_message or (lambda msg: None)
        self.parse = parse
        self._wlock = threading.Lock()
        self._win = self.proc.stdin.fileno()  # type: ignore[union-attr]
        self._rout = self.proc.stdout.fileno()  # type: ignore[union-attr]
        self.closed = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    def send_raw(self, data: bytes) -> None:
        with self._wlock:
            view = memoryview(data)
            while view:
                view = view[os.write(self._win, view):]

    def send(self, obj: Any) -> None:
        self.send_raw(frame(json.dumps(obj, separators=(",", ":")).encode()))

    def _read_loop(self) -> None:
        try:
            for body in read_frames(self._rout):
                self.on_message(json.loads(body) if self.parse else body)
        finally:
            self.closed.set()

    def close(self) -> None:
        # Close through the file objects (not os.close): they would close the fd numbers again when
        # collected, by then possibly another pipe's.
        with self._wlock:
            try:
                self.proc.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)
        if not self._reader.is_alive():
            self.proc.stdout.close()  # type: ignore[union-attr]


def frame(body: bytes) -> bytes:
    return HEADER.pack(len(body)) + body


class Rpc:
    """Request/reply on top of PipeHost for the set-up calls (hello, create, connect): blocking, by id."""

    def __init__(self, host_cmd: list[str], env: dict[str, str]) -> None:
        self._cv = threading.Condition()
        self._replies: dict[int, Any] = {}
        self._next = 1
        self.hook: Callable[[Any], bool] | None = None  # returns True when it consumed the message
        # BENCH_HOST_STDERR=<file>: keep the host's log (set RESOCKET_LOG too) when a bench misbehaves.
        log = os.environ.get("BENCH_HOST_STDERR")
        self._log = open(log, "ab") if log else None  # noqa: SIM115 - lives as long as the host
        self.pipe = PipeHost(host_cmd, env, self._on_message, stderr=self._log or subprocess.DEVNULL)

    def _on_message(self, msg: Any) -> None:
        hook = self.hook
        if hook is not None and hook(msg):
            return
        with self._cv:
            self._replies[msg.get("id")] = msg
            self._cv.notify_all()

    def new_id(self) -> int:
        with self._cv:
            rid = self._next
            self._next += 1
            return rid

    def start(self, op: str, **args: Any) -> int:
        rid = self.new_id()
        self.pipe.send({"id": rid, "op": op, "args": args})
        return rid

    def wait(self, rid: int, timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        with self._cv:
            while rid not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self.pipe.closed.is_set():
                    raise TimeoutError(f"no reply to request {rid}")
                self._cv.wait(min(left, 0.5))
            return self._replies.pop(rid)

    def call(self, op: str, timeout: float = 30, **args: Any) -> Any:
        return self.wait(self.start(op, **args), timeout)

    def close(self) -> None:
        self.pipe.close()
        if self._log:
            self._log.close()


def host_cmd() -> list[str]:
    """This checkout's host, as Chrome would start it (the console script of the venv).

    BENCH_HOST_WRAP (e.g. "py-spy record -f raw -o /tmp/host.txt --") is put in front, for profiling.
    """
    wrap = os.environ.get("BENCH_HOST_WRAP", "").split()
    return [*wrap, venv_bin("resocket-host"), BENCH_ORIGIN]
