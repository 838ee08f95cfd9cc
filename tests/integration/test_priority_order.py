"""Higher priority runs first; equal priorities run in the order they were enqueued."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Conveyor, Task

from .support import work_off

order: list[str] = []


@pytest.fixture(autouse=True)
def _forget_order() -> None:
    order.clear()


async def step(name: str) -> None:
    order.append(name)


async def test_a_single_slot_worker_runs_jobs_by_priority_then_age(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(step)
    for name, priority in [("low", -1), ("a", 0), ("urgent", 10), ("b", 0), ("high", 5)]:
        await task.options(priority=priority).enqueue(name)

    await work_off(app, concurrency=1)

    assert order == ["urgent", "high", "a", "b", "low"]


async def test_the_task_default_priority_applies_unless_overridden(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(priority=3)(step)

    plain = await task.enqueue("plain")
    lowered = await task.options(priority=0).enqueue("lowered")

    assert (await plain.info()).priority == 3
    assert (await lowered.info()).priority == 0
