"""Workers killed with SIGKILL: jobs are not lost, and reruns stay within their bounds."""

from __future__ import annotations

import asyncio
import random
import signal
import time

import pytest

from conveyor.backends.base import DEFAULT_MAX_RECOVERIES, WORKER_LOST
from conveyor.job import JobState

from .harness import SWEEP_INTERVAL, Harness, exit_signal
from .oracle import classify, overlaps

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]

LEASE, HEARTBEAT = 2.0, 0.5


async def test_sigkill_with_many_jobs_in_flight(harness: Harness) -> None:
    """Reliability #1: none lost; duplicates only among the jobs it held; attempt + 1."""
    jobs, concurrency = harness.jobs, 20
    rng = random.Random(1)
    handles = await jobs.app.enqueue_many([jobs.nap.s(rng.uniform(0.05, 0.1)) for _ in range(300)])
    enqueued = [h.id for h in handles]

    first = harness.start_worker(concurrency=concurrency, lease=LEASE, heartbeat=HEARTBEAT)
    await harness.wait_until(lambda: harness.completions() >= 100, 20, "100 jobs done")
    first.kill()
    killed_ns = first.died_ns
    assert killed_ns is not None
    # a claim the worker sent just before it died may still be committing on the server
    await asyncio.sleep(0.5)
    held = {r.id: r for r in (await harness.records()).values() if r.state is JobState.ACTIVE}
    in_flight = [run for run in harness.ran_by(first.pid) if not run.completed]
    # the kill may fall between a claim and its jobs' start: then they are held, not running
    assert held, "the kill came after the first worker had finished: it held no job"
    assert len(in_flight) <= concurrency, f"{len(in_flight)} jobs ran at once, over {concurrency}"
    assert {run.job_id for run in in_flight} <= held.keys(), "a job in flight was not leased"

    second = harness.start_worker(concurrency=concurrency, lease=LEASE, heartbeat=HEARTBEAT)

    async def all_succeeded() -> bool:
        return await harness.count(JobState.SUCCEEDED) == len(enqueued)

    await harness.wait_until(all_succeeded, LEASE + SWEEP_INTERVAL + 15, "every job to succeed")

    records, runs = await harness.records(), harness.runs()
    verdict = classify(enqueued, records, runs)
    assert verdict.nothing_lost, verdict.summary()
    assert verdict.duplicated.keys() <= held.keys(), verdict.summary()
    assert len(verdict.duplicated) <= len(held)
    assert not overlaps(runs, {first.pid: killed_ns})

    for job_id, before in held.items():  # each held job ran again, one attempt later
        record = records[job_id]
        rerun = [run for run in runs[job_id] if run.pid == second.pid]
        assert [run.attempt for run in rerun] == [before.attempts + 1], (job_id, runs[job_id])
        assert (record.attempts, record.recoveries) == (before.attempts + 1, 1), record
        assert record.worker == second.name
        reclaimed_after = (rerun[0].started_ns - killed_ns) / 1e9
        # the lease lapses within L of the kill and the sweep runs every S; then add slack
        assert reclaimed_after < LEASE + SWEEP_INTERVAL + 2.0, (job_id, reclaimed_after)
    for job_id in set(enqueued) - held.keys():  # the others ran once, on their first attempt
        assert [run.attempt for run in runs[job_id]] == [1], (job_id, runs[job_id])
        assert (records[job_id].attempts, records[job_id].recoveries) == (1, 0)
    assert second.alive


async def test_sigkill_between_return_and_acknowledgement(harness: Harness) -> None:
    """Reliability #2: at most one extra run; never both succeeded and queued."""
    jobs = harness.jobs
    # the worker's other slots hold long naps while the racer returns: no other job ends in
    # that turn of the loop to wake the flusher before the kill (see die_after_return)
    sleepers = await jobs.app.enqueue_many([jobs.nap.s(3.0) for _ in range(4)])
    racer = (await jobs.die_after_return.enqueue()).id
    queued = await jobs.app.enqueue_many([jobs.nap.s(0.05) for _ in range(20)])
    bystanders = [handle.id for handle in [*sleepers, *queued]]

    first = harness.start_worker(concurrency=5, lease=LEASE, heartbeat=HEARTBEAT)
    code = await harness.wait_exit(first, 20)
    assert code == -signal.SIGKILL, (
        f"the worker should have died by SIGKILL, got {exit_signal(code)}"
    )
    runs = harness.runs()[racer]
    assert [(run.pid, run.attempt, run.completed) for run in runs] == [(first.pid, 1, True)]
    held = {r.id for r in (await harness.records()).values() if r.state is JobState.ACTIVE}
    assert {handle.id for handle in sleepers} <= held, "the sleepers were not all running"
    stranded = await harness.record(racer)
    assert stranded.state is JobState.ACTIVE, "the outcome was written although the worker died"
    assert stranded.attempts == 1

    second = harness.start_worker(concurrency=5, lease=LEASE, heartbeat=HEARTBEAT)
    seen: list[JobState] = []

    async def racer_succeeded() -> bool:
        seen.append((await harness.record(racer)).state)
        return seen[-1] is JobState.SUCCEEDED

    await harness.wait_until(racer_succeeded, LEASE + SWEEP_INTERVAL + 10, "the rerun to succeed")
    watch_until = time.monotonic() + SWEEP_INTERVAL + 0.5  # past one more sweep of the lease
    while time.monotonic() < watch_until:
        seen.append((await harness.record(racer)).state)
        await asyncio.sleep(0.05)
    assert set(seen[seen.index(JobState.SUCCEEDED) :]) == {JobState.SUCCEEDED}, seen

    record = await harness.record(racer)
    runs = harness.runs()[racer]
    assert [(run.pid, run.attempt, run.completed) for run in runs] == [
        (first.pid, 1, True),
        (second.pid, 2, True),
    ], "one extra run, and only one"
    assert (record.attempts, record.recoveries) == (2, 1)
    assert jobs.app.decode_result(record) == second.pid

    async def all_succeeded() -> bool:
        return await harness.count(JobState.SUCCEEDED) == len(bystanders) + 1

    await harness.wait_until(all_succeeded, 10, "the bystanders to succeed")
    verdict = classify([*bystanders, racer], await harness.records(), harness.runs())
    assert verdict.nothing_lost, verdict.summary()
    assert verdict.duplicated.keys() <= held, verdict.summary()


async def test_poison_pill_is_dead_lettered_as_worker_lost(harness: Harness) -> None:
    """Reliability #10: dead-lettered after 3 recoveries; the other jobs keep flowing."""
    jobs = harness.jobs
    pill = (await jobs.poison.enqueue()).id
    normal = [h.id for h in await jobs.app.enqueue_many([jobs.nap.s(0.03) for _ in range(50)])]

    async def settled() -> bool:
        record = await harness.record(pill)
        return record.state.is_final and await harness.count(JobState.SUCCEEDED) == len(normal)

    workers = await harness.keep_a_worker_running(
        lambda: harness.start_worker(concurrency=4, lease=1.0, heartbeat=0.3),
        settled,
        timeout=(DEFAULT_MAX_RECOVERIES + 1) * (1.0 + SWEEP_INTERVAL + 2.0) + 10,
        max_starts=DEFAULT_MAX_RECOVERIES + 3,
    )

    record = await harness.record(pill)
    assert record.state is JobState.FAILED, record
    assert record.error is not None
    assert record.error.reason == WORKER_LOST, record.error
    assert record.recoveries == DEFAULT_MAX_RECOVERIES
    pill_runs = harness.runs()[pill]
    assert len(pill_runs) == DEFAULT_MAX_RECOVERIES + 1, pill_runs
    assert not any(run.completed for run in pill_runs)
    killed = [w for w in workers if not w.alive]
    assert [run.pid for run in pill_runs] == [w.pid for w in killed], "one worker per attempt"
    assert all(w.returncode == -signal.SIGKILL for w in killed)
    assert workers[-1].alive, "the last worker should still be up"

    verdict = classify(normal, await harness.records(), harness.runs())
    assert not verdict.lost, verdict.summary()
    assert verdict.unexpected == {pill}, verdict.summary()
