"""Cancelling a workflow cancels its pending steps, and no later step is enqueued."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conveyor import (
    Conveyor,
    JobCancelled,
    JobHandle,
    JobState,
    WorkflowHandle,
    chain,
    group,
)

from .support import running_worker, wait_for, work_off


async def hold(value: int) -> int:
    await asyncio.Event().wait()  # runs until the worker cancels it
    return value


async def plus_one(value: int) -> int:
    return value + 1


async def test_cancelling_a_chain_stops_its_running_step_and_the_rest(app: Conveyor) -> None:
    wait = app.task(hold)
    inc = app.task(plus_one)

    workflow = await chain(inc.s(0), wait.step(), inc.step(), inc.step()).enqueue()
    async with running_worker(app):
        steps = await _steps_until(workflow, 2)
        await wait_for(steps[1], JobState.ACTIVE)
        await workflow.cancel()
        with pytest.raises(JobCancelled):
            await workflow.result(timeout=5)

    assert await workflow.status() is JobState.CANCELLED
    states = [await s.status() for s in await workflow.steps()]
    assert states == [
        JobState.SUCCEEDED,
        JobState.CANCELLED,
        JobState.CANCELLED,
        JobState.CANCELLED,
    ]
    backend = await app.connected()
    for later in (2, 3):
        record = await backend.get(f"{workflow.id}:{later}")
        assert record is not None
        assert record.attempts == 0, "a step after the cancel ran"


async def test_cancelling_a_queued_chord_cancels_members_and_callback(app: Conveyor) -> None:
    inc = app.task(plus_one)

    workflow = await group(inc.s(n) for n in range(3)).then(inc.step()).enqueue()
    assert await workflow.cancel() is JobState.CANCELLED
    await work_off(app)

    with pytest.raises(JobCancelled):
        await workflow.result(timeout=5)
    backend = await app.connected()
    callback = await backend.get(f"{workflow.id}:callback")
    assert callback is not None
    assert callback.state is JobState.CANCELLED
    assert [await s.status() for s in await workflow.steps()] == [JobState.CANCELLED] * 4


async def _steps_until(workflow: WorkflowHandle, count: int) -> list[JobHandle[Any]]:
    for _ in range(1000):
        steps = await workflow.steps()
        if len(steps) >= count:
            return steps
        await asyncio.sleep(0.01)
    raise AssertionError(f"the workflow never had {count} steps")
