"""Results: time-to-live of finished records, and waiting for a job to end."""

from __future__ import annotations

import asyncio
import time

import pytest

from conveyor.backends.base import Backend, JobFilter
from conveyor.job import JobState

from .support import (
    ack,
    claim,
    claim_one,
    enqueue,
    finish,
    get,
    ids,
    lease_of,
    make_job,
    nonzero,
    sleep_past,
)

TTL = 0.2


async def test_a_result_is_readable_until_its_ttl_passes(backend: Backend) -> None:
    done = await finish(backend, make_job("j", result_ttl=TTL))
    assert done.result == b"done"
    assert done.finished_at is not None
    assert done.expires_at is not None
    assert done.expires_at == pytest.approx(done.finished_at + TTL, abs=1e-3)

    await sleep_past(backend, done.expires_at)

    assert await backend.get("j") is None
    assert await backend.list_jobs(JobFilter()) == []
    assert nonzero(await backend.counts()) == {}


async def test_purge_expired_deletes_records_past_their_ttl(backend: Backend) -> None:
    done = await finish(backend, make_job("short", result_ttl=TTL))
    await finish(backend, make_job("long", result_ttl=60))
    await finish(backend, make_job("forever"))
    assert done.expires_at is not None
    await sleep_past(backend, done.expires_at)

    assert await backend.purge_expired() == 1
    assert await backend.purge_expired() == 0
    assert sorted(ids(await backend.list_jobs(JobFilter()))) == ["forever", "long"]


async def test_a_cancelled_job_expires_after_its_ttl(backend: Backend) -> None:
    await enqueue(backend, make_job("j", result_ttl=TTL))
    cancelled = await backend.cancel("j")
    assert cancelled is not None
    assert cancelled.expires_at is not None

    await sleep_past(backend, cancelled.expires_at)

    assert await backend.get("j") is None


async def test_an_expired_id_can_be_enqueued_again(backend: Backend) -> None:
    done = await finish(backend, make_job("j", result_ttl=TTL, payload=b"first"))
    assert done.expires_at is not None
    await sleep_past(backend, done.expires_at)
    assert await backend.purge_expired() == 1

    [again] = await backend.enqueue([make_job("j", payload=b"second")])

    assert again.created is True
    assert again.record.state is JobState.QUEUED
    assert again.record.attempts == 0
    assert again.record.result is None
    assert (await get(backend, "j")).payload == b"second"


async def test_an_expired_id_can_be_enqueued_again_before_it_is_purged(
    backend: Backend,
) -> None:
    done = await finish(backend, make_job("j", result_ttl=TTL, payload=b"first"))
    assert done.expires_at is not None
    await sleep_past(backend, done.expires_at)

    [again] = await backend.enqueue([make_job("j", payload=b"second")])

    assert again.created is True
    assert (await get(backend, "j")).payload == b"second"
    assert await backend.purge_expired() == 0
    assert ids(await claim(backend)) == ["j"]


async def test_a_reused_id_starts_fresh_after_a_purge(backend: Backend) -> None:
    await enqueue(backend, make_job("j", priority=9))
    await backend.cancel("j")
    assert await backend.purge([JobState.CANCELLED]) == 1

    [again] = await enqueue(backend, make_job("j", delay=60))

    assert again.state is JobState.SCHEDULED
    assert await claim(backend) == []
    assert (await get(backend, "j")).state is JobState.SCHEDULED


async def test_wait_final_returns_promptly_once_another_task_acks(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    claimed = await claim_one(backend)

    async def finish_soon() -> None:
        await asyncio.sleep(0.05)
        assert await ack(backend, lease_of(claimed), JobState.SUCCEEDED, result=b"r")

    started = time.monotonic()
    finisher = asyncio.create_task(finish_soon())
    record = await backend.wait_final("j", time.monotonic() + 10)
    elapsed = time.monotonic() - started
    await finisher

    assert record is not None
    assert (record.state, record.result) == (JobState.SUCCEEDED, b"r")
    assert elapsed < 1.0


async def test_wait_final_sees_an_ack_made_by_another_instance(
    backend: Backend, peer: Backend
) -> None:
    await enqueue(backend, make_job("j"))
    claimed = await claim_one(peer)

    async def finish_soon() -> None:
        await asyncio.sleep(0.05)
        assert await ack(peer, lease_of(claimed), JobState.FAILED)

    started = time.monotonic()
    finisher = asyncio.create_task(finish_soon())
    record = await backend.wait_final("j", time.monotonic() + 10)
    elapsed = time.monotonic() - started
    await finisher

    assert record is not None
    assert record.state is JobState.FAILED
    assert elapsed < 1.0


async def test_wait_final_returns_the_unfinished_record_at_its_deadline(
    backend: Backend,
) -> None:
    await enqueue(backend, make_job("j"))

    started = time.monotonic()
    record = await backend.wait_final("j", started + 0.2)
    elapsed = time.monotonic() - started

    assert record is not None
    assert record.state is JobState.QUEUED
    assert 0.19 <= elapsed < 1.0


async def test_wait_final_of_a_finished_or_unknown_job_returns_at_once(
    backend: Backend,
) -> None:
    await finish(backend, make_job("done"))

    started = time.monotonic()
    done = await backend.wait_final("done", None)
    missing = await backend.wait_final("missing", None)

    assert done is not None
    assert done.state is JobState.SUCCEEDED
    assert missing is None
    assert time.monotonic() - started < 0.5
