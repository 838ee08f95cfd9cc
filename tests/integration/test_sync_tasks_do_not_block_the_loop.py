"""Sync tasks run in threads: the worker's loop keeps running async jobs while one sleeps."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from conveyor import Conveyor, Task

from .support import work_off

ticks: list[float] = []
sleeps: list[tuple[float, float]] = []


@pytest.fixture(autouse=True)
def _forget() -> None:
    ticks.clear()
    sleeps.clear()


def blocking_sleep(seconds: float) -> None:
    started = time.monotonic()
    time.sleep(seconds)
    sleeps.append((started, time.monotonic()))


async def ticker(count: int) -> None:
    for _ in range(count):
        ticks.append(time.monotonic())
        await asyncio.sleep(0.02)


async def test_an_async_task_keeps_ticking_while_a_sync_task_sleeps(app: Conveyor) -> None:
    sleeper: Task[..., Any] = app.task(blocking_sleep)
    tick: Task[..., Any] = app.task(ticker)

    await sleeper.enqueue(0.4)
    await tick.enqueue(15)
    await work_off(app, concurrency=2)

    [(started, ended)] = sleeps
    during = [t for t in ticks if started < t < ended]
    assert len(ticks) == 15
    assert len(during) >= 5, f"only {len(during)} ticks while the thread slept: the loop blocked"


async def test_sync_tasks_run_side_by_side_in_threads(app: Conveyor) -> None:
    sleeper: Task[..., Any] = app.task(blocking_sleep)

    await app.enqueue_many([sleeper.s(0.3) for _ in range(4)])
    started = time.monotonic()
    await work_off(app, concurrency=4)
    elapsed = time.monotonic() - started

    assert len(sleeps) == 4
    assert elapsed < 0.9, f"four 0.3 s sleeps took {elapsed:.2f} s: they ran one by one"
