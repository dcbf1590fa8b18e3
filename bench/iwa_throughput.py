"""Bulk throughput of the Isolated Web App backend (docs/chromeos.md), in real Chromium: a measurement, not a test.

    tests/netns.sh .venv/bin/python -m bench.iwa_throughput [--mib 64] [--repeats 3]

An IWA converted with `resocket convert-app --target iwa` is installed as a dev-mode proxy (tests/e2e/iwa.py)
and echoes through the echo server of bench/echoserver.py (its own process). Per write size (16, 32, 64 KiB):
- raw: Direct Sockets itself, back-to-back `writer.write()` calls without waiting (the pattern that was once
  seen to stall under heavy CPU load) and a concurrent reader counting the echo;
- chrome.socket: the shim over the backend, 64 KiB reads always pending, at most 1 MiB written and not yet
  echoed (the loop of bench/browser_level.py).
A run that makes no progress for STALL_S is reported as a stall with the bytes it had echoed (the question the
issue asked: is the stall real). Prints one line per run and the medians; docs/performance.md, "Isolated Web
App backend", keeps the figures.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.e2e.cdp import Browser
from tests.e2e.iwa import IWA_FLAGS, InstalledIwa, convert_to_iwa

REPO = Path(__file__).resolve().parents[1]
SIZES = (16 * 1024, 32 * 1024, 64 * 1024)
#: No echoed byte for this long ends a run as a stall (a hang guard for the measurement, not a limit).
STALL_S = 10

RAW_JS = """(async ({port, size, total, stallMs, awaited, fresh}) => {
  const socket = new TCPSocket('127.0.0.1', port, {noDelay: true});
  const {readable, writable} = await socket.opened;
  const reader = readable.getReader(), writer = writable.getWriter();
  const chunk = new Uint8Array(size).fill(120);
  let echoed = 0, last = performance.now(), stalled = false;
  const start = performance.now();
  const reading = (async () => {
    while (echoed < total) {
      const {value, done} = await reader.read();
      if (done) break;
      echoed += value.byteLength; last = performance.now();
    }
  })();
  // awaited: each write waits for the one before it (the backend's pattern); else all are queued at once.
  const writing = (async () => {
    for (let sent = 0; sent < total; sent += size) {
      const w = writer.write(fresh ? chunk.slice() : chunk);
      if (awaited) await w;
    }
  })();
  await writing;
  while (echoed < total && !stalled) {
    await Promise.race([reading, new Promise((r) => setTimeout(r, 200))]);
    stalled = performance.now() - last > stallMs;
  }
  const ms = performance.now() - start;
  reader.releaseLock(); writer.releaseLock(); socket.close().catch(() => {});
  return {echoed, ms, stalled};
})"""

SHIM_JS = """(async ({port, size, total, stallMs}) => {
  const api = chrome.socket;
  const call = (name, ...args) => new Promise((resolve) => api[name](...args, resolve));
  const id = (await call('create', 'tcp')).socketId;
  if ((await call('connect', id, '127.0.0.1', port)) !== 0) return {error: 'connect'};
  const chunk = new Uint8Array(size).fill(120).buffer;
  let sent = 0, echoed = 0, last = performance.now(), stalled = false;
  const start = performance.now();
  await new Promise((done) => {
    const pump = () => {
      while (sent < total && sent - echoed < 1024 * 1024) { sent += size; api.write(id, chunk, () => {}); }
    };
    const read = () => api.read(id, 65536, (r) => {
      if (r.resultCode <= 0) { done(); return; }
      echoed += r.resultCode; last = performance.now();
      if (echoed >= total) { done(); return; }
      pump(); read();
    });
    const watch = setInterval(() => {
      if (performance.now() - last > stallMs) { stalled = true; clearInterval(watch); done(); }
      if (echoed >= total) clearInterval(watch);
    }, 200);
    pump(); read();
  });
  const ms = performance.now() - start;
  api.destroy(id);
  return {echoed, ms, stalled};
})"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mib", type=int, default=64, help="MiB echoed per run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    total = args.mib * 1024 * 1024
    root = Path(tempfile.mkdtemp(prefix="resocket-iwa-bench-"))
    server = subprocess.Popen([sys.executable, "-m", "bench.echoserver"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
    browser = None
    try:
        echo_port = int(server.stdout.readline().split()[0])  # type: ignore[union-attr]
        folder = root / "echo-iwa"
        convert_to_iwa(REPO / "examples" / "echo-app", folder, root / "config")
        browser = Browser(root / "udd", extra_flags=IWA_FLAGS)
        iwa = InstalledIwa(browser, folder)
        page = browser.new_page(iwa.url(), ready="typeof chrome.socket === 'object'")
        results: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            for size in SIZES:
                for name, js, awaited, fresh in (("raw back-to-back", RAW_JS, False, False),
                                                 ("raw back-to-back, copies", RAW_JS, False, True),
                                                 ("raw awaited, copies", RAW_JS, True, True),
                                                 ("chrome.socket", SHIM_JS, True, True)):
                    params = {"port": echo_port, "size": size, "total": total, "stallMs": STALL_S * 1000,
                              "awaited": awaited, "fresh": fresh}
                    out = page.evaluate(f"({js})({json.dumps(params)})", timeout=600)
                    label = f"{name} {size // 1024} KiB"
                    mib_s = out["echoed"] / 1048576 / (out["ms"] / 1000)
                    state = f"STALLED after {out['echoed']} bytes" if out["stalled"] else "complete"
                    print(f"{label:28} {mib_s:8.1f} MiB/s  {out['ms']:8.0f} ms  {state}", flush=True)
                    if not out["stalled"]:
                        results.setdefault(label, []).append(mib_s)
        print("medians:", json.dumps({k: round(statistics.median(v), 1) for k, v in results.items()}))
        iwa.close()
    finally:
        if browser is not None:
            browser.close()
        server.stdin.close()  # type: ignore[union-attr]
        server.wait(10)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
