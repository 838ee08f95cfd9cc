"""Each job keeps the attempts that ended: which worker ran each, when it started and
ended, and how; written with the outcome, in the same write."""

from __future__ import annotations

import pytest

from conveyor.backends.base import Backend
from conveyor.backends.history import MAX_HISTORY
from conveyor.job import JobError, JobState

from .support import (
    SHORT_LEASE,
    ack,
    claim,
    claim_one,
    enqueue,
    expire_lease,
    get,
    lease_of,
    make_job,
)

BOOM = JobError("ValueError", "bad input " + "x" * 500, traceback="Traceback ...")


async def test_a_new_job_has_no_history(backend: Backend) -> None:
    job = make_job()
    await enqueue(backend, job)
    assert (await get(backend, job.id)).history == ()
    claimed = await claim_one(backend)
    assert claimed.history == ()  # the attempt it is in is not history yet


async def test_each_ended_attempt_is_kept_in_order(backend: Backend) -> None:
    job = make_job()
    await enqueue(backend, job)

    first = (await claim(backend, worker="worker-a"))[0]
    assert await ack(backend, lease_of(first), JobState.SCHEDULED, error=BOOM, retry_in=0.0)
    second = (await claim(backend, worker="worker-b"))[0]
    assert await ack(backend, lease_of(second), JobState.SUCCEEDED, result=b"1")

    record = await get(backend, job.id)
    history = record.history
    assert [(a.number, a.worker, a.outcome) for a in history] == [
        (1, "worker-a", "retried"),
        (2, "worker-b", "succeeded"),
    ]
    # the times are the store's clock, kept in JSON to the nearest millisecond or better
    assert first.started_at is not None
    assert second.started_at is not None
    assert history[0].started_at == pytest.approx(first.started_at, abs=1e-3)
    assert history[1].started_at == pytest.approx(second.started_at, abs=1e-3)
    assert first.started_at - 1e-3 <= history[0].ended_at <= second.started_at + 1e-3
    assert history[1].ended_at == pytest.approx(record.finished_at, abs=1e-3)
    assert history[0].error is not None
    assert history[0].error.startswith("ValueError: bad input")
    assert len(history[0].error) <= 200, "an attempt keeps the start of its error, not all"
    assert history[1].error is None


async def test_failed_and_cancelled_attempts_end_the_history(backend: Backend) -> None:
    failing, stopping = make_job(), make_job()
    await enqueue(backend, failing, stopping)
    claimed = {r.id: r for r in await claim(backend, worker="worker-a")}

    assert await ack(backend, lease_of(claimed[failing.id]), JobState.FAILED, error=BOOM)
    assert await ack(backend, lease_of(claimed[stopping.id]), JobState.CANCELLED)

    assert [a.outcome for a in (await get(backend, failing.id)).history] == ["failed"]
    assert [a.outcome for a in (await get(backend, stopping.id)).history] == ["cancelled"]


async def test_a_job_handed_back_unrun_made_no_attempt(backend: Backend) -> None:
    job = make_job()
    await enqueue(backend, job)
    claimed = await claim_one(backend)
    assert await ack(backend, lease_of(claimed), JobState.QUEUED)

    assert (await get(backend, job.id)).history == ()
    again = await claim_one(backend)
    assert await ack(backend, lease_of(again), JobState.SUCCEEDED, result=b"1")
    assert [(a.number, a.outcome) for a in (await get(backend, job.id)).history] == [
        (1, "succeeded")
    ]


async def test_an_attempt_whose_lease_expired_is_kept(backend: Backend) -> None:
    job = make_job()
    await enqueue(backend, job)
    lost = (await claim(backend, lease_seconds=SHORT_LEASE, worker="worker-dead"))[0]
    await expire_lease(backend, lost)
    await backend.recover_expired()

    record = await get(backend, job.id)
    assert record.state is JobState.QUEUED
    assert [(a.number, a.worker, a.outcome) for a in record.history] == [
        (1, "worker-dead", "lease_expired")
    ]
    assert lost.lease_expires_at is not None
    assert record.history[0].ended_at >= lost.lease_expires_at - 1e-3


async def test_a_refused_ack_adds_nothing(backend: Backend) -> None:
    job = make_job()
    await enqueue(backend, job)
    lost = (await claim(backend, lease_seconds=SHORT_LEASE, worker="worker-a"))[0]
    await expire_lease(backend, lost)
    await backend.recover_expired()
    owner = (await claim(backend, worker="worker-b"))[0]

    assert not await ack(backend, lease_of(lost), JobState.SUCCEEDED, result=b"late")
    assert [a.worker for a in (await get(backend, job.id)).history] == ["worker-a"]
    assert await ack(backend, lease_of(owner), JobState.SUCCEEDED, result=b"1")
    assert [a.worker for a in (await get(backend, job.id)).history] == ["worker-a", "worker-b"]


async def test_a_retry_by_hand_keeps_the_history_and_only_the_latest_are_kept(
    backend: Backend,
) -> None:
    job = make_job()
    await enqueue(backend, job)
    for round_ in range(MAX_HISTORY + 3):
        claimed = (await claim(backend, worker=f"worker-{round_}"))[0]
        assert await ack(backend, lease_of(claimed), JobState.FAILED, error=BOOM)
        assert await backend.retry(job.id) is not None

    history = (await get(backend, job.id)).history
    assert len(history) == MAX_HISTORY
    assert [a.worker for a in history] == [f"worker-{n}" for n in range(3, MAX_HISTORY + 3)]
    assert {a.number for a in history} == {1}, "a retry by hand starts counting again"
