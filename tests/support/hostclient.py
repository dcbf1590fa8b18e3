"""A test client that speaks native messaging to a real `resocket-host` process over pipes.

It plays the browser's part: frames out on the host's stdin, frames in from its stdout, exactly as
Chrome does (docs/protocol.md). Replies are matched to requests by id; `chunk` frames are joined.
"""
from __future__ import annotations

import base64
import itertools
import json
import os
import queue
import subprocess
import sys
import threading
from typing import Any

from tests.support.wire import DEFAULT_ORIGIN, HEADER, message


class HostClient:
    def __init__(self, origin: str = DEFAULT_ORIGIN, *, env: dict[str, str] | None = None,
                 hello: bool = True, args: list[str] | None = None, wrapper: list[str] | None = None) -> None:
        """`wrapper`: a command the host runs under (e.g. a shell that first changes its network namespace)."""
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [*(wrapper or []), sys.executable, "-m", "resocket.client.serve", origin, *(args or [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env,
        )
        self._ids = itertools.count(1)
        self._replies: dict[Any, queue.Queue] = {}
        self._lock = threading.Lock()
        self.unsolicited: queue.Queue = queue.Queue()
        self.raw_frames: list[bytes] = []
        self._chunks: dict[Any, list[bytes]] = {}
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        self.hello_result = None
        if hello:
            self.hello_result = self.request("hello", protocol=1, client="tests/1")["result"]

    # -- wire ---------------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, msg: Any) -> None:
        self.send_raw(message(msg))

    def _read_exact(self, n: int) -> bytes | None:
        assert self.proc.stdout is not None
        buf = b""
        while len(buf) < n:
            part = self.proc.stdout.read(n - len(buf))
            if not part:
                return None
            buf += part
        return buf

    def _read_loop(self) -> None:
        while True:
            head = self._read_exact(4)
            if head is None:
                break
            (n,) = HEADER.unpack(head)
            body = self._read_exact(n)
            if body is None:
                break
            self.raw_frames.append(body)
            msg = json.loads(body.decode("utf-8"))
            # A batch frame (docs/protocol.md) is its messages in order.
            for one in msg["batch"] if isinstance(msg, dict) and isinstance(msg.get("batch"), list) else [msg]:
                self._dispatch(one)
        with self._lock:
            for q in self._replies.values():
                q.put(None)

    def _dispatch(self, msg: Any) -> None:
        rid = msg.get("id") if isinstance(msg, dict) else None
        if isinstance(msg, dict) and "chunk" in msg:
            self._chunks.setdefault(rid, []).append(base64.b64decode(msg["chunk"]))
            return
        if rid in self._chunks and isinstance(msg, dict) and msg.get("args"):
            pieces = self._chunks.pop(rid)
            first = msg["args"][0]
            if isinstance(first, dict) and "data" in first:
                first["data"] = base64.b64encode(b"".join(pieces) + base64.b64decode(first["data"])).decode()
        with self._lock:
            q = self._replies.get(rid)
        if q is None:
            self.unsolicited.put(msg)
        else:
            q.put(msg)

    # -- calls --------------------------------------------------------------------------------
    def start(self, op: str, **args: Any) -> Pending:
        rid = next(self._ids)
        q: queue.Queue = queue.Queue()
        with self._lock:
            self._replies[rid] = q
        self.send({"id": rid, "op": op, "args": args})
        return Pending(self, rid, q)

    def expect(self, rid: Any) -> Pending:
        """Collect replies carrying `rid` (for requests sent by hand with send() / send_raw())."""
        q: queue.Queue = queue.Queue()
        with self._lock:
            self._replies[rid] = q
        return Pending(self, rid, q)

    def request(self, op: str, timeout: float = 10, **args: Any) -> dict:
        return self.start(op, **args).wait(timeout)

    def call(self, op: str, timeout: float = 10, **args: Any) -> Result:
        """An API call: returns Result(args, last_error)."""
        return Result.of(self.request(op, timeout=timeout, **args))

    def close(self, timeout: float = 5) -> int:
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def stderr_text(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode(errors="replace")


class Pending:
    def __init__(self, client: HostClient, rid: int, q: queue.Queue) -> None:
        self.client, self.id, self.q = client, rid, q

    def wait(self, timeout: float = 10) -> dict:
        try:
            msg = self.q.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no reply to request {self.id} within {timeout}s") from None
        if msg is None:
            raise EOFError("host closed its stdout")
        return msg

    def result(self, timeout: float = 10) -> Result:
        return Result.of(self.wait(timeout))

    def done(self) -> bool:
        return not self.q.empty()


class Result:
    def __init__(self, args: list, last_error: str | None, raw: dict) -> None:
        self.args, self.last_error, self.raw = args, last_error, raw

    @classmethod
    def of(cls, msg: dict) -> Result:
        if "error" in msg:
            raise AssertionError(f"protocol error: {msg}")
        return cls(msg["args"], msg.get("lastError"), msg)

    @property
    def value(self) -> Any:
        """The callback's single argument (undefined in JS -> None here when args is empty)."""
        return self.args[0] if self.args else None

    def data(self) -> bytes:
        return base64.b64decode(self.value["data"])

    def __repr__(self) -> str:
        return f"Result(args={self.args!r}, last_error={self.last_error!r})"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
