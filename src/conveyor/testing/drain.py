"""`drain(app)`: run every due job in the caller's event loop with a real burst worker."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

from typing_extensions import override

from conveyor.app import Conveyor
from conveyor.backends.base import Ack
from conveyor.job import JobError, JobRecord, JobState
from conveyor.task import Task, TaskCall
from conveyor.worker import Worker, _Running
from conveyor.workflow_records import JOIN_TASK


@dataclasses.dataclass(frozen=True, slots=True)
class RanJob:
    """A job a drain ran, as its last attempt in the drain left it: `succeeded`,
    `failed` (retries spent), `cancelled`, or `scheduled` (a retry not yet due)."""

    id: str
    task: str
    state: JobState
    attempts: int  # attempts so far, this drain's included
    result: Any  # the decoded result of a succeeded job, else None
    error: JobError | None  # why the last attempt failed, if it did


@dataclasses.dataclass(frozen=True, slots=True)
class Drained:
    """What one drain ran, one entry per job, in the order their first attempts ended
    (the order they ran, with the default concurrency of 1)."""

    jobs: tuple[RanJob, ...]

    def __iter__(self) -> Iterator[RanJob]:
        return iter(self.jobs)

    def __len__(self) -> int:
        return len(self.jobs)

    @property
    def succeeded(self) -> list[RanJob]:
        return [job for job in self.jobs if job.state is JobState.SUCCEEDED]

    @property
    def failed(self) -> list[RanJob]:
        return [job for job in self.jobs if job.state is JobState.FAILED]

    def of(self, task: Task[Any, Any] | TaskCall[Any, Any]) -> list[RanJob]:
        """The jobs of one task."""
        name = task.task.name if isinstance(task, TaskCall) else task.name
        return [job for job in self.jobs if job.task == name]

    def results(self, task: Task[Any, Any] | TaskCall[Any, Any]) -> list[Any]:
        """The results of a task's jobs that succeeded."""
        return [job.result for job in self.of(task) if job.state is JobState.SUCCEEDED]


class DrainWorker(Worker):
    """A burst worker that notes how each attempt ended and, when asked, lets a retry
    be due at once rather than after its backoff."""

    def __init__(
        self, app: Conveyor, queues: Sequence[str], concurrency: int, skip_retry_delays: bool
    ) -> None:
        super().__init__(app, queues=queues, concurrency=concurrency, burst=True, scheduler=False)
        self.skip_retry_delays = skip_retry_delays
        self.outcomes: dict[str, tuple[JobRecord, Ack]] = {}

    @override
    def _finish(self, running: _Running, ack: Ack) -> None:
        if self._running.get(running.record.id) is running:  # else its outcome is not ours
            if ack.state is JobState.SCHEDULED and self.skip_retry_delays:
                ack.retry_in = 0.0
            # a job keeps its place, that of its first attempt, and its latest outcome
            self.outcomes[running.record.id] = (running.record, ack)
        super()._finish(running, ack)

    def drained(self) -> Drained:
        return Drained(
            tuple(
                _ran(self.app, record, ack)
                for record, ack in self.outcomes.values()
                if record.task != JOIN_TASK  # conveyor's own step of a chord
            )
        )


def _ran(app: Conveyor, record: JobRecord, ack: Ack) -> RanJob:
    result = None
    if ack.state is JobState.SUCCEEDED:
        result = app.decode_result(dataclasses.replace(record, result=ack.result))
    return RanJob(record.id, record.task, ack.state, record.attempts, result, ack.error)


async def drain(
    app: Conveyor,
    *,
    queues: Sequence[str] | None = None,
    concurrency: int = 1,
    skip_retry_delays: bool = True,
) -> Drained:
    """Run every due job of `app`, and the jobs they lead to (those they enqueue, a
    workflow's next steps), until none is due; return what ran.

    A real worker runs them, in this event loop: middleware, timeouts, retries and
    workflows behave as in production. `skip_retry_delays` (the default) makes a retry
    due at once, so a job's retries run in the same drain; jobs enqueued with a delay or
    an eta stay until they are due. `concurrency` 1 runs one job at a time, in the
    order a single worker would claim them. `queues`: every queue by default.
    """
    backend = await app.connected()
    if queues is None:
        known = {task.config.queue for task in app.tasks.values()}
        queues = sorted(known | set(await backend.counts()) | {app.default_queue})
    worker = DrainWorker(app, queues, concurrency, skip_retry_delays)
    await worker.run()
    return worker.drained()


def drain_sync(
    app: Conveyor,
    *,
    queues: Sequence[str] | None = None,
    concurrency: int = 1,
    skip_retry_delays: bool = True,
) -> Drained:
    """`drain` for sync tests (a Flask or Django test client), on the app's own loop."""
    return app.portal.call(
        drain(app, queues=queues, concurrency=concurrency, skip_retry_delays=skip_retry_delays)
    )
