"""client.serve.Client in-process with a stand-in engine: what the wiring does when the engine misbehaves.

The real engine is exercised through a real host process in test_host_process.py and the engine's own
tests; these cases need an engine that raises or answers badly on purpose.
"""
from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest
from resocket.client.serve import DEFAULT_MAX_SOCKETS, DEFAULT_WRITE_QUOTA, Client
from resocket.client.transport import FrameWriter, read_frames
from resocket.wire.framing import OUTBOUND_LIMIT, RawJSON
from resocket.wire.protocol import api_reply

ORIGIN = "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"


class StandInEngine:
    instances: ClassVar[list[StandInEngine]] = []

    def __init__(self, output: Any, rules: Any, *, write_quota: int, max_sockets: int, write_behind: bool,
                 wide: bool) -> None:
        self.emit, self.rules, self.write_quota, self.max_sockets = output.emit, rules, write_quota, max_sockets
        self.handled: list[tuple[int, str, dict]] = []
        self.shut_down = False
        self.threads: list[threading.Thread] = []
        StandInEngine.instances.append(self)

    def handle(self, req_id: int, op: str, args: dict) -> None:
        self.handled.append((req_id, op, args))
        if op == "getInfo":
            raise KeyError("boom")
        if op == "read":
            self.emit(RawJSON(f'{{"id":{req_id},"args":[{{"resultCode":0,"data":""}}]}}', req_id))
        if op == "write":
            self.emit(api_reply(req_id, ["x" * OUTBOUND_LIMIT]))
        if op == "accept":
            worker = threading.Thread(target=self.emit, args=(api_reply(req_id, [{"resultCode": 0}]),))
            self.threads.append(worker)
            worker.start()

    def shutdown(self) -> None:
        self.shut_down = True


def replies(out: io.BytesIO) -> list[dict]:
    return [m for m in read_frames(io.BytesIO(out.getvalue()))]


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Client, io.BytesIO]:
    monkeypatch.setenv("RESOCKET_CONFIG_DIR", str(tmp_path))
    from resocket.grants import GrantStore

    GrantStore.open(tmp_path).grant(ORIGIN, ["tcp-connect"])  # an origin with no grant gets no engine
    monkeypatch.setattr("resocket.engine.loop.Engine", StandInEngine)
    StandInEngine.instances.clear()
    out = io.BytesIO()
    h = Client(ORIGIN, FrameWriter(out), {"RESOCKET_WRITE_QUOTA": "1", "RESOCKET_MAX_SOCKETS": "nonsense"})
    h.receive({"id": 1, "op": "hello", "args": {"protocol": 1, "client": "t"}})
    return h, out


def test_hello_creates_the_engine_with_the_quota_and_socket_cap_from_the_environment(host: Any) -> None:
    _, out = host
    [engine] = StandInEngine.instances
    assert engine.write_quota == 1
    assert engine.max_sockets == DEFAULT_MAX_SOCKETS  # an unusable value falls back to the default
    assert replies(out)[0]["result"]["origin"] == ORIGIN
    assert DEFAULT_WRITE_QUOTA == 209715200


def test_engine_exception_becomes_an_internal_error_and_frees_the_id(host: Any) -> None:
    h, out = host
    h.receive({"id": 5, "op": "getInfo", "args": {"socketId": 1}})
    h.receive({"id": 5, "op": "getInfo", "args": {"socketId": 1}})
    errors = replies(out)[1:]
    assert [(e["id"], e["error"]["code"]) for e in errors] == [(5, "internal"), (5, "internal")]
    assert "KeyError" in errors[0]["error"]["message"] and "getInfo" in errors[0]["error"]["message"]


def test_raw_json_final_reply_frees_its_id(host: Any) -> None:
    h, out = host
    h.receive({"id": 6, "op": "read", "args": {"socketId": 1}})
    assert h.session.in_flight() == frozenset()
    assert replies(out)[1] == {"id": 6, "args": [{"resultCode": 0, "data": ""}]}


def test_reply_too_large_for_chrome_becomes_an_internal_error(host: Any) -> None:
    h, out = host
    h.receive({"id": 7, "op": "write", "args": {"socketId": 1, "data": ""}})
    reply = replies(out)[1]
    assert (reply["id"], reply["error"]["code"]) == (7, "internal")


def test_replies_from_other_threads_arrive_whole_and_shutdown_reaches_the_engine(host: Any) -> None:
    h, out = host
    for rid in range(10, 60):
        h.receive({"id": rid, "op": "accept", "args": {"socketId": 1}})
    for worker in StandInEngine.instances[0].threads:
        worker.join(5)
    got = sorted(m["id"] for m in replies(out)[1:])
    assert got == list(range(10, 60))
    h.shutdown()
    assert StandInEngine.instances[0].shut_down

