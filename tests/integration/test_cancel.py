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
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        ran.append("saw CancelledError")
        raise
    ran.append("finished")


async def crunch_then_return(ctx: Context = Context.INJECTED) -> str:
    """Swallows the cancellation and returns as if it had finished."""
    ran.append("started")
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        ran.append("saw CancelledError")
        return "stopped early"
    return "finished"


async def crunch_then_raise(ctx: Context = Context.INJECTED) -> None:
    """Turns the cancellation into an error of its own."""
    ran.append("started")
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        ran.append("saw CancelledError")
        raise RuntimeError("interrupted") from None


def crunch_sync_then_raise(ctx: Context = Context.INJECTED) -> None:
    ran.append("started")
    while not ctx.cancelled:
        time.sleep(0.01)
    raise RuntimeError("stopped because cancelled")


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
        state = await handle.cancel()
        # a generous deadline, not a speed test: the heartbeat is 50 times shorter, and the
        # task's own 10 s sleep would outlast it
        with pytest.raises(JobCancelled):
            await handle.result(timeout=50 * HEARTBEAT)

    assert state is JobState.ACTIVE, "a running job is asked to stop, not cancelled at once"
    assert ran == ["started", "saw CancelledError"]
    info = await handle.info()
    assert info.state is JobState.CANCELLED
    assert info.cancel_requested
    assert info.error is not None
    assert info.error.reason == "cancelled"
    assert info.attempts == 1, "a cancelled job is never retried"


@pytest.mark.parametrize(
    "body",
    [crunch_then_return, crunch_then_raise, crunch_sync_then_raise],
    ids=lambda f: f.__name__,
)
async def test_a_job_that_ends_its_own_way_after_a_cancel_request_ends_cancelled(
    app: Conveyor, body: Any
) -> None:
    """Whatever the task does once asked to stop (return, raise), the job is not retried."""
    task: Task[..., Any] = app.task(retries=3, backoff="constant", backoff_base=0.01)(body)

    handle = await task.enqueue()
    async with running_worker(app):
        await wait_for(handle, JobState.ACTIVE)
        await handle.cancel()
        info = await wait_for(handle, JobState.CANCELLED)
        await asyncio.sleep(5 * HEARTBEAT)  # a retry, had one been scheduled, would be due

    assert ran[0] == "started"
    if body is not crunch_sync_then_raise:
        assert ran == ["started", "saw CancelledError"]
    info = await handle.info()
    assert info.state is JobState.CANCELLED
    assert info.attempts == 1
    assert info.error is not None
    assert info.error.reason == "cancelled"
    assert await stored_result(app, handle.id) is None


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
    assert info.attempts == 1
    assert await stored_result(app, handle.id) is None, "what it returned is not its result"


async def stored_result(app: Conveyor, job_id: str) -> bytes | None:
    record = await (await app.connected()).get(job_id)
    assert record is not None
    return record.result


async def test_cancelling_a_finished_job_changes_nothing(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(send)

    handle = await task.enqueue("a@b.c")
    await work_off(app)

    assert await handle.cancel() is JobState.SUCCEEDED
    assert await handle.result(timeout=1) is None


async def test_cancelling_an_unknown_job_raises_job_not_found(app: Conveyor) -> None:
    with pytest.raises(JobNotFound, match="no-such-job"):
        await app.job("no-such-job").cancel()
