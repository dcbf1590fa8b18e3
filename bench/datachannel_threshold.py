"""The data channel's size threshold: sequential write->callback latency by write size, channel forced on
for every size (`dataChannelMinBytes: 0`) vs off, two tabs of one Chromium, interleaved repetitions.

    tests/netns.sh .venv/bin/python bench/datachannel_threshold.py

Not part of `make bench` (docs/performance.md, History, rounds 1b and 2, has its figures).
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.echoserver import EchoServers
from tests.e2e.cdp import Browser
from tests.e2e.resocket_side import (
    EXTENSION_ID,
    EXTENSION_ORIGIN,
    SCENARIO_PAGE,
    ResocketProfile,
    copy_extension,
)

JS = r"""(async (env) => {
  const S = chrome.socket;
  const call = (fn, ...a) => new Promise((r) => fn.call(S, ...a, r));
  const {socketId} = await call(S.create, "tcp", {});
  await call(S.connect, socketId, "127.0.0.1", env.port);
  const out = {};
  for (const size of env.sizes) {
    const buf = new Uint8Array(size).buffer;
    const times = [];
    for (let b = 0; b < env.batches; b++) {
      const t0 = performance.now();
      for (let j = 0; j < 10; j++) await call(S.write, socketId, buf);
      times.push((performance.now() - t0) / 10);
    }
    times.sort((x, y) => x - y);
    out[size] = times[times.length >> 1];
  }
  S.destroy(socketId);
  return out;
})"""


def main() -> None:
    with EchoServers() as servers, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        profile = ResocketProfile(root / "p", log_level="WARNING")
        profile.grant(EXTENSION_ORIGIN, ["tcp-connect"])
        ext = copy_extension(root / "ext")
        b = Browser(profile.user_data_dir, extensions=[ext], env=profile.env)
        try:
            pages = {}
            for name, opts in (("nm", {"dataChannel": False}), ("dc", {"dataChannelMinBytes": 0})):
                p = b.new_page(f"chrome-extension://{EXTENSION_ID}/{SCENARIO_PAGE}", ready="typeof chrome.socket === 'object'")
                p.evaluate(f"window.resocketOptions = {json.dumps(opts)}; new Promise((r) => chrome.socket.getNetworkList(() => r(true)))")
                pages[name] = p
            time.sleep(1)
            env = {"port": servers.discard_port, "sizes": [64, 1024, 4096, 8192, 16384, 65536], "batches": 30}
            res = {k: [] for k in pages}
            for _ in range(3):
                for k, p in pages.items():
                    res[k].append(p.evaluate(f"({JS})({json.dumps(env)})", timeout=120))
            for size in env["sizes"]:
                row = {k: sorted(r[str(size)] for r in v)[1] for k, v in res.items()}
                print(f"{size:>6} B  nm {row['nm']:.3f} ms  dc {row['dc']:.3f} ms  dc/nm {row['dc']/row['nm']:.2f}")
        finally:
            b.close()


if __name__ == "__main__":
    main()
