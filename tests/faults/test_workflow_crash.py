"""Workflows and SIGKILL: a chain survives a kill between its steps, and a chord's
callback runs once when a member's worker dies."""

from __future__ import annotations

import signal

import pytest

from conveyor import JobState, chain, group

from .harness import SWEEP_INTERVAL, Harness, exit_signal

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]

LEASE, HEARTBEAT = 2.0, 0.5
RECOVERY = LEASE + SWEEP_INTERVAL + 15  # the lease lapses, a sweep requeues, the rest runs


async def test_a_chain_survives_a_sigkill_between_its_steps(harness: Harness) -> None:
    jobs = harness.jobs
    up, die = jobs.count_up.step(), jobs.count_up_then_die.step()
    workflow = await chain(jobs.count_up.s(0), up, die, up, up).enqueue()
    ids = [f"{workflow.id}:{index}" for index in range(5)]

    first = harness.start_worker(concurrency=2, lease=LEASE, heartbeat=HEARTBEAT)
    code = await harness.wait_exit(first, 20)
    assert code == -signal.SIGKILL, f"the worker should die by SIGKILL, got {exit_signal(code)}"
    stranded = await harness.record(ids[2])
    assert stranded.state is JobState.ACTIVE, "step 3's outcome was written: no crash between"
    backend = await jobs.app.connected()
    assert await backend.get(ids[3]) is None, "the next step exists without its parent's success"

    harness.start_worker(concurrency=2, lease=LEASE, heartbeat=HEARTBEAT)
    assert await workflow.result(timeout=RECOVERY) == 5
    assert await workflow.status() is JobState.SUCCEEDED

    runs = harness.runs()
    assert [len(runs[job_id]) for job_id in ids] == [1, 1, 2, 1, 1], runs
    assert all(run.completed for job_id in ids for run in runs[job_id])
    assert [run.attempt for run in runs[ids[2]]] == [1, 2]


async def test_a_chords_callback_runs_once_when_a_members_worker_dies(
    harness: Harness,
) -> None:
    jobs = harness.jobs
    members = [jobs.count_up.s(n) for n in range(10)]
    members.insert(5, jobs.count_up_then_die.s(100))
    workflow = await group(members).then(jobs.add_up.step()).enqueue()
    member_ids = [f"{workflow.id}:{index}" for index in range(len(members))]

    workers = [
        harness.start_worker(concurrency=3, lease=LEASE, heartbeat=HEARTBEAT) for _ in range(2)
    ]
    await harness.wait_until(
        lambda: any(not worker.alive for worker in workers), 20, "a member to kill its worker"
    )
    harness.start_worker(concurrency=3, lease=LEASE, heartbeat=HEARTBEAT)

    assert await workflow.result(timeout=RECOVERY) == sum(range(1, 11)) + 101
    assert await workflow.status() is JobState.SUCCEEDED
    runs = harness.runs()
    callback_runs = runs[f"{workflow.id}:callback"]
    assert len(callback_runs) == 1, callback_runs
    assert callback_runs[0].completed
    assert all(any(run.completed for run in runs[job_id]) for job_id in member_ids)
    assert [run.attempt for run in runs[member_ids[5]]] == [1, 2]
