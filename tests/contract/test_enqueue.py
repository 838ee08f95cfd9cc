"""Enqueue: what is stored, delays, and idempotent job ids (single and bulk)."""

from __future__ import annotations

from conveyor.backends.base import Backend, JobFilter
from conveyor.job import JobError, JobRecord, JobState

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


async def test_enqueue_stores_the_producer_fields(backend: Backend) -> None:
    job = JobRecord(
        id="send-1",
        task="mail.send",
        queue="mail",
        payload=b'{"to": "a@b.c"}',
        priority=7,
        headers={"correlation_id": "c-1"},
        max_attempts=4,
        timeout=12.5,
        result_ttl=60.0,
    )
    before = await backend.now()
    await enqueue(backend, job)
    after = await backend.now()

    stored = await get(backend, "send-1")
    assert (stored.task, stored.queue, stored.payload) == ("mail.send", "mail", b'{"to": "a@b.c"}')
    assert (stored.priority, stored.max_attempts) == (7, 4)
    assert (stored.timeout, stored.result_ttl) == (12.5, 60.0)
    assert stored.headers == {"correlation_id": "c-1"}
    assert stored.state is JobState.QUEUED
    assert stored.attempts == 0
    assert before <= stored.enqueued_at <= after
    assert stored.due_at == stored.enqueued_at


async def test_enqueue_ignores_the_fields_the_backend_owns(backend: Backend) -> None:
    job = make_job("reused")
    job.state = JobState.FAILED
    job.attempts = 3
    job.recoveries = 2
    job.lease_token = "stale-token"
    job.lease_expires_at = 1.0
    job.result = b"old result"
    job.error = JobError("Old", "old error")
    job.finished_at = 1.0
    job.expires_at = 1.0  # long past: a store that kept it would drop the new job at once
    job.cancel_requested = True
    job.progress = 0.9
    job.enqueued_at = job.due_at = 1.0

    [created] = await enqueue(backend, job)

    stored = await get(backend, "reused")
    for record in (created, stored):
        assert record.state is JobState.QUEUED
        assert (record.attempts, record.recoveries) == (0, 0)
        assert record.lease_token is None
        assert record.lease_expires_at is None
        assert record.result is None
        assert record.error is None
        assert record.finished_at is None
        assert record.expires_at is None
        assert record.cancel_requested is False
        assert record.progress is None
        assert record.enqueued_at > 1.0
    assert ids(await claim(backend)) == ["reused"]


async def test_delayed_job_is_scheduled_until_due_then_claimable(backend: Backend) -> None:
    [created] = await enqueue(backend, make_job("later", delay=0.3))
    assert created.state is JobState.SCHEDULED
    assert created.due_at >= created.enqueued_at + 0.3

    assert (await get(backend, "later")).state is JobState.SCHEDULED
    assert await claim(backend) == []

    await sleep_past(backend, created.due_at)
    assert (await get(backend, "later")).state is JobState.QUEUED
    claimed = await claim(backend)
    assert ids(claimed) == ["later"]
    assert claimed[0].state is JobState.ACTIVE


async def test_due_delayed_job_reads_as_queued_everywhere(backend: Backend) -> None:
    [created] = await enqueue(backend, make_job("due", delay=0.1))
    await sleep_past(backend, created.due_at)

    [again] = await backend.enqueue([make_job("due")])
    listed = await backend.list_jobs(JobFilter(state=JobState.QUEUED))
    assert again.record.state is JobState.QUEUED
    assert (await get(backend, "due")).state is JobState.QUEUED
    assert ids(listed) == ["due"]
    assert await backend.list_jobs(JobFilter(state=JobState.SCHEDULED)) == []


async def test_enqueue_of_a_live_id_returns_the_existing_record(backend: Backend) -> None:
    [first] = await enqueue(backend, make_job("once", payload=b"first", priority=1))

    [again] = await backend.enqueue([make_job("once", payload=b"second", priority=9)])

    assert again.created is False
    assert again.record == first
    assert again.record == await get(backend, "once")
    assert (await get(backend, "once")).payload == b"first"


async def test_enqueue_of_an_active_id_leaves_the_running_job_alone(backend: Backend) -> None:
    await enqueue(backend, make_job("busy"))
    claimed = await claim_one(backend)

    [again] = await backend.enqueue([make_job("busy", payload=b"other")])

    assert again.created is False
    assert again.record.state is JobState.ACTIVE
    assert again.record.lease_token == claimed.lease_token
    assert again.record == await get(backend, "busy")
    assert await claim(backend) == []


async def test_enqueue_of_a_finished_id_is_refused_while_its_record_lives(
    backend: Backend,
) -> None:
    done = await finish(backend, make_job("done"))

    [again] = await backend.enqueue([make_job("done")])

    assert again.created is False
    assert again.record.state is JobState.SUCCEEDED
    assert again.record == done
    assert await claim(backend) == []


async def test_bulk_enqueue_reports_new_existing_and_repeated_ids(backend: Backend) -> None:
    await enqueue(backend, make_job("old", payload=b"old"))

    results = await backend.enqueue(
        [
            make_job("old", payload=b"ignored"),
            make_job("new", payload=b"new-1"),
            make_job("new", payload=b"new-2"),
            make_job("other"),
        ]
    )

    assert [(r.record.id, r.created) for r in results] == [
        ("old", False),
        ("new", True),
        ("new", False),
        ("other", True),
    ]
    assert results[0].record.payload == b"old"
    assert results[2].record.payload == b"new-1"
    assert (await get(backend, "new")).payload == b"new-1"
    assert sorted(ids(await claim(backend))) == ["new", "old", "other"]


async def test_bulk_enqueue_stores_a_thousand_jobs_in_one_call(backend: Backend) -> None:
    jobs = [make_job(f"bulk-{i:04}") for i in range(1000)]

    results = await backend.enqueue(jobs)

    assert len(results) == 1000
    assert all(r.created for r in results)
    assert (await backend.counts())["default"][JobState.QUEUED] == 1000
    listed = await backend.list_jobs(JobFilter(limit=2000))
    assert sorted(ids(listed)) == [job.id for job in jobs]


async def test_enqueue_of_nothing_is_a_no_op(backend: Backend) -> None:
    assert await backend.enqueue([]) == []
    assert nonzero(await backend.counts()) == {}


async def test_payload_and_result_keep_every_byte(backend: Backend) -> None:
    # a sealed or encrypted payload is any bytes, not UTF-8 text
    payload = bytes(range(256)) + '{"é": "\u2028"}'.encode()
    result = b"\xff\xfe\x00done\x80"
    [job] = await enqueue(backend, make_job(payload=payload))
    assert (await get(backend, job.id)).payload == payload
    claimed = await claim_one(backend)
    assert claimed.payload == payload
    assert await ack(backend, lease_of(claimed), JobState.SUCCEEDED, result=result)
    assert (await get(backend, job.id)).result == result
