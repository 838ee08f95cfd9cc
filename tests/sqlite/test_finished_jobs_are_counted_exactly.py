"""The counters of finished jobs that `counts()` reads instead of the history agree with the
stored jobs after every statement that finishes, revives or deletes jobs."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

from conveyor.backends.base import Ack, Lease
from conveyor.backends.sqlite import SQLiteBackend
from conveyor.job import JobRecord, JobState

from .support import FINISHED_ROWS

OK, FAILED, CANCELLED = JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED
TTL = 0.1


def job(job_id: str, queue: str = "a", result_ttl: float | None = None) -> JobRecord:
    return JobRecord(id=job_id, task="t", queue=queue, payload=b"{}", result_ttl=result_ttl)


def assert_counted(store: SQLiteBackend) -> None:
    with contextlib.closing(sqlite3.connect(store.path)) as conn:
        counters = conn.execute("SELECT queue, state, jobs FROM conveyor_finished WHERE jobs != 0")
        assert sorted(counters) == sorted(conn.execute(FINISHED_ROWS))


async def run(store: SQLiteBackend, queue: str, *outcomes: JobState, lease: float = 30.0) -> None:
    """Claim one job of `queue` per outcome and end each so, in one batch."""
    claimed = await store.claim([queue], len(outcomes), "w", lease)
    assert len(claimed) == len(outcomes)
    acks = [
        Ack(Lease(record.id, record.lease_token or ""), outcome, retry_in=60.0)
        for record, outcome in zip(claimed, outcomes, strict=True)
    ]
    assert await store.ack(acks) == [True] * len(acks)


async def test_acks_cancels_and_retries(store: SQLiteBackend) -> None:
    await store.enqueue([job(f"a-{i}") for i in range(6)] + [job("b-1", "b"), job("b-2", "b")])
    await run(store, "a", OK, FAILED, CANCELLED, JobState.SCHEDULED, JobState.QUEUED)
    assert_counted(store)

    await store.cancel("b-1")  # pending: cancelled at once
    assert_counted(store)
    await store.retry("a-1")  # failed: queued again
    await store.retry("b-1")  # cancelled: queued again
    assert_counted(store)

    claimed = await store.claim(["a"], 1, "w", 30.0)
    again = Ack(Lease(claimed[0].id, claimed[0].lease_token or ""), OK)
    assert await store.ack([again, again]) == [True, False]  # one outcome for one lease
    assert_counted(store)


async def test_expired_leases(store: SQLiteBackend) -> None:
    await store.enqueue([job("stop"), job("crash")])
    [stop, _] = await store.claim(["a"], 2, "w", 0.05)  # and the other one crashes
    await store.cancel(stop.id)  # active: asked to stop, then its worker dies
    await asyncio.sleep(0.1)

    recovered = await store.recover_expired(max_recoveries=0)

    assert (recovered.requeued, recovered.dead, recovered.cancelled) == (0, 1, 1)
    assert_counted(store)


async def test_purges_and_expired_records(store: SQLiteBackend) -> None:
    await store.enqueue([job("keep"), job("purged", "b"), job("short", result_ttl=TTL)])
    await store.enqueue([job("reused", result_ttl=TTL)])
    await run(store, "a", OK, OK, OK)
    await run(store, "b", FAILED)
    assert await store.purge([FAILED]) == 1
    assert_counted(store)
    await asyncio.sleep(TTL + 0.05)

    # an expired record is counted until it is deleted, by a new job taking its id ...
    [again] = await store.enqueue([job("reused")])
    assert again.created
    assert_counted(store)
    # ... or by the purge of expired records
    assert await store.purge_expired() == 1
    assert_counted(store)
    assert await store.counts() == {"a": {OK: 1, JobState.QUEUED: 1}}
