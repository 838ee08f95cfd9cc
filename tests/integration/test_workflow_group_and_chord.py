"""A group's results come back in member order; a chord's callback gets them all, once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from conveyor import Conveyor, JobFailed, JobState, group

from .support import LIMIT, running_worker, settle


async def square(n: int) -> int:
    return n * n


def total(values: list[int], offset: int = 0) -> dict[str, Any]:
    return {"values": values, "sum": sum(values) + offset}


async def odd_fails(n: int) -> int:
    if n % 2:
        raise RuntimeError(f"{n} is odd")
    return n


async def test_group_results_come_in_member_order(app: Conveyor) -> None:
    sq = app.task(square)

    workflow = await group(sq.s(n) for n in range(8)).enqueue()
    async with running_worker(app, concurrency=8):
        await settle(workflow)

    assert await workflow.result(timeout=5) == [n * n for n in range(8)]
    assert await workflow.status() is JobState.SUCCEEDED
    assert len(await workflow.steps()) == 8


async def test_a_chords_callback_runs_once_with_every_result(app: Conveyor) -> None:
    sq = app.task(square)
    cb = app.task(total)

    workflow = await group(sq.s(n) for n in range(6)).then(cb.step(offset=100)).enqueue()
    backend = await app.connected()
    join_ids = [f"{workflow.id}:join:{n}" for n in range(6)]

    async def joins_done() -> bool:
        joins = [await backend.get(job_id) for job_id in join_ids]
        return all(j is not None and j.state is JobState.SUCCEEDED for j in joins)

    async with running_worker(app, concurrency=6):
        await settle(workflow)
        # the callback may finish before the other members' join checks are acknowledged
        deadline = time.monotonic() + LIMIT
        while not await joins_done():
            assert time.monotonic() < deadline, "a join check never succeeded"
            await asyncio.sleep(0.01)

    expected = [n * n for n in range(6)]
    assert await workflow.result(timeout=5) == {"values": expected, "sum": sum(expected) + 100}
    assert await workflow.status() is JobState.SUCCEEDED
    steps = await workflow.steps()
    assert [s.id for s in steps][-1] == f"{workflow.id}:callback"
    callback = await steps[-1].info()
    assert callback.attempts == 1


async def test_a_failed_member_fails_the_chord_and_the_callback_never_runs(
    app: Conveyor,
) -> None:
    flaky = app.task(retries=0)(odd_fails)
    cb = app.task(total)

    workflow = await group(flaky.s(n) for n in range(4)).then(cb.step()).enqueue()
    async with running_worker(app, concurrency=4):
        await settle(workflow)

    assert await workflow.status() is JobState.FAILED
    with pytest.raises(JobFailed) as caught:
        await workflow.result(timeout=5)
    assert caught.value.job_id == f"{workflow.id}:1"
    backend = await app.connected()
    assert await backend.get(f"{workflow.id}:callback") is None
