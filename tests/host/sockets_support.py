"""Helpers for the chrome.sockets.* host tests: event frames collected per socket, and acks."""
from __future__ import annotations

import base64
import queue
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.hostclient import HostClient


class Events:
    """Event frames (`{"event": ..., "args": [info]}`) from one host, by name; acks onReceive/onAccept."""

    def __init__(self, host: HostClient, *, auto_ack: bool = True) -> None:
        self.host, self.auto_ack = host, auto_ack
        self.seen: list[dict] = []

    def _pump(self, timeout: float) -> bool:
        try:
            msg = self.host.unsolicited.get(timeout=timeout)
        except queue.Empty:
            return False
        if not isinstance(msg, dict) or "event" not in msg:
            raise AssertionError(f"unexpected frame {msg!r}")
        self.seen.append(msg)
        name = msg["event"]
        if self.auto_ack and name in ("tcp.onReceive", "udp.onReceive", "tcpServer.onAccept"):
            self.host.start("sockets.ack", api=name.split(".")[0], socketId=msg["args"][0]["socketId"], count=1)
        return True

    def wait(self, name: str, socket_id: int | None = None, timeout: float = 10) -> dict:
        """The next not yet taken event `name` (for `socket_id`); its info object."""
        deadline = time.monotonic() + timeout
        while True:
            for msg in self.seen:
                info = msg["args"][0]
                if msg["event"] == name and (socket_id is None or info["socketId"] == socket_id) \
                        and not msg.get("taken"):
                    msg["taken"] = True
                    return info
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {name} for socket {socket_id} within {timeout}s; seen {self.names()}")
            self._pump(left)

    def drain(self, quiet: float = 0.3) -> None:
        """Collect whatever arrives until `quiet` seconds pass with nothing (only to see nothing more comes)."""
        while self._pump(quiet):
            pass

    def received(self, name: str, socket_id: int, size: int, timeout: float = 20) -> bytes:
        """Join onReceive data for `socket_id` until `size` bytes arrived."""
        parts, got = [], 0
        while got < size:
            parts.append(base64.b64decode(self.wait(name, socket_id, timeout)["data"]))
            got += len(parts[-1])
            self.seen = [m for m in self.seen if not m.get("taken")]  # keep the scan short
        return b"".join(parts)

    def names(self) -> list[str]:
        return [m["event"] for m in self.seen]

    def untaken(self, name: str, socket_id: int) -> list[dict]:
        return [m["args"][0] for m in self.seen
                if m["event"] == name and m["args"][0]["socketId"] == socket_id and not m.get("taken")]


def call(host: HostClient, op: str, **args: Any) -> tuple[list, str | None]:
    result = host.call(op, **args)
    return result.args, result.last_error
