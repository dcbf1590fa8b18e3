"""bench.common.TreeCpu: the CPU-per-MiB figures of `make bench` read process trees from /proc.

Real processes: a parent whose child burns CPU and exits (its time reaches the parent as cutime, as a
native host's reaches Chromium's browser process), next to a busy process outside the tree.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from bench.common import TreeCpu

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass\n"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_counts_a_tree_with_its_exited_children_and_nothing_outside_it() -> None:
    # The parent starts a child that burns 0.4 s of CPU and exits, waits for it, then idles until told to end.
    parent_code = (
        "import subprocess, sys\n"
        f"subprocess.run([sys.executable, '-c', {BURN.format(s=0.4)!r}], check=True)\n"
        "print('child done', flush=True)\n"
        "sys.stdin.read()\n"
    )
    outsider = subprocess.Popen([sys.executable, "-c", BURN.format(s=1.0)])
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        meter = TreeCpu(parent.pid)
        assert parent.stdout is not None and parent.stdout.readline() == "child done\n"
        after = meter.seconds()
        assert after is not None
        # The child's 0.4 s reached the parent's cutime when it was reaped (plus the parent's own start-up);
        # the outsider's 1 s is not counted, neither now nor once it has ended.
        assert 0.4 <= after < 0.9
        assert outsider.wait(10) == 0
        assert meter.seconds() - after < 0.2  # type: ignore[operator]
    finally:
        parent.kill()
        outsider.kill()
        parent.wait()
        outsider.wait()


def test_a_root_that_does_not_exist_measures_zero() -> None:
    if not sys.platform.startswith("linux"):
        assert TreeCpu(2**22 + 7).seconds() is None
        return
    assert TreeCpu(2**22 + 7).seconds() == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_counts_live_grandchildren() -> None:
    # A renderer is a live grandchild of Chromium's browser process (through the zygote): it counts too.
    child = BURN.format(s=0.4) + "print('burnt', flush=True)\nimport sys; sys.stdin.read()\n"
    parent_code = (
        "import subprocess, sys\n"
        f"p = subprocess.Popen([sys.executable, '-c', {child!r}], stdin=subprocess.PIPE)\n"
        "sys.stdin.read()\n"
        "p.kill()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline() == "burnt\n"
        used = TreeCpu(parent.pid).seconds()
        assert used is not None and 0.4 <= used < 0.9
    finally:
        parent.kill()
        parent.wait()
