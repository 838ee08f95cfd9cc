"""Helpers of the contract suite: build jobs and move them through the public Backend API."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence

from conveyor.backends.base import Ack, Backend, Lease
from conveyor.job import JobError, JobRecord, JobState, UniqueUntil

LONG_LEASE = 30.0  # a lease that holds for the whole test
SHORT_LEASE = 0.2  # a lease a test lets expire
SLACK = 0.05  # margin added when sleeping past a deadline of the backend's clock

_ids = itertools.count(1)


def make_job(
    job_id: str | None = None,
    *,
    queue: str = "default",
    task: str = "tasks.work",
    priority: int = 0,
    delay: float = 0.0,
    payload: bytes = b'{"args": []}',
    result_ttl: float | None = None,
    unique_key: str | None = None,
    unique_until: UniqueUntil | None = None,
    unique_for: float | None = None,
    limit_key: str | None = None,
    limit: int | None = None,
    rate_key: str | None = None,
    rate_limit: int | None = None,
    rate_period: float | None = None,
) -> JobRecord:
    return JobRecord(
        id=f"job-{next(_ids)}" if job_id is None else job_id,
        task=task,
        queue=queue,
        payload=payload,
        priority=priority,
        delay=delay,
        result_ttl=result_ttl,
        unique_key=unique_key,
        unique_until=unique_until,
        unique_for=unique_for,
        limit_key=limit_key,
        limit=limit,
        rate_key=rate_key,
        rate_limit=rate_limit,
        rate_period=rate_period,
    )


def ids(records: Sequence[JobRecord]) -> list[str]:
    return [record.id for record in records]


async def enqueue(backend: Backend, *jobs: JobRecord) -> list[JobRecord]:
    """Enqueue new jobs in one call; each must be created."""
    results = await backend.enqueue(jobs)
    assert [r.created for r in results] == [True] * len(jobs)
    return [r.record for r in results]


async def claim(
    backend: Backend,
    queues: Sequence[str] = ("default",),
    limit: int = 100,
    lease_seconds: float = LONG_LEASE,
    worker: str = "worker-1",
) -> list[JobRecord]:
    return await backend.claim(queues, limit, worker, lease_seconds)


async def claim_one(
    backend: Backend, queue: str = "default", lease_seconds: float = LONG_LEASE
) -> JobRecord:
    claimed = await claim(backend, (queue,), 1, lease_seconds)
    assert len(claimed) == 1
    return claimed[0]


def lease_of(record: JobRecord) -> Lease:
    assert record.lease_token is not None
    return Lease(record.id, record.lease_token)


async def ack(
    backend: Backend,
    lease: Lease,
    state: JobState,
    *,
    result: bytes | None = None,
    error: JobError | None = None,
    retry_in: float = 0.0,
    follow_ups: Sequence[JobRecord] = (),
) -> bool:
    accepted = await backend.ack([Ack(lease, state, result, error, retry_in, follow_ups)])
    assert len(accepted) == 1
    return accepted[0]


async def get(backend: Backend, job_id: str) -> JobRecord:
    record = await backend.get(job_id)
    assert record is not None, f"job {job_id} is gone"
    return record


async def finish(
    backend: Backend, job: JobRecord, state: JobState = JobState.SUCCEEDED
) -> JobRecord:
    """Enqueue `job`, claim it and end it in `state`; the job must be first in its queue."""
    await enqueue(backend, job)
    claimed = await claim_one(backend, job.queue)
    assert claimed.id == job.id
    error = None if state is JobState.SUCCEEDED else JobError("Boom", "it broke")
    assert await ack(backend, lease_of(claimed), state, result=b"done", error=error)
    return await get(backend, job.id)


async def sleep_past(backend: Backend, when: float) -> None:
    """Sleep until the backend's clock has passed `when` (epoch seconds)."""
    await asyncio.sleep(max(0.0, when - await backend.now()) + SLACK)


async def expire_lease(backend: Backend, record: JobRecord) -> None:
    assert record.lease_expires_at is not None
    await sleep_past(backend, record.lease_expires_at)


def nonzero(counts: dict[str, dict[JobState, int]]) -> dict[str, dict[JobState, int]]:
    """Counts without zero entries, so a backend may report or omit empty states."""
    kept = {queue: {s: n for s, n in per.items() if n} for queue, per in counts.items()}
    return {queue: per for queue, per in kept.items() if per}
