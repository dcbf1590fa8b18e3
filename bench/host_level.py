"""Section 1, host level, no browser: a client speaking the framing over pipes to `resocket-host`.

- echo throughput: 64 KiB writes sent as the shim sends them (one `write` frame of base64), one
  `read` of 64 KiB always pending, at most WINDOW bytes written and not yet echoed back.
  Baselines: the same traffic on a plain Python loopback socket (the OS ceiling for a Python program), and
  the same frames echoed by the trivial pipe echo host (the framing's own ceiling, no sockets).
- write round trips: one 64-byte `write` at a time (to a discard server) until its reply; round trips/s.
  Baseline: a 64-byte echo round trip on a plain loopback socket.
"""
from __future__ import annotations

import base64
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from resocket.wire.protocol import AHEAD_WINDOW

from bench.common import REPO, Row, Rpc, grant_config, host_cmd, median
from bench.echoserver import EchoServers

SECTION = "host"
BLOCK = 64 * 1024
WINDOW = 1024 * 1024


def resocket_echo(rpc: Rpc, port: int, total: int) -> float:
    """MB/s of echoed bytes through the host."""
    sid = rpc.call("create", type="tcp")["args"][0]["socketId"]
    assert rpc.call("connect", socketId=sid, hostname="127.0.0.1", port=port)["args"] == [0]
    block = os.urandom(BLOCK)
    write_tpl = (b'{"id":%d,"op":"write","args":{"socketId":' + str(sid).encode() + b',"data":"'
                 + base64.b64encode(block) + b'"}}')
    read_tpl = b'{"id":%d,"op":"read","args":{"socketId":' + str(sid).encode() + b',"bufferSize":65536}}'
    cv = threading.Condition()
    state = {"received": 0, "read_id": 0, "errors": 0}
    from bench.common import frame

    def send_read() -> None:
        rid = rpc.new_id()
        state["read_id"] = rid
        rpc.pipe.send_raw(frame(read_tpl % rid))

    def hook(msg: Any) -> bool:
        rid = msg.get("id")
        if rid != state["read_id"]:
            if "args" in msg and msg["args"] and isinstance(msg["args"][0], dict) and msg["args"][0].get(
                    "bytesWritten") == BLOCK:
                return True
            return "chunk" in msg
        if "chunk" in msg:
            return True
        code = msg["args"][0]["resultCode"]
        with cv:
            if code <= 0:
                state["errors"] += 1
                cv.notify_all()
                return True
            state["received"] += code
            cv.notify_all()
        if state["received"] < total:
            send_read()
        return True

    rpc.hook = hook
    t0 = time.perf_counter()
    send_read()
    written = 0
    while written < total:
        with cv:
            while written - state["received"] > WINDOW - BLOCK and not state["errors"]:
                cv.wait(5)
            if state["errors"]:
                raise RuntimeError("read failed during the echo benchmark")
        rid = rpc.new_id()
        rpc.pipe.send_raw(frame(write_tpl % rid))
        written += BLOCK
    with cv:
        while state["received"] < total and not state["errors"]:
            if not cv.wait(30):
                raise TimeoutError("echo did not complete")
    elapsed = time.perf_counter() - t0
    rpc.hook = None
    rpc.call("destroy", socketId=sid)
    return total / elapsed / 1e6


def resocket_echo_ahead(rpc: Rpc, port: int, total: int) -> float:
    """MB/s echoed with read-ahead, as the shim reads: one `read` with `stream: true`, then the host pushes
    `socket.data` events and the client acknowledges every quarter window with `socket.ack` notices (sent by
    this thread: the reader thread must never block on a write, or both pipes could fill)."""
    from bench.common import frame

    sid = rpc.call("create", type="tcp")["args"][0]["socketId"]
    assert rpc.call("connect", socketId=sid, hostname="127.0.0.1", port=port)["args"] == [0]
    block = os.urandom(BLOCK)
    write_tpl = (b'{"id":%d,"op":"write","args":{"socketId":' + str(sid).encode() + b',"data":"'
                 + base64.b64encode(block) + b'"}}')
    cv = threading.Condition()
    state: dict[str, Any] = {"received": 0, "stream": None, "read_id": rpc.new_id()}

    def hook(msg: Any) -> bool:
        for item in msg.get("batch", [msg]):
            if item.get("event") == "socket.data":
                n = len(base64.b64decode(item["args"][0]["data"]))
            elif item.get("id") == state["read_id"] and "chunk" in item:  # the first read's reply, split
                n = len(base64.b64decode(item["chunk"]))
            elif item.get("id") == state["read_id"]:
                first = item["args"][0]
                state["stream"] = first.get("stream")
                n = len(base64.b64decode(first["data"])) if first["resultCode"] > 0 else 0
            else:
                continue  # write replies
            with cv:
                state["received"] += n
                cv.notify_all()
        return True

    rpc.hook = hook
    t0 = time.perf_counter()
    rpc.pipe.send({"id": state["read_id"], "op": "read",
                   "args": {"socketId": sid, "bufferSize": BLOCK, "stream": True}})
    written = acked = 0
    while True:
        with cv:
            while (state["received"] < total and state["received"] - acked < AHEAD_WINDOW // 4
                   and (written >= total or written - state["received"] > WINDOW - BLOCK)):
                if not cv.wait(30):
                    raise TimeoutError("echo did not complete")
            received, stream = state["received"], state["stream"]
        if received >= total:
            break
        if received - acked >= AHEAD_WINDOW // 4 and stream is not None:
            acked = received
            rpc.pipe.send({"op": "socket.ack", "args": {"socketId": sid, "stream": stream, "consumed": acked}})
        if written < total and written - received <= WINDOW - BLOCK:
            rpc.pipe.send_raw(frame(write_tpl % rpc.new_id()))
            written += BLOCK
    elapsed = time.perf_counter() - t0
    rpc.hook = None
    rpc.call("destroy", socketId=sid)
    return total / elapsed / 1e6


def resocket_write_rtt(rpc: Rpc, port: int, count: int) -> list[float]:
    """Seconds per sequential 64-byte write (request sent -> reply received)."""
    sid = rpc.call("create", type="tcp")["args"][0]["socketId"]
    assert rpc.call("connect", socketId=sid, hostname="127.0.0.1", port=port)["args"] == [0]
    data = base64.b64encode(os.urandom(64)).decode()
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        reply = rpc.call("write", socketId=sid, data=data)
        times.append(time.perf_counter() - t0)
        assert reply["args"][0]["bytesWritten"] == 64, reply
    rpc.call("destroy", socketId=sid)
    return times


def plain_echo(port: int, total: int) -> float:
    """MB/s of the same traffic (64 KiB sends, same window) on a plain Python loopback socket."""
    block = os.urandom(BLOCK)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        got = [0]
        cv = threading.Condition()

        def reader() -> None:
            while got[0] < total:
                n = len(sock.recv(BLOCK))
                if not n:
                    break
                with cv:
                    got[0] += n
                    cv.notify_all()

        t0 = time.perf_counter()
        th = threading.Thread(target=reader, daemon=True)
        th.start()
        written = 0
        while written < total:
            with cv:
                while written - got[0] > WINDOW - BLOCK:
                    cv.wait(5)
            sock.sendall(block)
            written += BLOCK
        th.join(60)
        return total / (time.perf_counter() - t0) / 1e6


def plain_rtt(port: int, count: int) -> list[float]:
    data = os.urandom(64)
    times = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            t0 = time.perf_counter()
            sock.sendall(data)
            n = 0
            while n < 64:
                n += len(sock.recv(64 - n))
            times.append(time.perf_counter() - t0)
    return times


def pipe_echo(total: int) -> float:
    """MB/s of the same frames (one `write` frame per 64 KiB) through the trivial pipe echo host."""
    from bench.common import PipeHost, frame

    block = os.urandom(BLOCK)
    cv = threading.Condition()
    got = [0]

    def on_message(body: bytes) -> None:
        with cv:
            got[0] += BLOCK
            cv.notify_all()

    pipe = PipeHost([sys.executable, str(REPO / "bench" / "nm_echo.py")], on_message=on_message, parse=False)
    wire = frame(b'{"id":1,"op":"write","args":{"socketId":1,"data":"' + base64.b64encode(block) + b'"}}')
    t0 = time.perf_counter()
    written = 0
    while written < total:
        with cv:
            while written - got[0] > WINDOW - BLOCK:
                cv.wait(5)
        pipe.send_raw(wire)
        written += BLOCK
    with cv:
        while got[0] < total:
            if not cv.wait(30):
                raise TimeoutError("pipe echo did not complete")
    elapsed = time.perf_counter() - t0
    pipe.close()
    return total / elapsed / 1e6


def run(smoke: bool) -> list[Row]:
    total = (4 if smoke else 64) * 1024 * 1024
    count = 200 if smoke else 3000
    repeats = 1 if smoke else 3
    rows: list[Row] = []
    with EchoServers() as servers, tempfile.TemporaryDirectory() as tmp:
        env = grant_config(Path(tmp), host_cmd()[-1], ["tcp-connect:127.0.0.1:*"])
        rpc = Rpc(host_cmd(), env)
        try:
            assert "result" in rpc.call("hello", protocol=1, client="bench/1"), "hello failed"
            ours = median([resocket_echo(rpc, servers.echo_port, total) for _ in range(repeats)])
            ahead = median([resocket_echo_ahead(rpc, servers.echo_port, total) for _ in range(repeats)])
            plain = median([plain_echo(servers.echo_port, total) for _ in range(repeats)])
            pipe = median([pipe_echo(total) for _ in range(repeats)])
            from bench import datachannel

            over_dc = median([datachannel.echo(rpc, servers.echo_port, total) for _ in range(repeats)])
            rtt = resocket_write_rtt(rpc, servers.discard_port, count)
            base_rtt = plain_rtt(servers.echo_port, count)
        finally:
            rpc.close()
    rows.append(Row(SECTION, "echo throughput via resocket-host", ours, "MB/s",
                    "plain Python loopback socket", plain, note=f"{total >> 20} MiB, 64 KiB writes, 1 MiB window"))
    rows.append(Row(SECTION, "echo throughput via resocket-host", ours, "MB/s",
                    "same frames through a trivial pipe echo host", pipe, note="framing ceiling, no sockets"))
    rows.append(Row(SECTION, "echo throughput via resocket-host, read-ahead", ahead, "MB/s",
                    "same frames through a trivial pipe echo host", pipe,
                    note="one read with stream: true, then socket.data pushes and socket.ack notices"))
    rows.append(Row(SECTION, "echo throughput via resocket-host, data channel", over_dc, "MB/s",
                    "plain Python loopback socket", plain,
                    note="payloads as binary WebSocket messages (dataRef / dataChannel reads), control on "
                         "native messaging"))
    rps, base_rps = 1 / median(rtt), 1 / median(base_rtt)
    rows.append(Row(SECTION, "write round trips (64 B, sequential)", rps, "1/s",
                    "plain socket 64 B echo round trip", base_rps,
                    extra={"median_ms": median(rtt) * 1e3, "baseline_median_ms": median(base_rtt) * 1e3}))
    return rows
