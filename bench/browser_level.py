"""Section 2, browser level, real Chromium (Debian's, headless, inside the private network namespace).

One browser holds everything, so every figure and its baselines share the machine state of the moment:
- resocket: chrome.socket in a page of the resocket extension (extension/chrome-socket.js -> connectNative ->
  this checkout's resocket-host), granted tcp-connect; its data channel off (`resocketOptions.dataChannel =
  false`): every byte over native messaging.
- resocket over the data channel: the same page in a second tab with the shim's default, i.e. the data
  channel on (with this host every chrome.socket write and read travels there as a request message and is
  answered there; docs/protocol.md, "Requests on the channel").
- (a) the channel's own ceiling: the same page, `connectNative` to a trivial echo host (bench/nm_echo.py)
  that returns every frame unchanged. The page sends what the shim sends for a 64 KiB write (one `write`
  message, base64 with `toBase64`) and decodes the echo with `fromBase64`.
- (b) a binary WebSocket from the same page through websockify to the same echo server.
- (c) Chrome's own chrome.socket in a legacy Chrome App (tests/e2e/oracle.py), running the very same JS.
- (d) the floor of any host: the trivial echo page's traffic through a minimal socket host (bench/nm_minimal.py)
  that does only the socket work resocket-host must do for it (base64 in, a send to the same echo server, reads
  of 64 KiB, base64 out as one message each) and none of a protocol. resocket against (a) is what the channel,
  the socket hop and the host cost together; against (d), what resocket's protocol, host and shim add.
- (e) the data channel without the shim: an extension page that speaks resocket's protocol itself over the
  channel, with the WebSocket page's loop (bare 64 KiB sends, bytes counted as they come; RAW_CHANNEL_JS).
  The data channel against (b) is the whole path; (e) against (b) is resocket-host and its channel against
  websockify; the data channel against (e), what chrome.socket's calls and callbacks in the page cost.
- resocket in a granted web page (http://127.0.0.1:<port>: the MAIN-world shim -> relay.js -> the service
  worker -> native messaging, plus the page's own data channel), the very same JS again; and the same page
  with its channel off (`resocketOptions.dataChannel = false`: every byte through the relay).
Throughput: 64 KiB writes, at most 1 MiB written and not yet echoed, one read of 64 KiB always pending.
Latency: sequential 64-byte writes to a discard server, write -> callback; the median of batches of 10
(performance.now() is coarsened to 0.1 ms in pages that are not cross-origin isolated). With write-behind
(docs/protocol.md) a write is called back once the shim took it, as Chrome's once its pipe took it; a page
with it off shows what waiting for the host's answer costs, and the echo round trip (write, then a read of the
echo) is the figure that crosses the network.
Start-up: `connectNative` -> first reply (resocket's hello; the trivial host's echo), and -> the reply to a
`create` sent after it (an app's first result; the trivial host's second echo), a new host each time.
CPU per MiB: user + system time of the whole browser (every Chromium process: the page's renderer, the network
service, the browser process), the native hosts it spawned, websockify and the echo server, read from /proc
before and after each throughput run, per MiB echoed. On 2 cores the data channel is bound by CPU, so this is
the figure that says where a contender spends; the latency runs are separate calls, outside it.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO, Row, TreeCpu, median, venv_bin
from bench.echoserver import EchoServers

SECTION = "browser"
BATCH = 10
ECHO_HOST_NAME = "org.resocket.bench_echo"
MINIMAL_HOST_NAME = "org.resocket.bench_minimal"

# -- the page-side benchmarks (plain JS; the socket one runs unchanged in the Chrome App) ----------------
SOCKET_JS = r"""
async (env) => {
  const S = chrome.socket;
  const call = (fn, ...args) => new Promise((resolve) => fn.call(S, ...args, (r) => resolve(r)));
  const open = async (port) => {
    const {socketId} = await call(S.create, "tcp", {});
    const rc = await call(S.connect, socketId, "127.0.0.1", port);
    if (rc !== 0) throw new Error("connect gave " + rc);
    return socketId;
  };
  const out = {};
  if (env.latency) {
    const id = await open(env.discardPort);
    const buf = new Uint8Array(64).buffer;
    const times = [];
    for (let i = 0; i < env.latency; i += BATCH) {
      const t0 = performance.now();
      for (let j = 0; j < BATCH; j++) {
        const w = await call(S.write, id, buf);
        if (w.bytesWritten !== 64) throw new Error("write gave " + JSON.stringify(w));
      }
      times.push((performance.now() - t0) / BATCH);
    }
    S.destroy(id);
    out.writeMs = times;
    const e = await open(env.echoPort);
    const rtt = [];
    for (let i = 0; i < env.latency; i += BATCH) {
      const t0 = performance.now();
      for (let j = 0; j < BATCH; j++) {
      let got = 0;
      const read = new Promise((resolve, reject) => {
        const next = () => S.read(e, 4096, (r) => {
          if (r.resultCode <= 0) return reject(new Error("read gave " + r.resultCode));
          got += r.data.byteLength;
          if (got >= 64) resolve(); else next();
        });
        next();
      });
      S.write(e, buf, () => {});
      await read;
      }
      rtt.push((performance.now() - t0) / BATCH);
    }
    S.destroy(e);
    out.echoMs = rtt;
  }
  if (env.total) {
    const id = await open(env.echoPort);
    const block = 65536, total = env.total, windowBytes = env.window;
    const data = new Uint8Array(block);
    crypto.getRandomValues(data);
    let written = 0, received = 0, failed = null, wake = null;
    const t0 = performance.now();
    const reads = new Promise((resolve, reject) => {
      const next = () => S.read(id, block, (r) => {
        if (r.resultCode <= 0) return reject(new Error("read gave " + r.resultCode));
        received += r.data.byteLength;
        if (wake) { const w = wake; wake = null; w(); }
        if (received >= total) resolve(); else next();
      });
      next();
    });
    while (written < total) {
      while (written - received > windowBytes - block) await new Promise((r) => { wake = r; });
      S.write(id, data.buffer, (w) => { if (w.bytesWritten !== block) failed = w; });
      written += block;
    }
    await reads;
    const ms = performance.now() - t0;
    S.destroy(id);
    if (failed) throw new Error("write gave " + JSON.stringify(failed));
    out.mbps = total / ms / 1000;
  }
  return out;
}
"""

NATIVE_ECHO_JS = r"""
async (env) => {
  const port = chrome.runtime.connectNative(env.hostName);
  let handler = null;
  port.onMessage.addListener((m) => handler(m));
  const out = {};
  if (env.latency) {
    const times = [];
    for (let i = 0; i < env.latency; i += BATCH) {
      const t0 = performance.now();
      for (let j = 0; j < BATCH; j++) {
        await new Promise((resolve) => { handler = resolve; port.postMessage({id: i + j, op: "ping", args: {}}); });
      }
      times.push((performance.now() - t0) / BATCH);
    }
    out.rttMs = times;
  }
  if (env.total) {
    const block = 65536, total = env.total, windowBytes = env.window;
    const data = new Uint8Array(block);
    crypto.getRandomValues(data);
    let written = 0, received = 0, wake = null, done = null;
    const finished = new Promise((r) => { done = r; });
    handler = (m) => {
      received += Uint8Array.fromBase64(m.chunk !== undefined ? m.chunk : m.args.data).byteLength;
      if (wake) { const w = wake; wake = null; w(); }
      if (received >= total) done();
    };
    const t0 = performance.now();
    let id = 1;
    while (written < total) {
      while (written - received > windowBytes - block) await new Promise((r) => { wake = r; });
      port.postMessage({id, op: "write", args: {socketId: 1, data: data.toBase64()}});
      id++;
      written += block;
    }
    await finished;
    out.mbps = total / (performance.now() - t0) / 1000;
  }
  port.disconnect();
  return out;
}
"""

WEBSOCKET_JS = r"""
async (env) => {
  const ws = new WebSocket(env.url);
  ws.binaryType = "arraybuffer";
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error("ws error")); });
  let handler = null;
  ws.onmessage = (ev) => handler(ev.data.byteLength);
  const out = {};
  if (env.latency) {
    const buf = new Uint8Array(64).buffer;
    const times = [];
    for (let i = 0; i < env.latency; i += BATCH) {
      const t0 = performance.now();
      for (let j = 0; j < BATCH; j++) {
        let got = 0;
        await new Promise((resolve) => { handler = (n) => { got += n; if (got >= 64) resolve(); }; ws.send(buf); });
      }
      times.push((performance.now() - t0) / BATCH);
    }
    out.echoMs = times;
  }
  if (env.total) {
    const block = 65536, total = env.total, windowBytes = env.window;
    const data = new Uint8Array(block);
    crypto.getRandomValues(data);
    let written = 0, received = 0, wake = null, done = null;
    const finished = new Promise((r) => { done = r; });
    handler = (n) => {
      received += n;
      if (wake) { const w = wake; wake = null; w(); }
      if (received >= total) done();
    };
    const t0 = performance.now();
    while (written < total) {
      while (written - received > windowBytes - block) await new Promise((r) => { wake = r; });
      ws.send(data);
      written += block;
    }
    await finished;
    out.mbps = total / (performance.now() - t0) / 1000;
  }
  ws.close();
  return out;
}
"""

RAW_CHANNEL_JS = r"""
async (env) => {
  // (e) resocket's data channel without the shim: the WebSocket page's own loop (bare 64 KiB sends, bytes
  // counted as they come) spoken to resocket-host in its protocol (docs/protocol.md: requests on the channel,
  // implicit writes and data, read-ahead acks), so the host and channel are measured without chrome.socket's
  // calls and callbacks. One host and socket per page, kept across runs.
  if (!window.benchRaw) {
    const port = chrome.runtime.connectNative("org.resocket.host");
    const waiting = new Map();
    port.onMessage.addListener((m) => {
      for (const one of (m && m.batch) || [m]) {
        const w = waiting.get(one.id);
        if (w) { waiting.delete(one.id); w(one); }
      }
    });
    let nextId = 1;
    const ask = (op, args) => new Promise((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      port.postMessage({id, op, args});
    });
    // Batch frames: with them write replies may wait for the next message (lazy), as the shim's do.
    await ask("hello", {protocol: 1, client: "bench-raw/1", batch: true, writeBehind: true, wideWindows: true});
    const dc = (await ask("datachannel.open", {implicit: true, implicitWrites: true})).result;
    const socketId = (await ask("create", {type: "tcp", options: {}})).args[0].socketId;
    const connected = await ask("connect", {socketId, hostname: "127.0.0.1", port: env.echoPort});
    if (connected.args[0] !== 0) throw new Error("connect gave " + JSON.stringify(connected));
    const ws = new WebSocket(dc.url + dc.token);
    ws.binaryType = "arraybuffer";
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error("ws error")); });
    window.benchRaw = {port, ws, socketId, writes: 0, stream: null, consumed: 0, acked: 0, announced: -1};
  }
  const R = window.benchRaw, ws = R.ws;
  const enc = new TextEncoder(), dec = new TextDecoder();
  const record = (obj, payload) => {  // 8 bytes 0xff, the JSON's and the payload's lengths, JSON, payload
    const text = enc.encode(JSON.stringify(obj)), n = payload ? payload.byteLength : 0;
    const out = new Uint8Array(16 + text.byteLength + n), v = new DataView(out.buffer);
    v.setUint32(0, 0xffffffff); v.setUint32(4, 0xffffffff); v.setUint32(8, text.byteLength); v.setUint32(12, n);
    out.set(text, 16);
    if (payload) out.set(payload, 16 + text.byteLength);
    return out;
  };
  const block = 65536, total = env.total, windowBytes = env.window;
  const data = new Uint8Array(block);
  crypto.getRandomValues(data);
  data[0] = 0;  // never taken for a record
  let written = 0, received = 0, wake = null, done = null;
  const finished = new Promise((r) => { done = r; });
  const got = (n) => {
    received += n;
    R.consumed += n;
    if (R.stream !== null && R.consumed - R.acked >= 1 << 20) {
      R.acked = R.consumed;
      ws.send(record({op: "socket.ack", args: {socketId: R.socketId, stream: R.stream, consumed: R.consumed}}));
    }
    if (wake) { const w = wake; wake = null; w(); }
    if (received >= total) done();
  };
  ws.onmessage = (ev) => {
    const buf = ev.data;
    if (R.announced >= 0) { R.announced = -1; got(buf.byteLength); return; }
    const v = buf.byteLength >= 16 ? new DataView(buf) : null;
    if (!v || v.getUint32(0) !== 0xffffffff || v.getUint32(4) !== 0xffffffff) { got(buf.byteLength); return; }
    for (let at = 0; at + 16 <= buf.byteLength;) {
      const size = v.getUint32(at + 8), length = v.getUint32(at + 12);
      const msg = JSON.parse(dec.decode(new Uint8Array(buf, at + 16, size)));
      at += 16 + size + length;
      if (msg.id === 1) { R.stream = msg.args[0].stream; got(length); }  // the first read: its reply and bytes
      else if (msg.event === "socket.data" && typeof msg.args[0].size === "number") R.announced = msg.args[0].size;
    }
  };
  const t0 = performance.now();
  if (R.writes === 0) {
    ws.send(record({id: 1, op: "read", args: {socketId: R.socketId, bufferSize: block, stream: true, dataChannel: true}}));
  }
  while (written < total) {
    while (written - received > windowBytes - block) await new Promise((r) => { wake = r; });
    if (R.writes === 0) {  // answered at once: its reply grants the socket a wide write-behind window
      ws.send(record({id: 2, op: "write", args: {socketId: R.socketId, dataRef: 1}}, data));
    } else if (R.writes === 1) {  // marked: the messages after it that are no record are writes
      ws.send(record({id: 3, op: "write", args: {socketId: R.socketId, dataRef: 2, implicit: 2 ** 52, behind: true}}, data));
    } else {
      ws.send(data);
    }
    R.writes += 1;
    written += block;
  }
  await finished;
  return {mbps: total / (performance.now() - t0) / 1000};
}
"""


CONNECT_JS = r"""
async (env) => {
  // A new host each time: hello, then (what an app's first call waits for) one `create`. The trivial echo
  // host answers both by echoing them: two bare round trips.
  const hello = [], first = [];
  for (let i = 0; i < env.count; i++) {
    const t0 = performance.now();
    const port = chrome.runtime.connectNative(env.hostName);
    let answer = null, fail = null;
    port.onMessage.addListener((m) => answer(m));
    port.onDisconnect.addListener(() => fail(new Error("disconnected: " +
      (chrome.runtime.lastError && chrome.runtime.lastError.message))));
    const ask = (message) => new Promise((resolve, reject) => {
      answer = resolve;
      fail = reject;
      port.postMessage(message);
    });
    const greeting = await ask({id: 1, op: "hello", args: {protocol: 1, client: "bench/1"}});
    hello.push(performance.now() - t0);
    const created = await ask({id: 2, op: "create", args: {type: "tcp", options: {}}});
    first.push(performance.now() - t0);
    port.disconnect();
    if (!greeting || greeting.id !== 1) throw new Error("bad first reply " + JSON.stringify(greeting));
    if (!created || created.id !== 2) throw new Error("bad second reply " + JSON.stringify(created));
    await new Promise((r) => setTimeout(r, 50));
  }
  return {hello, first};
}
"""


def _run(session: object, js: str, env: dict, timeout: float = 300) -> object:
    # performance.now() is coarsened to 0.1 ms in these pages: latencies are timed over batches of BATCH.
    js = js.strip().replace("async (env) => {", f"async (env) => {{\n  const BATCH = {BATCH};", 1)
    try:  # every contender runs in the foreground tab (a background one may be scheduled less)
        session.send("Page.bringToFront")  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001, S110 - a Chrome App's background page has no tab to bring forward
        pass
    return session.evaluate(f"({js})({json.dumps(env)})", timeout=timeout)  # type: ignore[attr-defined]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _websockify(target_port: int) -> tuple[subprocess.Popen, int]:
    exe = venv_bin("websockify")
    if shutil.which(exe) is None and not os.path.exists(exe):
        raise RuntimeError("websockify missing: pip install -e '.[bench]'")
    port = _free_port()
    proc = subprocess.Popen([exe, f"127.0.0.1:{port}", f"127.0.0.1:{target_port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("websockify did not start")


def _register_echo_host(user_data_dir: Path, root: Path, origin: str, echo_port: int | None = None) -> None:
    """The trivial echo host, and with `echo_port` the minimal socket host (`bench/nm_minimal.py`) too."""
    hosts = user_data_dir / "NativeMessagingHosts"
    hosts.mkdir(parents=True, exist_ok=True)
    made = [(ECHO_HOST_NAME, "trivial echo", f'"{REPO / "bench" / "nm_echo.py"}"')]
    if echo_port is not None:
        made.append((MINIMAL_HOST_NAME, "minimal socket host", f'"{REPO / "bench" / "nm_minimal.py"}" {echo_port}'))
    for name, what, script in made:
        wrapper = root / f"{name}.sh"
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" {script}\n')
        wrapper.chmod(0o755)
        (hosts / f"{name}.json").write_text(json.dumps({
            "name": name, "description": f"resocket bench: {what}", "path": str(wrapper),
            "type": "stdio", "allowed_origins": [origin]}))


def run(smoke: bool) -> list[Row]:
    sys.path.insert(0, str(REPO))
    from tests.e2e.cdp import CHROMIUM, Browser
    from tests.e2e.oracle import attach_background_page, write_chrome_app
    from tests.e2e.resocket_side import (
        EXTENSION_ID,
        EXTENSION_ORIGIN,
        SCENARIO_PAGE,
        ResocketProfile,
        copy_extension,
    )
    from tests.support.servers import StaticServer

    if not os.path.exists(CHROMIUM):
        return [Row(SECTION, "browser benchmarks", None, "", note=f"skipped: {CHROMIUM} missing (apt-get install chromium)")]
    # 128 MiB: runs of 32 MiB (0.2 s at websockify's rate) moved the baselines by 1.5x from run to run.
    total = (2 if smoke else 128) * 1024 * 1024
    latency = 30 if smoke else 500
    repeats = 1 if smoke else 5  # medians of 5: one repeat in 3 moved a ratio by up to 0.2 (docs/performance.md)
    connects = 2 if smoke else 10
    window = 1024 * 1024
    samples: dict[str, list] = {k: [] for k in ("ours", "dc", "native", "minimal", "ws", "raw", "app", "web", "webnm",
                                                   "nowb")}
    with EchoServers() as servers, tempfile.TemporaryDirectory(prefix="resocket-bench-") as tmp:
        root = Path(tmp)
        ws_proc, ws_port = _websockify(servers.echo_port)
        profile = ResocketProfile(root / "profile", log_level="WARNING")
        profile.grant(EXTENSION_ORIGIN, ["tcp-connect"])
        (root / "www").mkdir()
        (root / "www" / "index.html").write_text("<!DOCTYPE html><title>bench</title>")
        site = StaticServer(root / "www")
        profile.grant(f"http://127.0.0.1:{site.port}", ["tcp-connect"])
        _register_echo_host(profile.user_data_dir, root, EXTENSION_ORIGIN, servers.echo_port)
        app = write_chrome_app(root / "oracle-app", ["tcp-connect"])
        ext = copy_extension(root / "extension")
        browser = Browser(profile.user_data_dir, extensions=[app, ext], env=profile.env)
        try:
            chrome_app = attach_background_page(browser)
            page = browser.new_page(f"chrome-extension://{EXTENSION_ID}/{SCENARIO_PAGE}",
                                    ready="typeof chrome.socket === 'object'")
            # Read when the shim opens its host connection (the first call, in the warm-up below).
            page.evaluate("window.resocketOptions = {dataChannel: false}; true")
            dc_page = browser.new_page(f"chrome-extension://{EXTENSION_ID}/{SCENARIO_PAGE}",
                                       ready="typeof chrome.socket === 'object'")
            web_page = browser.new_page(f"http://127.0.0.1:{site.port}/index.html",
                                        ready="typeof chrome === 'object' && typeof chrome.socket === 'object'")
            web_nm = browser.new_page(f"http://127.0.0.1:{site.port}/index.html?nm",
                                      ready="typeof chrome === 'object' && typeof chrome.socket === 'object'")
            web_nm.evaluate("window.resocketOptions = {dataChannel: false}; true")
            # Latency only: a write called back when the host answers it (write-behind off), i.e. what the
            # round trip through the host costs (docs/protocol.md, "Write-behind").
            no_wb = browser.new_page(f"chrome-extension://{EXTENSION_ID}/{SCENARIO_PAGE}",
                                     ready="typeof chrome.socket === 'object'")
            no_wb.evaluate("window.resocketOptions = {dataChannel: false, writeBehind: false}; true")
            raw_page = browser.new_page(f"chrome-extension://{EXTENSION_ID}/{SCENARIO_PAGE}",
                                        ready="typeof chrome.socket === 'object'")
            env = {"echoPort": servers.echo_port, "discardPort": servers.discard_port, "window": window}
            # Warm-up (JIT, first host spawn), then interleaved repeats so drift hits every contender alike.
            _run(page, SOCKET_JS, {**env, "latency": 5, "total": window})
            _run(dc_page, SOCKET_JS, {**env, "latency": 5, "total": window})  # hello, then the channel opens
            _run(chrome_app, SOCKET_JS, {**env, "latency": 5, "total": window})
            _run(web_page, SOCKET_JS, {**env, "latency": 5, "total": window})
            _run(web_nm, SOCKET_JS, {**env, "latency": 5, "total": window})
            _run(no_wb, SOCKET_JS, {**env, "latency": 5, "total": 0})
            _run(page, NATIVE_ECHO_JS, {"hostName": ECHO_HOST_NAME, "latency": 5, "total": window, "window": window})
            _run(page, NATIVE_ECHO_JS, {"hostName": MINIMAL_HOST_NAME, "latency": 0, "total": window, "window": window})
            _run(raw_page, RAW_CHANNEL_JS, {"echoPort": servers.echo_port, "total": window, "window": window})
            meter = TreeCpu(browser.proc.pid, ws_proc.pid, servers.proc.pid)

            def measure(key: str, session: object, js: str, args: dict) -> None:
                # Latency first, then throughput in its own call with the CPU of every process read around it.
                out = dict(_run(session, js, {**args, "total": 0})) if args.get("latency") else {}  # type: ignore[arg-type]
                if args.get("total"):
                    before = meter.seconds()
                    out.update(_run(session, js, {**args, "latency": 0}))  # type: ignore[arg-type]
                    after = meter.seconds()
                    used = None if before is None or after is None else after - before
                    out["cpuMsPerMiB"] = 1000 * used / (args["total"] / (1 << 20)) if used and used > 0 else None
                samples[key].append(out)

            for _ in range(repeats):
                sized = {**env, "latency": latency, "total": total}
                measure("ours", page, SOCKET_JS, sized)
                measure("dc", dc_page, SOCKET_JS, sized)
                measure("native", page, NATIVE_ECHO_JS, {"hostName": ECHO_HOST_NAME, "latency": latency,
                                                         "total": total, "window": window})
                measure("minimal", page, NATIVE_ECHO_JS, {"hostName": MINIMAL_HOST_NAME, "latency": 0,
                                                          "total": total, "window": window})
                measure("ws", page, WEBSOCKET_JS, {"url": f"ws://127.0.0.1:{ws_port}", "latency": latency,
                                                   "total": total, "window": window})
                measure("raw", raw_page, RAW_CHANNEL_JS, {"echoPort": servers.echo_port, "latency": 0,
                                                          "total": total, "window": window})
                measure("app", chrome_app, SOCKET_JS, sized)
                measure("web", web_page, SOCKET_JS, sized)
                measure("webnm", web_nm, SOCKET_JS, sized)
                measure("nowb", no_wb, SOCKET_JS, {**env, "latency": latency, "total": 0})
            start_ours = _run(page, CONNECT_JS, {"hostName": "org.resocket.host", "count": connects})
            start_echo = _run(page, CONNECT_JS, {"hostName": ECHO_HOST_NAME, "count": connects})
        finally:
            browser.close()
            site.close()
            ws_proc.terminate()
            ws_proc.wait(10)

    def mbps(key: str) -> float:
        return median([s["mbps"] for s in samples[key]])

    def paired(key: str, base_key: str) -> str:
        """Each repeat against the baseline's of the same round (the contenders take turns): on a machine whose
        speed drifts during the run, these ratios move less than the ratio of the two medians."""
        ratios = sorted(a["mbps"] / b["mbps"] for a, b in zip(samples[key], samples[base_key]) if b["mbps"])
        if not ratios:
            return ""
        return (f"each repeat against the baseline's of its round: median {median(ratios):.2f}x "
                f"({ratios[0]:.2f}x-{ratios[-1]:.2f}x)")

    def lat(key: str, field: str) -> float:
        return median([t for s in samples[key] for t in s[field]])

    def cpu(key: str) -> float | None:
        # None when /proc is missing or a run was too short to tick the clock: no row then claims a figure.
        values = [s.get("cpuMsPerMiB") for s in samples[key]]
        return None if None in values else median(values)  # type: ignore[arg-type]

    def cpu_row(name: str, key: str, baseline: str, base_key: str, **kw: str) -> Row:
        value, base = cpu(key), cpu(base_key)
        if value is None or base is None:
            return Row(SECTION, name, None, "ms/MiB", baseline, None, better="lower", note="not measured (no /proc?)")
        return Row(SECTION, name, value, "ms/MiB", baseline, base, better="lower", **kw)

    size = f"{total >> 20} MiB x {repeats}, 64 KiB writes, 1 MiB window"
    ours_t = mbps("ours")
    ours_w, ours_e = lat("ours", "writeMs"), lat("ours", "echoMs")
    rows = [
        Row(SECTION, "chrome.socket echo throughput (resocket)", ours_t, "MB/s",
            "(a) trivial native-messaging echo host", mbps("native"), target=">= 0.90x",
            note=f"{size}; {paired('ours', 'native')}"),
        Row(SECTION, "chrome.socket echo throughput (resocket)", ours_t, "MB/s",
            "(d) minimal socket host (the socket work, no protocol)", mbps("minimal"),
            note=f"the trivial echo page's traffic through bench/nm_minimal.py; {paired('ours', 'minimal')}"),
        Row(SECTION, "chrome.socket echo throughput (resocket)", ours_t, "MB/s",
            "(b) binary WebSocket via websockify", mbps("ws")),
        Row(SECTION, "chrome.socket echo throughput (resocket)", ours_t, "MB/s",
            "(c) Chrome's own chrome.socket (Chrome App)", mbps("app"), target="> 1x (mission)"),
        Row(SECTION, "chrome.socket over the data channel, echo throughput", mbps("dc"), "MB/s",
            "(a) trivial native-messaging echo host", mbps("native"), target=">= 0.90x", note=size),
        Row(SECTION, "chrome.socket over the data channel, echo throughput", mbps("dc"), "MB/s",
            "(b) binary WebSocket via websockify", mbps("ws"), target=">= 1x (reaches websockify)",
            note=paired("dc", "ws")),
        Row(SECTION, "chrome.socket over the data channel, echo throughput", mbps("dc"), "MB/s",
            "(e) the data channel without the shim", mbps("raw"),
            note=f"what chrome.socket's calls and callbacks in the page cost; {paired('dc', 'raw')}"),
        Row(SECTION, "data channel without the shim (e), echo throughput", mbps("raw"), "MB/s",
            "(b) binary WebSocket via websockify", mbps("ws"),
            note=f"resocket-host and its channel against websockify; {paired('raw', 'ws')}"),
        Row(SECTION, "chrome.socket over the data channel, echo throughput", mbps("dc"), "MB/s",
            "(c) Chrome's own chrome.socket (Chrome App)", mbps("app"), target="> 1x (mission)"),
        Row(SECTION, "chrome.socket over the data channel, echo throughput", mbps("dc"), "MB/s",
            "resocket over native messaging only", ours_t),
        cpu_row("CPU per MiB echoed, data channel (resocket)", "dc", "(b) binary WebSocket via websockify", "ws",
                note="user + system time of the browser, its hosts, websockify and the echo server during the "
                     "throughput run, per MiB (median of the repeats)"),
        cpu_row("CPU per MiB echoed, data channel (resocket)", "dc", "(c) Chrome's own chrome.socket (Chrome App)", "app"),
        cpu_row("CPU per MiB echoed, data channel (resocket)", "dc", "(e) the data channel without the shim", "raw"),
        cpu_row("CPU per MiB echoed, data channel without the shim (e)", "raw", "(b) binary WebSocket via websockify",
                "ws"),
        cpu_row("CPU per MiB echoed (resocket, native messaging only)", "ours", "(a) trivial native-messaging echo host",
                "native"),
        cpu_row("CPU per MiB echoed (resocket, native messaging only)", "ours",
                "(d) minimal socket host (the socket work, no protocol)", "minimal"),
        cpu_row("CPU per MiB echoed (resocket, granted web page, data channel)", "web",
                "(b) binary WebSocket via websockify", "ws"),
        Row(SECTION, "write->callback latency, 64 B (resocket, data channel open)", lat("dc", "writeMs"), "ms",
            "(a) bare port round trip (trivial echo host)", lat("native", "rttMs"), better="lower",
            target="<= 1.2x", note="with a host that takes requests on the channel, 64 B writes go there too"),
        Row(SECTION, "write->callback latency, 64 B (resocket, data channel open)", lat("dc", "writeMs"), "ms",
            "(c) Chrome's own write->callback", lat("app", "writeMs"), better="lower", target="< 1x (mission)"),
        Row(SECTION, "echo round trip, 64 B write + read (resocket, data channel open)", lat("dc", "echoMs"), "ms",
            "(b) WebSocket echo round trip", lat("ws", "echoMs"), better="lower"),
        Row(SECTION, "echo round trip, 64 B write + read (resocket, data channel open)", lat("dc", "echoMs"), "ms",
            "(c) Chrome's own write + read", lat("app", "echoMs"), better="lower"),
        Row(SECTION, "write->callback latency, 64 B (resocket)", ours_w, "ms",
            "(a) bare port round trip (trivial echo host)", lat("native", "rttMs"), better="lower",
            target="<= 1.2x", note=f"median of {latency * repeats // BATCH} batches of {BATCH}"),
        Row(SECTION, "write->callback latency, 64 B (resocket)", ours_w, "ms",
            "(c) Chrome's own write->callback", lat("app", "writeMs"), better="lower", target="< 1x (mission)"),
        Row(SECTION, "write->callback latency, 64 B (resocket, write-behind off)", lat("nowb", "writeMs"), "ms",
            "(a) bare port round trip (trivial echo host)", lat("native", "rttMs"), better="lower",
            note="the shim waits for the host's answer: one native-messaging round trip plus the host's send"),
        Row(SECTION, "echo round trip, 64 B write + read (resocket)", ours_e, "ms",
            "(b) WebSocket echo round trip", lat("ws", "echoMs"), better="lower"),
        Row(SECTION, "echo round trip, 64 B write + read (resocket)", ours_e, "ms",
            "(c) Chrome's own write + read", lat("app", "echoMs"), better="lower"),
        Row(SECTION, "chrome.socket in a granted web page, data channel, echo throughput", mbps("web"), "MB/s",
            "(b) binary WebSocket via websockify", mbps("ws"), note="the page's own channel; control via the relay"),
        Row(SECTION, "chrome.socket in a granted web page, data channel, echo throughput", mbps("web"), "MB/s",
            "(c) Chrome's own chrome.socket (Chrome App)", mbps("app")),
        Row(SECTION, "write->callback latency, 64 B (resocket, granted web page, data channel)",
            lat("web", "writeMs"), "ms", "(a) bare port round trip (trivial echo host, extension page)",
            lat("native", "rttMs"), better="lower"),
        Row(SECTION, "echo round trip, 64 B write + read (resocket, granted web page, data channel)",
            lat("web", "echoMs"), "ms", "(c) Chrome's own write + read", lat("app", "echoMs"), better="lower"),
        Row(SECTION, "chrome.socket in a granted web page, relay only, echo throughput", mbps("webnm"), "MB/s",
            "(a) trivial native-messaging echo host (from an extension page)", mbps("native"),
            note="MAIN-world shim -> relay.js -> service worker -> native messaging"),
        Row(SECTION, "write->callback latency, 64 B (resocket, granted web page, relay only)",
            lat("webnm", "writeMs"), "ms", "(a) bare port round trip (trivial echo host, extension page)",
            lat("native", "rttMs"), better="lower",
            note="a web page cannot call connectNative: its own floor is two relay hops higher"),
        Row("startup", "connectNative to first result (resocket hello)", median(start_ours["hello"]), "ms",
            "connectNative to first echo (trivial host)", median(start_echo["hello"]), better="lower",
            note=f"median of {connects}, a new host process each time"),
        Row("startup", "connectNative to first socket result (hello, then create)", median(start_ours["first"]),
            "ms", "connectNative to second echo (trivial host)", median(start_echo["first"]), better="lower",
            note=f"median of {connects}; what an app's first chrome.socket call waits for: the host builds "
                 "its socket engine after hello"),
    ]
    # Every contender's repeats (a list's median and count), once, on the section's first row: the same
    # dictionary on every row made each results file ~10,000 lines.
    rows[0].extra["samples"] = {k: [{f: (v if not isinstance(v, list) else {"median": median(v), "n": len(v)})
                                     for f, v in s.items()} for s in samples[k]] for k in samples}
    return rows
