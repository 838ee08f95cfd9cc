"""What an app enqueued during a test, and the assertions that read it."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from conveyor.errors import JobFailed
from conveyor.job import JobRecord
from conveyor.middleware.base import Middleware, OutgoingJob
from conveyor.task import Task, TaskCall

if TYPE_CHECKING:
    from conveyor.app import Conveyor


@dataclasses.dataclass(frozen=True, slots=True)
class EnqueuedJob:
    """One job the app stored, as the store received it: its arguments (by parameter
    name, decoded as a worker will see them) and its options."""

    id: str
    task: str
    arguments: Mapping[str, Any]
    queue: str
    priority: int
    delay: float  # seconds from the enqueue before it was due
    retries: int
    timeout: float | None
    headers: Mapping[str, str]

    def __repr__(self) -> str:
        given = ", ".join(f"{name}={value!r}" for name, value in self.arguments.items())
        return f"{self.task}({given})"


class EnqueueRecorder(Middleware):
    """An enqueue hook inside the app's own: it sees each job as it goes to the store,
    headers set by the other middleware included, and keeps those stored anew."""

    def __init__(self, app: Conveyor) -> None:
        self.app = app
        self.jobs: list[EnqueuedJob] = []

    async def enqueue(
        self, jobs: Sequence[OutgoingJob], call_next: Callable[[], Awaitable[Sequence[bool]]]
    ) -> Sequence[bool]:
        # noted before the store, so jobs that these lead to (in eager mode, at once) follow
        noted = [_snapshot(self.app, cast(JobRecord, job)) for job in jobs]
        self.jobs.extend(noted)
        try:
            created = await call_next()
        except JobFailed:  # eager mode: stored, then one of them failed when it ran
            raise
        except BaseException:
            self._forget(noted)
            raise
        # an idempotent enqueue that found its job stored nothing
        self._forget([job for job, new in zip(noted, created, strict=True) if not new])
        return created

    def _forget(self, jobs: Sequence[EnqueuedJob]) -> None:
        for job in jobs:
            self.jobs.remove(job)


def _snapshot(app: Conveyor, record: JobRecord) -> EnqueuedJob:
    task = app.find_task(record.task)
    arguments = {} if task is None else task.codec.decode(record.payload)
    return EnqueuedJob(
        id=record.id,
        task=record.task,
        arguments=arguments,
        queue=record.queue,
        priority=record.priority,
        delay=record.delay,
        retries=record.max_attempts - 1,
        timeout=record.timeout,
        headers=dict(record.headers),
    )


def recorder_of(app: Conveyor, caller: str) -> EnqueueRecorder:
    for middleware in app.middleware:
        if isinstance(middleware, EnqueueRecorder):
            return middleware
    raise RuntimeError(
        f"{caller} reads what an isolated app enqueued, and {app!r} is not isolated: use the "
        "conveyor_jobs fixture, or `with conveyor.testing.isolated(app):`"
    )


def enqueued(target: Conveyor | Task[Any, Any] | TaskCall[Any, Any]) -> list[EnqueuedJob]:
    """The jobs an isolated app stored so far, oldest first; given a task, only its jobs."""
    task = _task_of(target)
    app = target if task is None else task.app
    jobs = recorder_of(cast("Conveyor", app), "enqueued()").jobs
    return [job for job in jobs if task is None or job.task == task.name]


def assert_enqueued(
    task: Task[Any, Any] | TaskCall[Any, Any], /, *args: Any, **kwargs: Any
) -> EnqueuedJob:
    """The job of `task` called with these arguments (with none: any job of `task`);
    AssertionError, listing the jobs `task` has, if none was enqueued."""
    __tracebackhide__ = True  # pytest shows the test's line, not this one
    found = _matching(task, args, kwargs, "assert_enqueued()")
    if not found:
        theirs = enqueued(task)
        listing = ", ".join(map(repr, theirs)) if theirs else "none"
        raise AssertionError(
            f"{_call_text(task, args, kwargs)} was not enqueued; jobs of "
            f"{_task(task).name} enqueued: {listing}"
        )
    return found[0]


def assert_not_enqueued(
    task: Task[Any, Any] | TaskCall[Any, Any], /, *args: Any, **kwargs: Any
) -> None:
    """No job of `task` called with these arguments (with none: no job of `task` at all)."""
    __tracebackhide__ = True
    found = _matching(task, args, kwargs, "assert_not_enqueued()")
    if found:
        listing = ", ".join(f"{job!r} (id {job.id})" for job in found)
        raise AssertionError(f"{_call_text(task, args, kwargs)} was enqueued: {listing}")


def _matching(
    target: Task[Any, Any] | TaskCall[Any, Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    caller: str,
) -> list[EnqueuedJob]:
    task = _task(target)
    jobs = [job for job in recorder_of(task.app, caller).jobs if job.task == task.name]
    if not args and not kwargs:
        return jobs
    # both sides through the codec, defaults filled in: a call matches as a worker sees it
    expected = _as_stored(task, task.bind(args, dict(kwargs)))
    return [job for job in jobs if _as_stored(task, dict(job.arguments)) == expected]


def _as_stored(task: Task[Any, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    complete = inspect.BoundArguments(task.signature, arguments)
    complete.apply_defaults()
    return task.codec.decode(task.codec.encode(complete.arguments))


def _task_of(target: object) -> Task[Any, Any] | None:
    if isinstance(target, TaskCall):
        return target.task
    return target if isinstance(target, Task) else None


def _task(target: Task[Any, Any] | TaskCall[Any, Any]) -> Task[Any, Any]:
    task = _task_of(target)
    if task is None:
        raise TypeError(f"expected a task registered with @app.task, got {target!r}")
    return task


def _call_text(
    target: Task[Any, Any] | TaskCall[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> str:
    if not args and not kwargs:
        return f"a job of {_task(target).name}"
    given = [*map(repr, args), *(f"{name}={value!r}" for name, value in kwargs.items())]
    return f"{_task(target).name}({', '.join(given)})"
