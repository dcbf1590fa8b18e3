"""The engine's safety net for its own coroutines: a request is answered once even if the code answering it
fails (docs/architecture.md: every request gets exactly one reply)."""
from __future__ import annotations

import queue

from resocket.chrome.permissions import RuleSet
from resocket.engine.loop import Engine
from resocket.engine.services import NativeOutput, PendingCall


def test_a_task_that_fails_before_answering_answers_its_call_with_internal() -> None:
    out: queue.Queue = queue.Queue()
    engine = Engine(NativeOutput(out.put), RuleSet.parse([])[0])
    try:
        async def broken(call: PendingCall) -> None:
            raise ValueError("a bug")

        async def answers_then_fails(call: PendingCall) -> None:
            call.reply(0)
            raise ValueError("a bug after the answer")

        def start() -> None:
            for req_id, coro, named in ((7, broken, True), (8, answers_then_fails, True), (9, broken, False)):
                call = PendingCall(engine, req_id)
                engine.spawn(coro(call), call if named else None)  # 9: no call named, logged only

        engine.loop.call_soon_threadsafe(start)
        got = sorted((out.get(timeout=5), out.get(timeout=5)), key=lambda m: m["id"])
        assert got == [{"id": 7, "error": {"code": "internal", "message": "ValueError: a bug"}},
                       {"id": 8, "args": [0]}]
        assert out.empty()
    finally:
        engine.shutdown()
