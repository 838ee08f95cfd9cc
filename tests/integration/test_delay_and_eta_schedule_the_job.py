"""`delay` and `eta` make a job scheduled: no worker runs it before it is due."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from conveyor import Conveyor, JobState, Task

from .support import running_worker, work_off

ran: list[float] = []


@pytest.fixture(autouse=True)
def _forget_runs() -> None:
    ran.clear()


async def tick() -> None:
    ran.append(datetime.datetime.now(datetime.UTC).timestamp())


@pytest.mark.parametrize("delay", [30, 30.0, datetime.timedelta(seconds=30)], ids=repr)
async def test_a_delayed_job_is_scheduled_until_it_is_due(
    app: Conveyor, delay: float | datetime.timedelta
) -> None:
    task: Task[..., Any] = app.task(tick)

    handle = await task.options(delay=delay).enqueue()
    info = await handle.info()
    worker = await work_off(app)

    assert info.state is JobState.SCHEDULED
    assert info.due_at == pytest.approx(info.enqueued_at + 30, abs=0.01)
    assert worker.processed == 0
    assert ran == []
    assert await handle.status() is JobState.SCHEDULED


async def test_a_job_with_an_eta_is_scheduled_for_that_time(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(tick)
    eta = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=10)

    handle = await task.options(eta=eta).enqueue()
    info = await handle.info()
    worker = await work_off(app)

    assert info.state is JobState.SCHEDULED
    # the eta becomes a delay on the producer's clock, then a due time on the store's:
    # the two readings lie a round trip apart (longer on a busy machine)
    assert info.due_at == pytest.approx(eta.timestamp(), abs=1.0)
    assert worker.processed == 0
    assert ran == []


async def test_an_eta_in_the_past_is_due_at_once(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(tick)
    eta = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=10)

    handle = await task.options(eta=eta).enqueue()

    assert await handle.status() is JobState.QUEUED


async def test_a_delayed_job_runs_once_its_delay_has_passed(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(tick)

    handle = await task.options(delay=0.3).enqueue()
    async with running_worker(app):
        await handle.result(timeout=5)

    info = await handle.info()
    assert info.started_at is not None
    assert info.started_at - info.enqueued_at >= 0.3
    assert len(ran) == 1
