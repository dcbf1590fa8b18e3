"""Section 3, scale: N concurrent TCP connections in one `resocket-host`, each echoing.

- time to open: every `create`, then every `connect`, pipelined, until the last connect reply.
- echo: one 64-byte write + one read on every socket at once, until every read has its bytes.
- memory per socket: the host's RSS growth from after hello to after the echo, divided by N.
Baseline: a plain Python process opening the same N connections to the same server (blocking
`create_connection`), echoing 64 bytes on each, with its own RSS growth.
"""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Row, Rpc, grant_config, host_cmd, rss_kib
from bench.echoserver import EchoServers

SECTION = "scale"

PLAIN = r"""
import json, os, resource, socket, sys, time
n, port = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 2 * n + 64), hard), hard))
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
r0 = rss(); t0 = time.perf_counter()
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
t_open = time.perf_counter() - t0
data = os.urandom(64); t1 = time.perf_counter()
for s in socks: s.sendall(data)
for s in socks:
    got = 0
    while got < 64: got += len(s.recv(64))
t_echo = time.perf_counter() - t1
print(json.dumps({"open_s": t_open, "echo_s": t_echo, "rss_kib": rss() - r0}))
"""


def resocket_scale(n: int, port: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = grant_config(Path(tmp), host_cmd()[-1], ["tcp-connect:127.0.0.1:*"])
        rpc = Rpc(host_cmd(), env)
        try:
            assert "result" in rpc.call("hello", protocol=1, client="bench/1"), "hello failed"
            rpc.call("ping")
            rss0 = rss_kib(rpc.pipe.proc.pid)
            t0 = time.perf_counter()
            ids = [rpc.start("create", type="tcp") for _ in range(n)]
            sids = [rpc.wait(i)["args"][0]["socketId"] for i in ids]
            ids = [rpc.start("connect", socketId=s, hostname="127.0.0.1", port=port) for s in sids]
            results = [rpc.wait(i, timeout=120)["args"][0] for i in ids]
            t_open = time.perf_counter() - t0
            if any(r != 0 for r in results):
                raise RuntimeError(f"{sum(r != 0 for r in results)} of {n} connects failed: {set(results)}")
            data = base64.b64encode(os.urandom(64)).decode()
            t1 = time.perf_counter()
            reads = [rpc.start("read", socketId=s, bufferSize=4096) for s in sids]
            writes = [rpc.start("write", socketId=s, data=data) for s in sids]
            for w in writes:
                rpc.wait(w, timeout=120)
            got = [rpc.wait(r, timeout=120)["args"][0]["resultCode"] for r in reads]
            t_echo = time.perf_counter() - t1
            short = [g for g in got if g != 64]
            if short:
                raise RuntimeError(f"{len(short)} sockets echoed other than 64 bytes: {set(short)}")
            rss1 = rss_kib(rpc.pipe.proc.pid)
        finally:
            rpc.close()
    return {"open_s": t_open, "echo_s": t_echo, "rss_kib": rss1 - rss0, "host_rss_kib": rss1}


def run(smoke: bool) -> list[Row]:
    n = 100 if smoke else 1000
    with EchoServers() as servers:
        ours = resocket_scale(n, servers.echo_port)
        out = subprocess.run([sys.executable, "-c", PLAIN, str(n), str(servers.echo_port)], capture_output=True,
                             text=True, timeout=300, check=True).stdout
        plain = json.loads(out)
    note = f"{n} sockets in one host, all connected and echoing 64 B at once"
    return [
        Row(SECTION, f"time to open {n} connections", ours["open_s"] * 1e3, "ms",
            f"plain Python, {n} blocking connects", plain["open_s"] * 1e3, better="lower", note=note,
            target="one host holds 1,000 sockets", extra={"sockets": n}),
        Row(SECTION, f"echo 64 B on all {n} at once", ours["echo_s"] * 1e3, "ms",
            "plain Python, sequential send + recv", plain["echo_s"] * 1e3, better="lower", extra={"sockets": n}),
        Row(SECTION, "memory per socket (host RSS growth / N)", ours["rss_kib"] / n, "KiB",
            "plain Python socket objects", max(plain["rss_kib"], 1) / n, better="lower",
            extra={"host_rss_kib": ours["host_rss_kib"], "sockets": n}),
    ]
