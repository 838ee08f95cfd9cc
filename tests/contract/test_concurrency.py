"""Racing claimers: while leases hold, every job goes to exactly one claim."""

from __future__ import annotations

import asyncio

from conveyor.backends.base import Backend
from conveyor.job import JobState

from .support import LONG_LEASE, make_job

JOBS = 2000
BATCH = 25


async def claim_until_empty(backend: Backend, worker: str) -> list[str]:
    """Claim batches until none is left; return the ids this claimer got."""
    got: list[str] = []
    # bounded: a backend that hands out the same jobs again must fail, not spin forever
    while len(got) <= JOBS and (
        claimed := await backend.claim(["default"], BATCH, worker, LONG_LEASE)
    ):
        assert {record.state for record in claimed} == {JobState.ACTIVE}
        assert {record.worker for record in claimed} == {worker}
        got.extend(record.id for record in claimed)
        await asyncio.sleep(0)  # let the other claimers in, as a worker between batches would
    return got


async def enqueue_many(backend: Backend) -> set[str]:
    jobs = [make_job(f"race-{i:04}", priority=i % 3) for i in range(JOBS)]
    results = await backend.enqueue(jobs)
    assert all(r.created for r in results)
    return {job.id for job in jobs}


def assert_claimed_once(expected: set[str], per_claimer: list[list[str]]) -> None:
    every = [job_id for got in per_claimer for job_id in got]
    assert len(every) == len(set(every)), "a job was claimed twice"
    assert set(every) == expected


async def test_concurrent_claimers_claim_every_job_exactly_once(backend: Backend) -> None:
    expected = await enqueue_many(backend)

    per_claimer = await asyncio.gather(
        *(claim_until_empty(backend, f"worker-{n}") for n in range(8))
    )

    assert_claimed_once(expected, per_claimer)
    assert sum(1 for got in per_claimer if got) > 1, "one claimer took everything"
    assert (await backend.counts())["default"] == {JobState.ACTIVE: JOBS}


async def test_claimers_on_two_instances_claim_every_job_exactly_once(
    backend: Backend, peer: Backend
) -> None:
    expected = await enqueue_many(backend)

    per_claimer = await asyncio.gather(
        *(
            claim_until_empty(instance, f"worker-{n}")
            for n in range(4)
            for instance in (backend, peer)
        )
    )

    assert_claimed_once(expected, per_claimer)
    assert await backend.claim(["default"], BATCH, "late", LONG_LEASE) == []
    assert await peer.claim(["default"], BATCH, "late", LONG_LEASE) == []
