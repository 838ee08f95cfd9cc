"""`Jobs`: durable BackgroundTasks. Jobs added by an endpoint are stored before it answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, ParamSpec, TypeVar

from fastapi import Depends

from conveyor.app import Conveyor
from conveyor.job import JobHandle
from conveyor.task import Signature, Task, TaskCall

P = ParamSpec("P")
R = TypeVar("R")


class PendingJobs:
    """The jobs one request adds, stored together once its endpoint returns."""

    def __init__(self) -> None:
        self._added: list[tuple[Signature[Any], JobHandle[Any]]] = []
        self._stored = False

    def add(
        self, task: Task[P, R] | TaskCall[P, R], /, *args: P.args, **kwargs: P.kwargs
    ) -> JobHandle[R]:
        """Add a job, like `BackgroundTasks.add_task`; its id is known at once.

        `task` may carry options: `jobs.add(send_email.options(delay=60), to)`. The
        arguments are checked here, so a bad call fails the request, not the job.
        """
        if not isinstance(task, Task | TaskCall):
            raise TypeError(
                f"jobs.add takes a task registered with @app.task (or task.options(...)), "
                f"got {task!r}"
            )
        if self._stored:
            raise RuntimeError(
                "jobs.add was called after the endpoint returned (from a stream or a "
                "background task?): this request's jobs are already stored; "
                "enqueue it with `await task.enqueue(...)` instead"
            )
        call = task.s(*args, **kwargs)
        handle: JobHandle[R] = JobHandle(call.task.app, call.record.id, call.task.name)
        self._added.append((call, handle))
        return handle

    async def store(self) -> None:
        """Write every added job: one backend operation per Conveyor app."""
        self._stored = True
        by_app: dict[Conveyor, list[tuple[Signature[Any], JobHandle[Any]]]] = {}
        for call, handle in self._added:
            by_app.setdefault(call.task.app, []).append((call, handle))
        for app, added in by_app.items():
            stored = await app.enqueue_many(call for call, _ in added)
            for (_, handle), result in zip(added, stored, strict=True):
                # False when a live job already had this id (an idempotent job_id)
                handle.created = result.created


async def _pending_jobs() -> AsyncIterator[PendingJobs]:
    jobs = PendingJobs()
    yield jobs  # if the endpoint raised, FastAPI raises it here and nothing is stored
    await jobs.store()


# scope="function": the code after `yield` runs once the endpoint has returned and its
# response is built, but before the response is sent (the default scope runs it after).
Jobs = Annotated[PendingJobs, Depends(_pending_jobs, scope="function")]
"""Declare `jobs: Jobs` in an endpoint, then `jobs.add(task, *args, **kwargs)`."""
