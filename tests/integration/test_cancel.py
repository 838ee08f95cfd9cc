"""Cancel: a pending job is cancelled at once and never runs; a running one is stopped."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest

from conveyor import Context, Conveyor, JobCancelled, JobNotFound, JobState, Task

from .support import HEARTBEAT, running_worker, wait_for, work_off

ran: list[str] = []


@pytest.fixture(autouse=True)
def _forget() -> None:
    ran.clear()


async def send(to: str) -> None:
    ran.append(to)


async def crunch(ctx: Context = Context.INJECTED) -> None:
    ran.append("started")
    await asyncio.sleep(10)
    ran.append("finished")


def crunch_sync(ctx: Context = Context.INJECTED) -> str:
    ran.append("started")
    deadline = time.monotonic() + 5
    while not ctx.cancelled and time.monotonic() < deadline:
        time.sleep(0.01)
    return "stopped early" if ctx.cancelled else "finished"


@pytest.mark.parametrize("delay", [0, 30], ids=["queued", "scheduled"])
async def test_a_pending_job_is_cancelled_at_once_and_never_runs(
    app: Conveyor, delay: float
) -> None:
    task: Task[..., Any] = app.task(send)

    handle = await task.options(delay=delay).enqueue("a@b.c")
    state = await handle.cancel()
    worker = await work_off(app)

    assert state is JobState.CANCELLED
    assert await handle.status() is JobState.CANCELLED
    assert ran == []
    assert worker.processed == 0
    with pytest.raises(JobCancelled):
        await handle.result(timeout=1)


async def test_a_running_async_job_is_cancelled_at_the_next_heartbeat(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(crunch)

    handle = await task.enqueue()
    async with running_worker(app):
        await wait_for(handle, JobState.ACTIVE)
        asked = time.monotonic()
        state = await handle.cancel()
        with pytest.raises(JobCancelled):
            await handle.result(timeout=5)
        took = time.monotonic() - asked

    assert state is JobState.ACTIVE, "a running job is asked to stop, not cancelled at once"
    assert took < HEARTBEAT + 1.0
    assert ran == ["started"]
    info = await handle.info()
    assert info.state is JobState.CANCELLED
    assert info.cancel_requested
    assert info.error is not None
    assert info.error.reason == "cancelled"


async def test_a_sync_job_that_stops_when_asked_ends_cancelled(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(crunch_sync)

    handle = await task.enqueue()
    async with running_worker(app):
        await wait_for(handle, JobState.ACTIVE)
        await handle.cancel()
        with contextlib.suppress(JobCancelled):
            await handle.result(timeout=5)

    info = await handle.info()
    assert info.cancel_requested
    assert info.state is JobState.CANCELLED, f"the stopped job ended {info.state}"


async def test_cancelling_a_finished_job_changes_nothing(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(send)

    handle = await task.enqueue("a@b.c")
    await work_off(app)

    assert await handle.cancel() is JobState.SUCCEEDED
    assert await handle.result(timeout=1) is None


async def test_cancelling_an_unknown_job_raises_job_not_found(app: Conveyor) -> None:
    with pytest.raises(JobNotFound, match="no-such-job"):
        await app.job("no-such-job").cancel()
