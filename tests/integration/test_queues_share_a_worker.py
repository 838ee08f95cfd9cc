"""A worker of several queues serves them in turn, by weight, not the busiest first."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conveyor import Conveyor, Task, Worker
from conveyor.errors import ConfigurationError

from .support import LEASE, LIMIT

order: list[str] = []


@pytest.fixture(autouse=True)
def _forget_order() -> None:
    order.clear()


async def step(queue: str) -> None:
    order.append(queue)


async def enqueue_each(app: Conveyor, jobs: dict[str, int]) -> None:
    task: Task[..., Any] = app.task(step)
    for queue, count in jobs.items():
        for _ in range(count):
            await task.options(queue=queue).enqueue(queue)


async def run_burst(app: Conveyor, queues: list[str] | dict[str, int]) -> None:
    worker = Worker(app, queues=queues, concurrency=1, burst=True, lease=LEASE, heartbeat=1.0)
    async with asyncio.timeout(LIMIT):
        await worker.run()


async def test_a_busy_queue_waits_its_turn(app: Conveyor) -> None:
    await enqueue_each(app, {"busy": 20, "quiet": 3})

    await run_burst(app, ["busy", "quiet"])

    assert order[:6] == ["busy", "quiet"] * 3
    assert order.count("busy") == 20


async def test_weights_set_each_queues_share(app: Conveyor) -> None:
    await enqueue_each(app, {"high": 30, "low": 30})

    await run_burst(app, {"high": 3, "low": 1})

    assert order[:20].count("high") == 15
    assert len(order) == 60


def test_a_weight_out_of_range_is_refused(app: Conveyor) -> None:
    with pytest.raises(ConfigurationError, match="weight"):
        Worker(app, queues={"high": 0})
