"""A burst worker works off what is due, then returns; it leaves future jobs alone."""

from __future__ import annotations

from typing import Any

from conveyor import Conveyor, JobState, Task

from .support import work_off


async def noop(n: int) -> int:
    return n


async def test_a_burst_worker_on_an_empty_queue_returns_at_once(app: Conveyor) -> None:
    app.task(noop)

    worker = await work_off(app)

    assert worker.processed == 0


async def test_a_burst_worker_returns_once_every_due_job_is_done(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(noop)
    handles = await app.enqueue_many([task.s(n) for n in range(12)])

    worker = await work_off(app, concurrency=3)

    assert worker.processed == 12
    assert [await h.status() for h in handles] == [JobState.SUCCEEDED] * 12


async def test_a_burst_worker_works_only_its_queues(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(noop)
    mine = await task.options(queue="mine").enqueue(1)
    theirs = await task.options(queue="theirs").enqueue(2)

    worker = await work_off(app, queues=["mine"])

    assert worker.processed == 1
    assert await mine.status() is JobState.SUCCEEDED
    assert await theirs.status() is JobState.QUEUED
