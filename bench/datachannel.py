"""Host-level echo over the data channel (docs/protocol.md, "Data channel"): writes name their payload with
`dataRef` (sent as a binary WebSocket message first), reads ask for `dataChannel: true`. Same traffic shape
as host_level.resocket_echo (64 KiB writes, one 64 KiB read pending, 1 MiB window), so the rows compare."""
from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import threading
import time
from typing import Any
from urllib.parse import urlparse

from bench.common import BENCH_ORIGIN, Rpc, frame

BLOCK = 64 * 1024
WINDOW = 1024 * 1024


class Ws:
    """A minimal WebSocket client (masked binary frames), enough for the benchmark."""

    def __init__(self, url: str, token: str, origin: str) -> None:
        parts = urlparse(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{token} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Origin: {origin}\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(4096)
        assert b" 101 " in head.split(b"\r\n", 1)[0], head
        assert base64.b64encode(hashlib.sha1(key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()) in head
        self.buffer = head.split(b"\r\n\r\n", 1)[1]

    def send_data(self, ref: int, data: bytes) -> None:
        payload = struct.pack("!Q", ref) + data
        n, mask = len(payload), os.urandom(4)
        key = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")
        self.sock.sendall(struct.pack("!BBQ", 0x82, 0x80 | 127, n) + mask + masked)

    def _exact(self, n: int) -> bytes:
        while len(self.buffer) < n:
            more = self.sock.recv(1 << 20)
            if not more:
                raise EOFError
            self.buffer += more
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def recv_data(self) -> bytes:
        _, b1 = self._exact(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self._exact(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self._exact(8))
        return self._exact(n)[8:]


def _open(rpc: Rpc) -> dict:
    """datachannel.open; while the host has not yet seen the previous repeat's connection close (its EOF and
    this request race on the host's loop), it answers "already open": ask again."""
    for _ in range(200):
        opened = rpc.call("datachannel.open")
        if "result" in opened or "already open" not in str(opened.get("error")):
            break
        time.sleep(0.01)
    if "result" not in opened:
        raise RuntimeError(f"datachannel.open failed: {opened}")
    return opened


def echo(rpc: Rpc, port: int, total: int) -> float:
    """MB/s of echoed bytes through the host, payloads on the data channel."""
    opened = _open(rpc)
    ws = Ws(opened["result"]["url"], opened["result"]["token"], BENCH_ORIGIN.rstrip("/"))
    sid = rpc.call("create", type="tcp")["args"][0]["socketId"]
    assert rpc.call("connect", socketId=sid, hostname="127.0.0.1", port=port)["args"] == [0]
    block = os.urandom(BLOCK)
    write_tpl = b'{"id":%d,"op":"write","args":{"socketId":' + str(sid).encode() + b',"dataRef":%d}}'
    read_tpl = (b'{"id":%d,"op":"read","args":{"socketId":' + str(sid).encode()
                + b',"bufferSize":65536,"dataChannel":true}}')
    cv = threading.Condition()
    state = {"received": 0, "read_id": 0, "errors": 0}
    got = {"bytes": 0}

    def drain() -> None:
        try:
            while got["bytes"] < total:
                got["bytes"] += len(ws.recv_data())
        except (EOFError, OSError):
            pass

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()

    def send_read() -> None:
        rid = rpc.new_id()
        state["read_id"] = rid
        rpc.pipe.send_raw(frame(read_tpl % rid))

    def hook(msg: Any) -> bool:
        if msg.get("id") != state["read_id"]:
            return "args" in msg and bool(msg["args"]) and isinstance(msg["args"][0], dict) \
                and msg["args"][0].get("bytesWritten") == BLOCK
        code = msg["args"][0]["resultCode"]
        with cv:
            if code <= 0:
                state["errors"] += 1
            else:
                state["received"] += code
            cv.notify_all()
        if code > 0 and state["received"] < total:
            send_read()
        return True

    rpc.hook = hook
    t0 = time.perf_counter()
    send_read()
    written = 0
    ref = 0
    while written < total:
        with cv:
            while written - state["received"] > WINDOW - BLOCK and not state["errors"]:
                cv.wait(5)
            if state["errors"]:
                raise RuntimeError("read failed during the data channel benchmark")
        ref += 1
        ws.send_data(ref, block)
        rpc.pipe.send_raw(frame(write_tpl % (rpc.new_id(), ref)))
        written += BLOCK
    with cv:
        while state["received"] < total and not state["errors"]:
            if not cv.wait(30):
                raise TimeoutError("echo did not complete")
    drainer.join(30)
    elapsed = time.perf_counter() - t0
    rpc.hook = None
    assert got["bytes"] == total, (got["bytes"], total)
    rpc.call("destroy", socketId=sid)
    ws.sock.close()
    return total / elapsed / 1e6
