"""Pausing a queue on PostgreSQL: the claim statement itself reads the pause, so a pause
committed before a claim begins is honoured by it, on every connection, however the two
race; and a paused queue's jobs are not work to an idle worker, due or falling due."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from conveyor.backends.postgres import PostgresBackend
from conveyor.job import JobRecord, JobState

JOBS = 3000
CLAIMERS = 4


def job(job_id: str, queue: str = "p", delay: float = 0.0) -> JobRecord:
    return JobRecord(id=job_id, task="tasks.work", queue=queue, payload=b"{}", delay=delay)


@pytest.fixture
async def other(pg_url: str, backend: PostgresBackend) -> AsyncIterator[PostgresBackend]:
    """A second instance on the same schema: the dashboard's process, say."""
    instance = PostgresBackend(pg_url)
    await instance.open()
    try:
        yield instance
    finally:
        await instance.close()


async def test_no_claim_that_begins_after_a_pause_takes_a_job(
    backend: PostgresBackend, other: PostgresBackend
) -> None:
    await backend.enqueue([job(f"j-{i:04}") for i in range(JOBS)])
    taken: list[JobRecord] = []
    after_pause: list[int] = []  # what each claim begun after pause_queue returned took
    paused_at: float | None = None  # time.monotonic() once pause_queue returned
    flowing = asyncio.Event()  # the claims are in full flow

    async def claimer(worker: str) -> None:
        while len(taken) < JOBS and len(after_pause) < 50:
            began = time.monotonic()
            claimed = await backend.claim(["p"], 1, worker, 30.0)
            taken.extend(claimed)
            if len(taken) >= JOBS // 10:
                flowing.set()
            if paused_at is not None and began > paused_at:
                after_pause.append(len(claimed))

    claimers = [asyncio.create_task(claimer(f"w{i}")) for i in range(CLAIMERS)]
    await flowing.wait()
    await other.pause_queue("p")
    paused_at = time.monotonic()
    paused_by = await other.now()  # the store's clock, after the pause committed
    await asyncio.gather(*claimers)

    assert len(taken) < JOBS
    assert len(after_pause) >= 50
    assert after_pause == [0] * len(after_pause)
    # a claim's jobs start at the claim statement's start: none after the pause committed
    assert max(record.started_at or 0.0 for record in taken) <= paused_by
    assert len({record.id for record in taken}) == len(taken)
    counts = await backend.counts()
    assert counts["p"] == {JobState.ACTIVE: len(taken), JobState.QUEUED: JOBS - len(taken)}

    await other.resume_queue("p")
    assert len(await backend.claim(["p"], JOBS, "w", 30.0)) == JOBS - len(taken)


async def test_a_pause_commits_before_pause_queue_returns_on_every_connection(
    pg_url: str, backend: PostgresBackend
) -> None:
    await backend.enqueue([job(f"j-{i}") for i in range(50)])
    instances = [PostgresBackend(pg_url) for _ in range(3)]
    for instance in instances:
        await instance.open()
    try:
        for round_ in range(10):
            await backend.pause_queue("p")
            claims = await asyncio.gather(*(i.claim(["p"], 1, "w", 30.0) for i in instances))
            assert claims == [[]] * len(instances), round_
            await backend.resume_queue("p")
            [claimed] = await instances[round_ % len(instances)].claim(["p"], 1, "w", 30.0)
            assert claimed.attempts == 1
    finally:
        for instance in instances:
            await instance.close()


async def test_a_due_scheduled_job_of_a_paused_queue_is_no_work_to_a_waiter(
    backend: PostgresBackend,
) -> None:
    [created] = await backend.enqueue([job("later", delay=0.1)])
    await backend.pause_queue("p")
    await asyncio.sleep(max(0.0, created.record.due_at - await backend.now()) + 0.05)

    started = time.monotonic()
    await backend.wait_for_work(["p"], timeout=1.0)  # due, yet not work: no early return
    elapsed = time.monotonic() - started

    assert elapsed >= 0.8, f"returned after {elapsed:.3f} s though nothing can be claimed"
    assert await backend.claim(["p"], 1, "w", 30.0) == []
