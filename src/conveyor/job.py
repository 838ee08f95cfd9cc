"""The job record, its states, and the handle a producer holds."""

from __future__ import annotations

import dataclasses
import enum
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from conveyor.errors import JobCancelled, JobFailed, JobNotFound, JobTimeout

if TYPE_CHECKING:
    from conveyor.app import Conveyor

R = TypeVar("R")


# Wide enough for any ranking scheme, narrow enough that every backend orders exactly
# (Redis keeps priority and age in one double-precision score).
PRIORITY_LIMIT = 1000


class JobState(enum.StrEnum):
    SCHEDULED = "scheduled"  # not due yet, or waiting to retry
    QUEUED = "queued"
    ACTIVE = "active"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # retries spent: the dead-letter store
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})
PENDING_STATES = frozenset({JobState.SCHEDULED, JobState.QUEUED})


class UniqueUntil(enum.StrEnum):
    """What releases a job's unique key (a duration is the other way: `unique_for`)."""

    STARTED = "started"  # its first claim
    FINISHED = "finished"  # its end: succeeded, failed or cancelled


@dataclasses.dataclass(slots=True)
class JobError:
    """Why a job failed: the exception inside the task, or the worker's reason."""

    type: str
    message: str
    traceback: str | None = None
    # "exception", "timeout", "worker_lost", "undecodable", "unknown_task", ...
    reason: str = "exception"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobError:
        return cls(
            type=str(data.get("type", "")),
            message=str(data.get("message", "")),
            traceback=data.get("traceback"),
            reason=str(data.get("reason", "exception")),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Attempt:
    """One ended attempt of a job: the worker that ran it, when, and how it ended.

    `outcome` is one of succeeded, failed, retried, cancelled, or lease_expired (its worker
    died or stalled, and a sweep took the job back); `error` is the error's type and the
    start of its message. An attempt handed back unrun at shutdown is not one.
    """

    number: int
    worker: str | None
    started_at: float | None
    ended_at: float
    outcome: str
    error: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attempt:
        started_at = data.get("started_at")
        return cls(
            number=int(data.get("number") or 0),
            worker=data.get("worker") or None,
            started_at=None if started_at is None else float(started_at),
            ended_at=float(data.get("ended_at") or 0.0),
            outcome=str(data.get("outcome", "")),
            error=data.get("error") or None,
        )


@dataclasses.dataclass(slots=True)
class JobRecord:
    """One job as the backend stores it. Times are the backend's clock, in epoch seconds."""

    id: str
    task: str
    queue: str
    payload: bytes
    priority: int = 0
    state: JobState = JobState.QUEUED
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    attempts: int = 0  # how many times a worker claimed it
    max_attempts: int = 1
    recoveries: int = 0  # how many times its lease expired under a worker
    timeout: float | None = None
    result_ttl: float | None = None
    enqueued_at: float = 0.0
    due_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    lease_token: str | None = None
    lease_expires_at: float | None = None
    worker: str | None = None
    result: bytes | None = None
    error: JobError | None = None
    progress: float | None = None
    progress_message: str | None = None
    checkpoint: bytes | None = None
    cancel_requested: bool = False
    expires_at: float | None = None  # when a finished job's record is dropped (result TTL)
    # set on enqueue: seconds to wait before the job is due (relative to the backend's clock)
    delay: float = 0.0
    # While the key is held, an enqueue with the same key returns this job instead. The key
    # belongs to the last job stored with it, and is held until `unique_until` happens or,
    # instead, for `unique_for` seconds after the enqueue.
    unique_key: str | None = None
    unique_until: UniqueUntil | None = None
    unique_for: float | None = None
    # At most `limit` jobs with this key are active at once, across every worker. A claim
    # passes over the others: they wait, queued, without using an attempt.
    limit_key: str | None = None
    limit: int | None = None
    # A token bucket per `rate_key`, shared by every worker: it holds up to `rate_limit`
    # tokens and refills at `rate_limit` per `rate_period` seconds, on the backend's clock.
    # A claim spends one token per job; a job that finds none waits, queued, unattempted.
    rate_key: str | None = None
    rate_limit: int | None = None
    rate_period: float | None = None
    # the attempts that ended, oldest first (the last `MAX_HISTORY`); the running one, if
    # any, is told by `started_at` and `worker`
    history: tuple[Attempt, ...] = ()

    def holds_unique_key(self, now: float) -> bool:
        if self.unique_key is None:
            return False
        if self.unique_for is not None:
            return now < self.enqueued_at + self.unique_for
        if self.unique_until is UniqueUntil.STARTED:
            # a job handed back unrun has attempts 0 again; a retry after a run does not
            return self.state in PENDING_STATES and self.attempts == 0
        return not self.state.is_final


@dataclasses.dataclass(frozen=True, slots=True)
class JobInfo:
    """A read-only snapshot of a job for callers: status pages, the CLI, handles."""

    id: str
    task: str
    queue: str
    state: JobState
    priority: int
    attempts: int
    max_attempts: int
    enqueued_at: float
    due_at: float
    started_at: float | None
    finished_at: float | None
    error: JobError | None
    progress: float | None
    progress_message: str | None
    headers: dict[str, str]
    cancel_requested: bool
    worker: str | None
    history: tuple[Attempt, ...] = ()  # the attempts that ended, oldest first

    @classmethod
    def from_record(cls, record: JobRecord) -> JobInfo:
        return cls(
            id=record.id,
            task=record.task,
            queue=record.queue,
            state=record.state,
            priority=record.priority,
            attempts=record.attempts,
            max_attempts=record.max_attempts,
            enqueued_at=record.enqueued_at,
            due_at=record.due_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
            error=record.error,
            progress=record.progress,
            progress_message=record.progress_message,
            headers=dict(record.headers),
            cancel_requested=record.cancel_requested,
            worker=record.worker,
            history=record.history,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class JobEvent:
    """A change seen on a job: its state, or its progress."""

    job_id: str
    state: JobState
    progress: float | None
    progress_message: str | None


class JobHandle(Generic[R]):
    """A reference to an enqueued job; cheap to create from an id alone."""

    __slots__ = ("_app", "created", "id", "task_name")

    def __init__(self, app: Conveyor, job_id: str, task_name: str, created: bool = True) -> None:
        self._app = app
        self.id = job_id
        self.task_name = task_name
        # False when enqueue found an existing job with this id (idempotent enqueue)
        self.created = created

    def __repr__(self) -> str:
        return f"<JobHandle {self.task_name} id={self.id}>"

    async def info(self) -> JobInfo:
        record = await self._record()
        return JobInfo.from_record(record)

    async def status(self) -> JobState:
        return (await self._record()).state

    async def cancel(self) -> JobState:
        """Cancel the job: a pending job is cancelled at once; a running one is asked to stop.

        A running async task is cancelled at the worker's next heartbeat; a running sync
        task only sees `ctx.cancelled` become true (threads cannot be interrupted).
        Returns the state after the request.
        """
        record = await (await self._app.connected()).cancel(self.id)
        if record is None:
            raise JobNotFound(f"no job with id {self.id!r}")
        return record.state

    async def result(self, timeout: float | None = None) -> R:
        """Wait for the job to finish and return its result.

        Raises `JobFailed` (with the remote type, message and traceback) if it failed,
        `JobCancelled` if it was cancelled, `JobTimeout` if `timeout` seconds pass first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        record = await (await self._app.connected()).wait_final(self.id, deadline)
        if record is None:
            raise JobNotFound(f"no job with id {self.id!r}")
        if not record.state.is_final:
            raise JobTimeout(f"job {self.id} still {record.state} after {timeout} s")
        if record.state is JobState.CANCELLED:
            raise JobCancelled(f"job {self.id} was cancelled")
        if record.state is JobState.FAILED:
            error = record.error or JobError("Unknown", "no error recorded", None, "unknown")
            raise JobFailed(self.id, error.type, error.message, error.traceback, error.reason)
        return self._app.decode_result(record)  # type: ignore[no-any-return]

    def result_sync(self, timeout: float | None = None) -> R:
        return self._app.portal.call(self.result(timeout))

    async def events(self, poll: float = 0.05) -> AsyncIterator[JobEvent]:
        """Yield progress and state changes as they happen, ending when the job ends.

        Changes are pushed where the backend can (Redis); elsewhere `poll` is the longest
        pause between two looks.
        """
        last: tuple[JobState, float | None, str | None] | None = None
        backend = await self._app.connected()
        async with backend.watch_job(self.id, poll) as watch:
            while True:
                record = await self._record()
                current = (record.state, record.progress, record.progress_message)
                if current != last:
                    last = current
                    yield JobEvent(self.id, *current)
                if record.state.is_final:
                    return
                await watch.changed()

    async def _record(self) -> JobRecord:
        record = await (await self._app.connected()).get(self.id)
        if record is None:
            raise JobNotFound(f"no job with id {self.id!r}")
        return self._app.readable(record)  # its progress message decrypted, say
