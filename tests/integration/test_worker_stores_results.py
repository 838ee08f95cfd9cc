"""A job that returns ends `succeeded` with its result stored, whether async or sync."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conveyor import Conveyor, JobState, Task

from .support import work_off


async def add_async(a: int, b: int) -> int:
    return a + b


def add_sync(a: int, b: int) -> int:
    return a + b


@pytest.mark.parametrize("function", [add_async, add_sync], ids=["async", "sync"])
async def test_a_successful_job_stores_its_result(
    app: Conveyor, function: Callable[..., Any]
) -> None:
    task: Task[..., Any] = app.task(function)

    handle = await task.enqueue(2, 3)
    worker = await work_off(app)

    assert await handle.result(timeout=5) == 5
    info = await handle.info()
    assert info.state is JobState.SUCCEEDED
    assert (info.attempts, info.error) == (1, None)
    assert info.started_at is not None
    assert info.finished_at is not None
    assert info.enqueued_at <= info.started_at <= info.finished_at
    assert worker.processed == 1


async def test_the_stored_result_is_the_encoded_return_value(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(add_async)

    handle = await task.enqueue(20, 22)
    await work_off(app)

    stored = await (await app.connected()).get(handle.id)
    assert stored is not None
    assert stored.result == b"42"
