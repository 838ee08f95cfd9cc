"""Leases: what a claim records, renewal, expiry, recovery, fencing and the recovery limit."""

from __future__ import annotations

import pytest

from conveyor.backends.base import Backend, Lease, Recovered, RunningUpdate
from conveyor.job import JobState

from .support import (
    LONG_LEASE,
    SHORT_LEASE,
    ack,
    claim,
    claim_one,
    enqueue,
    expire_lease,
    get,
    ids,
    lease_of,
    make_job,
)


async def test_claim_leases_the_job_to_the_worker(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    before = await backend.now()
    [claimed] = await claim(backend, lease_seconds=5.0, worker="worker-7")
    after = await backend.now()

    for record in (claimed, await get(backend, "j")):
        assert record.state is JobState.ACTIVE
        assert record.attempts == 1
        assert record.lease_token
        assert record.worker == "worker-7"
        assert record.started_at is not None
        assert before <= record.started_at <= after
        assert record.lease_expires_at == pytest.approx(record.started_at + 5.0, abs=1e-3)


async def test_each_claim_of_a_job_counts_an_attempt(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    first = await claim_one(backend)
    assert await ack(backend, lease_of(first), JobState.SCHEDULED)

    second = await claim_one(backend)

    assert (first.attempts, second.attempts) == (1, 2)
    assert second.lease_token != first.lease_token


async def test_extend_with_the_right_token_renews_the_lease(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    claimed = await claim_one(backend, lease_seconds=1.0)

    before = await backend.now()
    statuses = await backend.extend([lease_of(claimed)], 20.0)
    after = await backend.now()

    assert set(statuses) == {"j"}
    assert statuses["j"].held is True
    assert statuses["j"].cancel_requested is False
    expires = (await get(backend, "j")).lease_expires_at
    assert expires is not None
    assert before + 20.0 - 1e-3 <= expires <= after + 20.0 + 1e-3


async def test_extend_with_a_wrong_token_or_unknown_job_is_not_held(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    claimed = await claim_one(backend)

    statuses = await backend.extend([Lease("j", "not-the-token"), Lease("nope", "x")], 20.0)

    assert statuses["j"].held is False
    assert statuses["nope"].held is False
    assert (await get(backend, "j")).lease_expires_at == claimed.lease_expires_at


async def test_an_extended_lease_is_not_recovered(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    claimed = await claim_one(backend, lease_seconds=SHORT_LEASE)
    assert (await backend.extend([lease_of(claimed)], LONG_LEASE))["j"].held

    await expire_lease(backend, claimed)

    assert await backend.recover_expired() == Recovered(requeued=0, dead=0)
    assert (await get(backend, "j")).state is JobState.ACTIVE


async def test_recover_expired_leaves_live_leases_alone(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    await claim_one(backend)

    assert await backend.recover_expired() == Recovered(requeued=0, dead=0)
    assert (await get(backend, "j")).state is JobState.ACTIVE


async def test_an_expired_lease_is_requeued_by_recovery(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    claimed = await claim_one(backend, lease_seconds=SHORT_LEASE)
    await expire_lease(backend, claimed)

    assert await backend.recover_expired() == Recovered(requeued=1, dead=0)

    record = await get(backend, "j")
    assert record.state is JobState.QUEUED
    assert (record.attempts, record.recoveries) == (1, 1)
    assert record.lease_token is None
    reclaimed = await claim_one(backend)
    assert reclaimed.id == "j"
    assert reclaimed.attempts == 2
    assert reclaimed.lease_token != claimed.lease_token


async def test_a_lost_lease_is_fenced_off_after_recovery(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    stale = await claim_one(backend, lease_seconds=SHORT_LEASE)
    await expire_lease(backend, stale)
    await backend.recover_expired()
    current = await claim_one(backend)
    old = lease_of(stale)

    assert (await backend.extend([old], LONG_LEASE))["j"].held is False
    assert await backend.update_running([RunningUpdate(old, progress=0.5)]) == [False]
    assert await ack(backend, old, JobState.SUCCEEDED, result=b"stale") is False

    record = await get(backend, "j")
    assert record.state is JobState.ACTIVE
    assert record.lease_token == current.lease_token
    assert record.progress is None
    assert record.result is None
    assert await ack(backend, lease_of(current), JobState.SUCCEEDED, result=b"fresh")
    assert (await get(backend, "j")).result == b"fresh"


async def test_a_lost_lease_is_fenced_off_before_the_job_is_claimed_again(
    backend: Backend,
) -> None:
    await enqueue(backend, make_job("j"))
    stale = await claim_one(backend, lease_seconds=SHORT_LEASE)
    await expire_lease(backend, stale)
    await backend.recover_expired()

    assert await ack(backend, lease_of(stale), JobState.SUCCEEDED) is False
    assert (await get(backend, "j")).state is JobState.QUEUED
    assert ids(await claim(backend)) == ["j"]


async def test_a_job_recovered_too_often_is_dead_lettered_as_worker_lost(
    backend: Backend,
) -> None:
    await enqueue(backend, make_job("crashy"))
    claimed = await claim_one(backend, lease_seconds=SHORT_LEASE)
    await expire_lease(backend, claimed)
    assert await backend.recover_expired(max_recoveries=1) == Recovered(requeued=1, dead=0)

    claimed = await claim_one(backend, lease_seconds=SHORT_LEASE)
    await expire_lease(backend, claimed)
    before = await backend.now()
    assert await backend.recover_expired(max_recoveries=1) == Recovered(requeued=0, dead=1)

    record = await get(backend, "crashy")
    assert record.state is JobState.FAILED
    assert record.error is not None
    assert record.error.reason == "worker_lost"
    assert (record.attempts, record.recoveries) == (2, 1)
    assert record.finished_at is not None
    assert record.finished_at >= before
    assert record.lease_token is None
    assert await claim(backend) == []
    assert await ack(backend, lease_of(claimed), JobState.SUCCEEDED) is False


async def test_recovery_limit_zero_dead_letters_at_the_first_expiry(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    claimed = await claim_one(backend, lease_seconds=SHORT_LEASE)
    await expire_lease(backend, claimed)

    assert await backend.recover_expired(max_recoveries=0) == Recovered(requeued=0, dead=1)
    assert (await get(backend, "j")).state is JobState.FAILED


async def test_an_expired_lease_of_a_job_asked_to_cancel_ends_cancelled(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    claimed = await claim_one(backend, lease_seconds=SHORT_LEASE)
    await backend.cancel("j")  # the worker died before its heartbeat could see the request
    await expire_lease(backend, claimed)

    assert await backend.recover_expired() == Recovered(requeued=0, dead=0, cancelled=1)

    assert (await get(backend, "j")).state is JobState.CANCELLED
    assert await claim(backend) == []


async def test_a_recovered_job_keeps_its_place_in_the_queue(backend: Backend) -> None:
    await enqueue(backend, make_job("x"), make_job("y"), make_job("z"))
    claimed = await claim_one(backend, lease_seconds=SHORT_LEASE)
    await expire_lease(backend, claimed)
    assert (await backend.recover_expired()).requeued == 1

    assert ids(await claim(backend)) == ["x", "y", "z"]
