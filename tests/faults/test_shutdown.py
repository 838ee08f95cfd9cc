"""SIGTERM with running jobs: finish within the grace period, hand the rest back at once."""

from __future__ import annotations

import signal
import time

import pytest

from conveyor.job import JobState

from .harness import Harness, exit_signal
from .oracle import classify, overlaps

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]

GRACE = 1.5
LEASE = 30.0  # a hand-back that waited for the lease would take this long: far too long
PROMPTLY = GRACE + 2.5  # the grace period, a second to cancel the rest, and the exit


async def test_sigterm_finishes_short_jobs_and_hands_back_long_ones(harness: Harness) -> None:
    """Reliability #14: done within G: acknowledged once; the rest handed back unrun."""
    jobs = harness.jobs
    short = [h.id for h in await jobs.app.enqueue_many([jobs.nap.s(0.3) for _ in range(4)])]
    long = [h.id for h in await jobs.app.enqueue_many([jobs.nap.s(60) for _ in range(4)])]
    worker = harness.start_worker(concurrency=8, lease=LEASE, heartbeat=10, grace=GRACE)
    await harness.wait_until(lambda: len(harness.runs()) == 8, 10, "all 8 jobs to start")

    worker.send(signal.SIGTERM)
    signalled = time.monotonic()
    code = await harness.wait_exit(worker, PROMPTLY + 5)
    took = time.monotonic() - signalled
    assert code == 0, f"the worker ended with {exit_signal(code)}"
    assert took < PROMPTLY, f"the worker took {took:.1f} s to stop with a {GRACE} s grace"

    runs = harness.runs()
    for job_id in short:
        record = await harness.record(job_id)
        assert record.state is JobState.SUCCEEDED, record
        assert [(run.pid, run.completed) for run in runs[job_id]] == [(worker.pid, True)]
        assert record.attempts == 1
    for job_id in long:
        record = await harness.record(job_id)
        assert record.state is JobState.QUEUED, record
        assert record.attempts == 0, "a handed-back job's attempt must not count"
        assert (record.lease_token, record.worker) == (None, None)
        (run,) = runs[job_id]
        assert run.cancelled_ns is not None, "the handler should have been cancelled"
        assert run.cancelled_ns / 1e9 - signalled < GRACE + 1.0

    finisher = harness.start_worker(concurrency=8, burst=True, nap_scale=0)
    assert await harness.wait_exit(finisher, 15) == 0
    records, runs = await harness.records(), harness.runs()
    verdict = classify(short + long, records, runs)
    assert verdict.fine == set(short + long), verdict.summary()
    assert all(records[job_id].attempts == 1 for job_id in long)
    assert not overlaps(runs)


async def test_sigterm_with_a_running_sync_job_exits_promptly(harness: Harness) -> None:
    """Reliability #14 for a sync task: its thread cannot be cancelled, the process can end.

    The job is handed back once the grace period is over; the worker must then exit rather
    than wait for the thread, or another worker runs the job while this one still does.
    """
    jobs = harness.jobs
    job_id = (await jobs.sync_nap.enqueue(20)).id
    worker = harness.start_worker(concurrency=2, lease=LEASE, heartbeat=10, grace=GRACE)
    await harness.wait_until(lambda: job_id in harness.runs(), 10, "the sync job to start")

    worker.send(signal.SIGTERM)
    signalled = time.monotonic()

    async def handed_back() -> bool:
        return (await harness.record(job_id)).state is JobState.QUEUED

    await harness.wait_until(handed_back, PROMPTLY, "the sync job to be handed back")
    record = await harness.record(job_id)
    assert record.attempts == 0, "a handed-back job's attempt must not count"
    await harness.wait_until(
        lambda: not worker.alive,
        PROMPTLY - (time.monotonic() - signalled),
        f"the worker to exit within {PROMPTLY:g} s of SIGTERM (grace {GRACE:g} s) although it "
        "handed its sync job back",
    )
    assert worker.returncode == 0

    finisher = harness.start_worker(concurrency=2, burst=True, nap_scale=0)
    assert await harness.wait_exit(finisher, 15) == 0
    runs = harness.runs()
    assert worker.died_ns is not None
    assert not overlaps(runs, {worker.pid: worker.died_ns})
    verdict = classify([job_id], await harness.records(), runs)
    assert verdict.fine == {job_id}, verdict.summary()
