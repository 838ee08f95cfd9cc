"""A queue paused in the store (from the dashboard, say) is paused for a running worker: it
claims none of its jobs, which stay queued and unattempted, and runs them once it resumes."""

from __future__ import annotations

import asyncio
from typing import Any

from conveyor import Conveyor, JobState, Task
from conveyor.backends.base import JobFilter

from .support import IDLE_POLL, running_worker, wait_for

IDLE = 20 * IDLE_POLL  # long enough for the worker to look for work many times


async def build_report(n: int) -> int:
    return n


async def send_mail(n: int) -> int:
    return n


async def test_a_running_worker_leaves_a_paused_queue_alone_until_it_resumes(
    app: Conveyor,
) -> None:
    reports: Task[..., Any] = app.task(queue="reports")(build_report)
    mail: Task[..., Any] = app.task(send_mail)
    backend = await app.connected()

    async with running_worker(app) as worker:
        assert set(worker.queues) == {"default", "reports"}
        await backend.pause_queue("reports")  # the worker runs and waits for work already
        held = [await reports.enqueue(n) for n in range(3)]
        sent = [await mail.enqueue(n) for n in range(2)]
        for handle in sent:  # the worker is awake and working its other queue
            await wait_for(handle, JobState.SUCCEEDED)
        await asyncio.sleep(IDLE)

        for handle in held:
            info = await handle.info()
            assert (info.state, info.attempts, info.worker) == (JobState.QUEUED, 0, None)
        assert await backend.list_jobs(JobFilter(queue="reports", state=JobState.ACTIVE)) == []
        assert worker.processed == 2

        await backend.resume_queue("reports")
        for handle in held:
            await wait_for(handle, JobState.SUCCEEDED)

    assert [await handle.result() for handle in held] == [0, 1, 2]
    assert await backend.paused_queues() == frozenset()


async def test_a_worker_started_on_a_paused_queue_waits_for_the_resume(app: Conveyor) -> None:
    reports: Task[..., Any] = app.task(queue="reports")(build_report)
    backend = await app.connected()
    await backend.pause_queue("reports")
    held = [await reports.enqueue(n) for n in range(2)]

    async with running_worker(app) as worker:
        await asyncio.sleep(IDLE)
        assert worker.processed == 0
        assert [await handle.status() for handle in held] == [JobState.QUEUED] * 2

        await backend.resume_queue("reports")
        for handle in held:
            await wait_for(handle, JobState.SUCCEEDED)
