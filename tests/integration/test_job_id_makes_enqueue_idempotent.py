"""A job id makes enqueue idempotent: a second enqueue returns the first job, unchanged."""

from __future__ import annotations

from typing import Any

from conveyor import Conveyor, JobState, Task
from conveyor.backends.base import JobFilter

from .support import work_off


async def send(to: str) -> str:
    return f"sent to {to}"


async def test_a_second_enqueue_with_the_same_id_returns_the_first_job(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(send)

    first = await task.options(job_id="welcome-42").enqueue("a@b.c")
    second = await task.options(job_id="welcome-42").enqueue("other@b.c")

    assert (first.id, first.created) == ("welcome-42", True)
    assert (second.id, second.created) == ("welcome-42", False)
    jobs = await (await app.connected()).list_jobs(JobFilter())
    assert [job.id for job in jobs] == ["welcome-42"]


async def test_the_first_jobs_arguments_are_kept(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(send)

    handle = await task.options(job_id="welcome-42").enqueue("a@b.c")
    await task.options(job_id="welcome-42").enqueue("other@b.c")
    await work_off(app)

    assert await handle.result(timeout=5) == "sent to a@b.c"


async def test_a_finished_job_still_holds_its_id(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(send)
    await task.options(job_id="welcome-42").enqueue("a@b.c")
    await work_off(app)

    again = await task.options(job_id="welcome-42").enqueue("a@b.c")
    worker = await work_off(app)

    assert again.created is False
    assert await again.status() is JobState.SUCCEEDED
    assert worker.processed == 0, "the job ran twice"


async def test_a_repeated_id_inside_one_batch_is_stored_once(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(send)

    handles = await app.enqueue_many(
        [task.options(job_id="dup").s("a@b.c"), task.options(job_id="dup").s("b@b.c")]
    )

    assert [(h.id, h.created) for h in handles] == [("dup", True), ("dup", False)]
    assert await (await app.connected()).counts() == {"default": {JobState.QUEUED: 1}}
