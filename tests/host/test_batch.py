"""Batch frames through a real resocket-host (docs/protocol.md, "Batch frames"): a client whose hello says
`batch: true` gets the small replies to one stdin read as one `{"batch": [...]}` frame, in order; others never
see one. (Big frames, which never join a batch, are the read-ahead pushes of every browser test.)
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.hostclient import DEFAULT_ORIGIN, HostClient
from tests.support.wire import messages


def frames_after(client: HostClient, count: int, send: bytes, timeout: float = 10) -> list[dict]:
    start = len(client.raw_frames)
    client.send_raw(send)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = [json.loads(f) for f in client.raw_frames[start:]]
        if sum(len(g["batch"]) if "batch" in g else 1 for g in got) >= count:
            return got
        time.sleep(0.02)
    raise TimeoutError(f"fewer than {count} replies")


def hello(client: HostClient, **args: object) -> None:
    reply = client.request("hello", protocol=1, client="tests/1", **args)
    assert "result" in reply, reply


def test_the_replies_to_one_read_come_as_one_batch_frame_in_order(tmp_path: Path) -> None:
    from resocket.grants import GrantStore

    GrantStore.open(tmp_path).grant(DEFAULT_ORIGIN, ["tcp-connect"])  # without a grant no call reaches the engine
    client = HostClient(env={"RESOCKET_CONFIG_DIR": str(tmp_path)}, hello=False)
    try:
        hello(client, batch=True)
        got = frames_after(client, 4, messages([{"id": 10 + i, "op": "create", "args": {"type": "tcp"}}
                                              for i in range(3)] + [{"id": 13, "op": "nope"}]))
        assert len(got) == 1 and [m["id"] for m in got[0]["batch"]] == [10, 11, 12, 13]
        assert got[0]["batch"][3]["error"]["code"] == "unknown_op"  # errors are batched like replies
        assert [m["args"][0]["socketId"] for m in got[0]["batch"][:3]] == [1, 2, 3]
        # A lone reply is a plain frame.
        assert frames_after(client, 1, messages([{"id": 20, "op": "ping"}])) == [{"id": 20, "result": {}}]
    finally:
        client.close()


def test_without_batch_in_hello_every_reply_is_a_frame_of_its_own(tmp_path: Path) -> None:
    client = HostClient(env={"RESOCKET_CONFIG_DIR": str(tmp_path)}, hello=False)
    try:
        hello(client)
        got = frames_after(client, 3, messages([{"id": 10 + i, "op": "ping"} for i in range(3)]))
        assert [m["id"] for m in got] == [10, 11, 12]
    finally:
        client.close()
