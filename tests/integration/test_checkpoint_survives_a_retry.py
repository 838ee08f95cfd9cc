"""A checkpoint saved by one attempt is what the next attempt reads as `ctx.checkpoint`."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Context, Conveyor, Task

from .support import running_worker

seen: list[tuple[int, Any]] = []


@pytest.fixture(autouse=True)
def _forget() -> None:
    seen.clear()


async def migrate(total: int, ctx: Context = Context.INJECTED) -> int:
    seen.append((ctx.attempt, ctx.checkpoint))
    start = ctx.checkpoint["next"] if ctx.checkpoint else 0
    if ctx.attempt == 1:
        await ctx.save_checkpoint({"next": total // 2, "note": "first half done"})
        raise ConnectionError("lost the database half way")
    return total - start


async def test_the_second_attempt_resumes_from_the_first_attempts_checkpoint(
    app: Conveyor,
) -> None:
    task: Task[..., Any] = app.task(retries=1, backoff="constant", backoff_base=0.01)(migrate)

    handle = await task.enqueue(10)
    async with running_worker(app):
        assert await handle.result(timeout=5) == 5

    assert seen == [(1, None), (2, {"next": 5, "note": "first half done"})]
