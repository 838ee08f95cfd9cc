"""Limits hold across worker processes: concurrency through a worker's death, and the rate.

The oracle log gives every execution's start and end on the machine's one monotonic clock,
so what overlapped is read from what ran, not from what the store says.
"""

from __future__ import annotations

import signal

import pytest

from conveyor.job import JobState

from .harness import Harness
from .jobsapp import LIMITED, RATE
from .oracle import Execution

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

NAP = 0.3  # seconds each limited job runs
CLOCK_SLACK_S = 0.001  # the claim times are stored to the microsecond or so


def most_at_once(runs: list[Execution], deaths: dict[int, int]) -> int:
    """The largest number of executions alive at one moment (a killed one ends at its death)."""
    moments: list[tuple[int, int]] = []
    for run in runs:
        stopped = run.stopped_ns(deaths)
        assert stopped is not None, f"{run} never stopped"
        moments += [(run.started_ns, 1), (stopped, -1)]
    alive = peak = 0
    for _, change in sorted(moments):  # at a tie an end (-1) sorts before a start
        alive += change
        peak = max(peak, alive)
    return peak


async def test_concurrency_holds_across_two_workers_and_a_killed_one(harness: Harness) -> None:
    # enough work that some is left once the killed worker's lease runs out
    handles = [await harness.jobs.limited_nap.enqueue(NAP) for _ in range(40)]
    # the first starts alone: two racing for two slots, one may win every claim
    first = harness.start_worker(concurrency=8)
    await harness.started(first)
    await harness.wait_until(lambda: bool(harness.ran_by(first.pid)), 30, "worker 1 to run one")
    second = harness.start_worker(concurrency=8)
    await harness.started(second)

    # kill the first worker while it runs a limited job (it keeps both slots busy): its
    # slot must come free
    first.kill()
    died = first.died_ns
    assert died is not None

    async def all_done() -> bool:
        return await harness.count(JobState.SUCCEEDED) == len(handles)

    await harness.wait_until(all_done, 60, "every limited job to succeed")
    runs = [run for job_runs in harness.runs().values() for run in job_runs]
    assert most_at_once(runs, {first.pid: died}) == LIMITED
    # after the death, the survivor reached the limit again: the dead worker's slot came free
    assert most_at_once([run for run in runs if run.started_ns > died], {}) == LIMITED
    for handle in handles:
        record = await harness.record(handle.id)
        assert record.attempts == 1 + record.recoveries, "a held-back job used no attempt"


async def test_the_rate_holds_across_two_workers(harness: Harness) -> None:
    per_second = int(RATE.split("/")[0])
    total = 3 * per_second
    for _ in range(total):
        await harness.jobs.rated_echo.enqueue(None)
    workers = [harness.start_worker(concurrency=total) for _ in range(2)]
    await harness.started(*workers)

    async def all_done() -> bool:
        return await harness.count(JobState.SUCCEEDED) == total

    await harness.wait_until(all_done, 60, "every rated job to succeed")
    records = list((await harness.records()).values())
    assert [r.attempts for r in records] == [1] * total
    # the claims' times on the backend's clock, the one the bucket runs on (a job's start
    # in its worker comes a moment later, longer for a worker's first jobs)
    claims = sorted(r.started_at for r in records if r.started_at is not None)
    assert len(claims) == total
    # a bucket of `per_second` tokens refilling at `per_second` a second lets at most
    # per_second * (1 + t) claims happen in any t seconds, whichever workers make them
    for i, earliest in enumerate(claims):
        for j in range(i, total):
            window = claims[j] - earliest + CLOCK_SLACK_S
            assert j - i + 1 <= per_second * (1 + window), (i, j, window)
    for worker in workers:
        worker.send(signal.SIGTERM)
