"""ARQ's `Job` on conveyor: a job's status under ARQ's names, its result and its info."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import time
from typing import TYPE_CHECKING, Any

from conveyor.job import JobRecord, JobState

from .wire import DEFAULT_QUEUE

if TYPE_CHECKING:
    from .connections import ArqRedis


class JobStatus(enum.StrEnum):
    """ARQ's names for where a job is."""

    deferred = "deferred"  # not due yet: delayed, or waiting to retry
    queued = "queued"
    in_progress = "in_progress"
    complete = "complete"  # succeeded, failed or cancelled (aborted)
    not_found = "not_found"  # never enqueued, or its result expired


STATUSES = {
    JobState.SCHEDULED: JobStatus.deferred,
    JobState.QUEUED: JobStatus.queued,
    JobState.ACTIVE: JobStatus.in_progress,
    JobState.SUCCEEDED: JobStatus.complete,
    JobState.FAILED: JobStatus.complete,
    JobState.CANCELLED: JobStatus.complete,
}


@dataclasses.dataclass
class JobDef:
    function: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    job_try: int
    enqueue_time: datetime.datetime
    score: int | None
    job_id: str | None


@dataclasses.dataclass
class JobResult(JobDef):
    success: bool
    result: Any  # the return value; for a failed job, "<type>: <message>" of its error
    start_time: datetime.datetime | None
    finish_time: datetime.datetime | None
    queue_name: str


class Job:
    """A job enqueued through an `ArqRedis` pool; `Job(job_id, pool)` finds one by id."""

    def __init__(
        self,
        job_id: str,
        redis: ArqRedis,
        _queue_name: str = DEFAULT_QUEUE,  # ARQ's parameters: an id names a job in any queue
        _deserializer: None = None,
    ) -> None:
        self.job_id = job_id
        self._pool = redis

    def __repr__(self) -> str:
        return f"<arq job {self.job_id}>"

    async def result(
        self,
        timeout: float | None = None,
        *,
        poll_delay: float = 0.5,
        pole_delay: float | None = None,
    ) -> Any:
        """Wait for the job and return its result. A failed job raises `conveyor.JobFailed`
        (its remote type, message and traceback), an aborted one `conveyor.JobCancelled`;
        `conveyor.JobTimeout`, a
        `TimeoutError` as ARQ's, after `timeout` seconds."""
        return await self._pool.app.job(self.job_id).result(timeout)

    async def status(self) -> JobStatus:
        record = await self._record()
        return JobStatus.not_found if record is None else STATUSES[record.state]

    async def info(self) -> JobDef | JobResult | None:
        """What was enqueued, and once the job is complete, how it ended; None if unknown."""
        record = await self._record()
        if record is None:
            return None
        if record.state.is_final:
            return await self.result_info()
        return _definition(record)

    async def result_info(self) -> JobResult | None:
        """How the job ended; None while it has not (or is unknown)."""
        record = await self._record()
        if record is None or not record.state.is_final:
            return None
        success = record.state is JobState.SUCCEEDED
        if success:
            outcome = self._pool.app.decode_result(record)
        else:
            error = record.error
            outcome = f"{error.type}: {error.message}" if error else record.state.value
        return JobResult(
            **dataclasses.asdict(_definition(record)),
            success=success,
            result=outcome,
            start_time=_time(record.started_at),
            finish_time=_time(record.finished_at),
            queue_name=record.queue,
        )

    async def abort(self, *, timeout: float | None = None, poll_delay: float = 0.5) -> bool:
        """Cancel the job (a running one is interrupted) and wait up to `timeout` seconds
        for it to end; True if it ended cancelled."""
        handle = self._pool.app.job(self.job_id)
        await handle.cancel()
        deadline = None if timeout is None else time.monotonic() + timeout
        backend = await self._pool.app.connected()
        record = await backend.wait_final(self.job_id, deadline)
        return record is not None and record.state is JobState.CANCELLED

    async def _record(self) -> JobRecord | None:
        record = await (await self._pool.app.connected()).get(self.job_id)
        return None if record is None else self._pool.app.readable(record)


def _definition(record: JobRecord) -> JobDef:
    args, kwargs = _arguments(record.payload)
    return JobDef(
        function=record.task,
        args=args,
        kwargs=kwargs,
        job_try=record.attempts,
        enqueue_time=_time(record.enqueued_at) or datetime.datetime.now(datetime.UTC),
        score=round(record.due_at * 1000),  # when it is (or was) due, in ms
        job_id=record.id,
    )


def _arguments(payload: bytes) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """An ARQ job's arguments; a conveyor task's (keyed by parameter name) as kwargs."""
    try:
        stored = json.loads(payload)
    except ValueError:  # encrypted with a key this app lacks
        return (), {}
    if not isinstance(stored, dict):
        return (), {}
    if set(stored) <= {"args", "kwargs"}:
        return tuple(stored.get("args", ())), dict(stored.get("kwargs", {}))
    return (), stored


def _time(epoch: float | None) -> datetime.datetime | None:
    return None if epoch is None else datetime.datetime.fromtimestamp(epoch, datetime.UTC)
