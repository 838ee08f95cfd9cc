"""Leases: a heartbeat keeps a long job, and a paused worker's late writes are fenced off."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from conveyor.job import JobState

from .harness import SWEEP_INTERVAL, Harness
from .oracle import classify

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]


async def test_a_job_running_five_leases_is_never_redelivered(harness: Harness) -> None:
    """Reliability #3: the heartbeat renews the lease, async and sync tasks alike."""
    jobs, lease = harness.jobs, 1.0
    ids = [(await jobs.nap.enqueue(5 * lease)).id, (await jobs.sync_nap.enqueue(5 * lease)).id]

    owner = harness.start_worker(concurrency=2, lease=lease, heartbeat=0.3, burst=True)
    await harness.wait_until(lambda: harness.runs().keys() == set(ids), 10, "both jobs to start")
    # a second worker, idle: its sweeper requeues any lapsed lease and it would claim the job
    thief = harness.start_worker(concurrency=2, lease=lease, heartbeat=0.3)
    assert await harness.wait_exit(owner, 5 * lease + 10) == 0

    runs = harness.runs()
    for job_id in ids:
        record = await harness.record(job_id)
        assert [(run.pid, run.completed) for run in runs[job_id]] == [(owner.pid, True)], runs
        assert record.state is JobState.SUCCEEDED
        assert (record.attempts, record.recoveries) == (1, 0)
        assert jobs.app.decode_result(record) == owner.pid
        assert (runs[job_id][0].ended_ns or 0) - runs[job_id][0].started_ns >= 5 * lease * 1e9
    assert thief.alive
    assert not harness.ran_by(thief.pid)


async def test_a_paused_worker_cannot_overwrite_the_job_another_worker_finished(
    harness: Harness,
) -> None:
    """Reliability #4: SIGSTOP for 2 x lease; another worker re-claims; the zombie is fenced.

    The zombie holds two jobs when it is paused: `stall`, caught holding the event loop, so
    on waking its handler returns at once and the zombie writes a stale acknowledgement; and
    a long `nap`, whose handler the zombie should cancel once its heartbeat finds the lease
    gone. Neither may change what the rescuer stored.
    """
    jobs, lease, heartbeat = harness.jobs, 3.0, 0.5
    stalled = (await jobs.stall.enqueue(1.5)).id  # holds the loop 1.5 s: well within the lease
    sleeper = (await jobs.nap.enqueue(60)).id
    zombie = harness.start_worker(concurrency=2, lease=lease, heartbeat=heartbeat)

    def caught_blocking() -> bool:
        runs = harness.runs()
        return sleeper in runs and any(run.blocked_ns for run in runs.get(stalled, []))

    await harness.wait_until(caught_blocking, 10, "the zombie to run both jobs")
    zombie.send(signal.SIGSTOP)
    paused_at = time.monotonic()
    if any(run.completed for run in harness.runs()[stalled]):
        harness.fail("the stall ended before SIGSTOP landed: this machine is too slow for it")
    rescuer = harness.start_worker(concurrency=2, lease=lease, heartbeat=heartbeat, nap_scale=0)

    async def rescued() -> bool:
        return await harness.count(JobState.SUCCEEDED) == 2

    await harness.wait_until(rescued, lease + SWEEP_INTERVAL + 10, "the rescuer to finish both")
    before = {job_id: await harness.record(job_id) for job_id in (stalled, sleeper)}
    for record in before.values():
        assert record.worker == rescuer.name, record
        assert jobs.app.decode_result(record) == rescuer.pid
        assert record.attempts == 2

    await asyncio.sleep(max(0.0, paused_at + 2 * lease - time.monotonic()))
    resumed_ns = time.monotonic_ns()  # read first: the zombie may write before send returns
    zombie.send(signal.SIGCONT)

    def zombie_woke() -> bool:
        runs = harness.runs()
        late_end = [run for run in runs[stalled] if run.pid == zombie.pid and run.completed]
        cancelled = [run for run in runs[sleeper] if run.pid == zombie.pid and run.cancelled_ns]
        return bool(late_end) and bool(cancelled)

    # the stall handler returns at once (its ack is written and rejected); the nap handler
    # is cancelled at the zombie's next heartbeat, when it finds the lease lost
    await harness.wait_until(zombie_woke, 5, "the zombie to finish one job and drop the other")
    await asyncio.sleep(1.0)  # room for the zombie's acknowledgement and renewals to land

    runs = harness.runs()
    (late,) = [run for run in runs[stalled] if run.pid == zombie.pid]
    assert late.ended_ns is not None
    assert late.ended_ns >= resumed_ns, "the stall handler should have ended after SIGCONT"
    assert not any(run.completed for run in runs[sleeper] if run.pid == zombie.pid)
    for job_id, earlier in before.items():
        record = await harness.record(job_id)
        assert record.state is JobState.SUCCEEDED, record
        assert record.worker == rescuer.name, "the zombie's write replaced the rescuer's"
        assert jobs.app.decode_result(record) == rescuer.pid, "the zombie's result was stored"
        assert (record.attempts, record.recoveries) == (earlier.attempts, earlier.recoveries)
        assert record.finished_at == earlier.finished_at
        assert record.lease_token is None
    verdict = classify([sleeper], await harness.records(), runs)
    assert verdict.fine == {sleeper}, verdict.summary()
    # the rescuer claimed the jobs only once the zombie's lease had lapsed: at least a lease
    # after the zombie's last renewal, which came at most a heartbeat before the stall
    (stall_run,) = [run for run in runs[stalled] if run.pid == zombie.pid]
    assert stall_run.blocked_ns is not None
    lapsed_ns = stall_run.blocked_ns + (lease - heartbeat) * 1e9
    rescue = [run for run in runs[stalled] + runs[sleeper] if run.pid == rescuer.pid]
    assert len(rescue) == 2
    assert all(run.started_ns >= lapsed_ns for run in rescue), (rescue, lapsed_ns)

    assert zombie.alive, "the zombie should survive its lost leases"
    for worker in (zombie, rescuer):
        worker.send(signal.SIGTERM)
    for worker in (zombie, rescuer):
        assert await harness.wait_exit(worker, 10) == 0
