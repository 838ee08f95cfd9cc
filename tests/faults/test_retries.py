"""A failing handler is retried with backoff up to its limit, then dead-lettered, and the count
of attempts lives in the store: a worker killed between two attempts does not reset it."""

from __future__ import annotations

import itertools

import pytest

from conveyor.job import JobState

from .harness import Harness

pytestmark = [pytest.mark.faults, pytest.mark.timeout(60)]

RETRIES = 2  # exponential backoff: the n-th retry waits 2 ** (n - 1) s, less full jitter


async def test_the_attempt_count_survives_a_worker_killed_between_retries(
    harness: Harness,
) -> None:
    """Reliability #11: 1 + RETRIES attempts in all, across two workers, then `failed`."""
    job_id = (await harness.jobs.flop.options(retries=RETRIES).enqueue()).id
    first = harness.start_worker(concurrency=2)

    async def waiting_to_retry() -> bool:
        record = await harness.record(job_id)
        return record.state is JobState.SCHEDULED and record.attempts == 1

    await harness.wait_until(waiting_to_retry, 15, "the first attempt to fail")
    first.kill()  # while the job waits out its backoff, in the store alone
    second = harness.start_worker(concurrency=2)

    async def dead_lettered() -> bool:
        return (await harness.record(job_id)).state is JobState.FAILED

    await harness.wait_until(dead_lettered, 20, "the retries to run out")
    record = await harness.record(job_id)
    assert (record.attempts, record.max_attempts, record.recoveries) == (
        RETRIES + 1,
        RETRIES + 1,
        0,
    )
    assert record.error is not None
    assert record.error.reason == "exception", record.error
    runs = harness.runs()[job_id]
    assert [(run.pid, run.attempt) for run in runs] == [
        (first.pid, 1),
        *((second.pid, attempt) for attempt in range(2, RETRIES + 2)),
    ]
    for retry, (before, after) in enumerate(itertools.pairwise(runs), 1):
        shortest = 2 ** (retry - 1) / 2  # the least the jitter leaves of the backoff
        assert after.started_ns - before.started_ns >= shortest * 1e9, "retried before backoff"
    assert second.alive
