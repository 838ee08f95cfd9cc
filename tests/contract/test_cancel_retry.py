"""Cancellation of pending and active jobs, and retry of finished ones by hand."""

from __future__ import annotations

from conveyor.backends.base import Backend, JobFilter, RunningUpdate
from conveyor.job import JobError, JobState

from .support import (
    SHORT_LEASE,
    ack,
    claim,
    claim_one,
    enqueue,
    expire_lease,
    finish,
    get,
    ids,
    lease_of,
    make_job,
    sleep_past,
)


async def test_cancel_of_a_queued_job_cancels_it_for_good(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    before = await backend.now()

    record = await backend.cancel("j")

    assert record is not None
    assert record.state is JobState.CANCELLED
    assert record.finished_at is not None
    assert record.finished_at >= before
    assert (await get(backend, "j")).state is JobState.CANCELLED
    assert await claim(backend) == []


async def test_cancel_of_a_scheduled_job_stops_it_from_ever_becoming_due(
    backend: Backend,
) -> None:
    [created] = await enqueue(backend, make_job("j", delay=0.2))

    record = await backend.cancel("j")

    assert record is not None
    assert record.state is JobState.CANCELLED
    await sleep_past(backend, created.due_at)
    assert await claim(backend) == []
    assert (await get(backend, "j")).state is JobState.CANCELLED


async def test_cancel_of_an_active_job_requests_it_and_keeps_it_active(
    backend: Backend,
) -> None:
    await enqueue(backend, make_job("j"))
    claimed = await claim_one(backend)
    assert (await backend.extend([lease_of(claimed)], 30.0))["j"].cancel_requested is False

    record = await backend.cancel("j")

    assert record is not None
    assert record.state is JobState.ACTIVE
    assert record.cancel_requested is True
    assert (await get(backend, "j")).cancel_requested is True
    status = (await backend.extend([lease_of(claimed)], 30.0))["j"]
    assert status.held is True
    assert status.cancel_requested is True


async def test_an_active_job_asked_to_cancel_still_owns_its_lease(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    claimed = await claim_one(backend)
    await backend.cancel("j")

    assert await backend.update_running([RunningUpdate(lease_of(claimed), progress=0.5)]) == [True]
    assert await ack(backend, lease_of(claimed), JobState.CANCELLED)
    assert (await get(backend, "j")).state is JobState.CANCELLED


async def test_cancel_of_an_unknown_job_returns_none(backend: Backend) -> None:
    assert await backend.cancel("never-enqueued") is None


async def test_cancel_of_a_finished_job_changes_nothing(backend: Backend) -> None:
    done = await finish(backend, make_job("j"))

    record = await backend.cancel("j")

    assert record == done
    assert await get(backend, "j") == done


async def test_retry_of_a_failed_job_queues_it_with_attempts_reset(backend: Backend) -> None:
    await finish(backend, make_job("j"), JobState.FAILED)

    record = await backend.retry("j")

    assert record is not None
    assert record.state is JobState.QUEUED
    assert (record.attempts, record.recoveries) == (0, 0)
    assert record.error is None
    assert record.finished_at is None
    assert await get(backend, "j") == record
    assert (await claim_one(backend)).attempts == 1


async def test_retry_of_a_job_dead_lettered_as_worker_lost_resets_recoveries(
    backend: Backend,
) -> None:
    await enqueue(backend, make_job("j"))
    claimed = await claim_one(backend, lease_seconds=SHORT_LEASE)
    await expire_lease(backend, claimed)
    assert (await backend.recover_expired(max_recoveries=0)).dead == 1

    record = await backend.retry("j")

    assert record is not None
    assert record.state is JobState.QUEUED
    assert (record.attempts, record.recoveries) == (0, 0)
    assert ids(await claim(backend)) == ["j"]


async def test_retry_of_a_cancelled_job_queues_it_again(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    await backend.cancel("j")

    record = await backend.retry("j")

    assert record is not None
    assert record.state is JobState.QUEUED
    assert record.attempts == 0
    assert record.cancel_requested is False
    assert ids(await claim(backend)) == ["j"]


async def test_retry_leaves_pending_active_and_succeeded_jobs_alone(backend: Backend) -> None:
    done = await finish(backend, make_job("done"))
    await enqueue(backend, make_job("running"), make_job("waiting", delay=60))
    running = await claim_one(backend)

    assert await backend.retry("done") == done
    assert await backend.retry("running") == running
    retried = await backend.retry("waiting")
    assert retried is not None
    assert retried.state is JobState.SCHEDULED
    assert await backend.retry("unknown") is None
    assert await backend.list_jobs(JobFilter(state=JobState.QUEUED)) == []


async def test_retried_job_runs_again_and_can_succeed(backend: Backend) -> None:
    failed = await finish(backend, make_job("j"), JobState.FAILED)
    assert failed.error == JobError("Boom", "it broke")
    await backend.retry("j")

    claimed = await claim_one(backend)
    assert await ack(backend, lease_of(claimed), JobState.SUCCEEDED, result=b"ok")

    record = await get(backend, "j")
    assert (record.state, record.result, record.error) == (JobState.SUCCEEDED, b"ok", None)
