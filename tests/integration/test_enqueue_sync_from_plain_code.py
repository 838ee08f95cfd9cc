"""`enqueue_sync` and `result_sync` work from plain sync code: a thread with no event loop."""

from __future__ import annotations

import asyncio
from typing import Any

from conveyor import Conveyor, JobState, Task

from .support import work_off


def build_report(report_id: int) -> str:
    return f"report {report_id}"


def _no_loop_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return True
    return False


async def test_enqueue_sync_from_a_thread_without_a_loop_stores_the_job(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(build_report)

    def producer() -> tuple[bool, str, bool]:
        handle = task.enqueue_sync(7)
        return _no_loop_here(), handle.id, handle.created

    no_loop, job_id, created = await asyncio.to_thread(producer)

    assert no_loop
    assert created
    assert await app.job(job_id).status() is JobState.QUEUED


async def test_result_sync_from_a_thread_waits_for_the_worker(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(build_report)
    handle = await asyncio.to_thread(task.options(priority=1).enqueue_sync, 7)

    await work_off(app)

    assert await asyncio.to_thread(handle.result_sync, 5) == "report 7"


async def test_enqueue_many_sync_from_a_thread_stores_every_job(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(build_report)

    handles = await asyncio.to_thread(app.enqueue_many_sync, [task.s(n) for n in range(3)])

    assert [await h.status() for h in handles] == [JobState.QUEUED] * 3
