"""Acks: each outcome's next state, what it stores, and follow-ups enqueued with the ack."""

from __future__ import annotations

from conveyor.backends.base import Ack, Backend, Lease
from conveyor.job import JobError, JobState

from .support import (
    ack,
    claim,
    claim_one,
    enqueue,
    get,
    ids,
    lease_of,
    make_job,
    sleep_past,
)

BOOM = JobError("ValueError", "bad input", "Traceback ...", "exception")


async def test_succeeded_ack_stores_the_result_and_finish_time(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    claimed = await claim_one(backend)
    before = await backend.now()

    assert await ack(backend, lease_of(claimed), JobState.SUCCEEDED, result=b'{"ok": true}')

    record = await get(backend, "j")
    assert record.state is JobState.SUCCEEDED
    assert record.result == b'{"ok": true}'
    assert record.error is None
    assert record.finished_at is not None
    assert before <= record.finished_at <= await backend.now()
    assert record.lease_token is None
    assert record.expires_at is None
    assert await claim(backend) == []


async def test_scheduled_ack_retries_the_job_after_retry_in(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    claimed = await claim_one(backend)
    before = await backend.now()

    assert await ack(backend, lease_of(claimed), JobState.SCHEDULED, error=BOOM, retry_in=0.2)

    waiting = await get(backend, "j")
    assert waiting.state is JobState.SCHEDULED
    assert waiting.attempts == 1
    assert waiting.error == BOOM
    assert waiting.lease_token is None
    assert waiting.due_at >= before + 0.2
    assert await claim(backend) == []

    await sleep_past(backend, waiting.due_at)
    assert (await get(backend, "j")).state is JobState.QUEUED
    again = await claim_one(backend)
    assert again.attempts == 2
    assert again.error == BOOM


async def test_scheduled_ack_without_delay_is_due_at_once(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    claimed = await claim_one(backend)

    assert await ack(backend, lease_of(claimed), JobState.SCHEDULED, error=BOOM)

    assert (await get(backend, "j")).state is JobState.QUEUED
    assert ids(await claim(backend)) == ["j"]


async def test_queued_ack_hands_the_job_back_without_counting_the_attempt(
    backend: Backend,
) -> None:
    await enqueue(backend, make_job("j"))
    first = await claim_one(backend)
    assert await ack(backend, lease_of(first), JobState.SCHEDULED)
    second = await claim_one(backend)
    assert second.attempts == 2

    assert await ack(backend, lease_of(second), JobState.QUEUED)

    record = await get(backend, "j")
    assert record.state is JobState.QUEUED
    assert record.attempts == 1
    assert record.lease_token is None
    assert (await claim_one(backend)).attempts == 2


async def test_failed_ack_keeps_the_record_as_dead_letter(backend: Backend) -> None:
    await enqueue(backend, make_job("j", result_ttl=0.1))
    claimed = await claim_one(backend)

    assert await ack(backend, lease_of(claimed), JobState.FAILED, error=BOOM)

    record = await get(backend, "j")
    assert record.state is JobState.FAILED
    assert record.error == BOOM
    assert record.expires_at is None
    assert record.finished_at is not None
    await sleep_past(backend, record.finished_at + 0.1)
    assert await backend.purge_expired() == 0
    assert (await get(backend, "j")).state is JobState.FAILED
    assert await claim(backend) == []


async def test_cancelled_ack_ends_the_job(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    claimed = await claim_one(backend)

    assert await ack(backend, lease_of(claimed), JobState.CANCELLED)

    assert (await get(backend, "j")).state is JobState.CANCELLED
    assert await claim(backend) == []


async def test_ack_with_a_wrong_token_is_rejected_and_changes_nothing(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    claimed = await claim_one(backend)

    assert await ack(backend, Lease("j", "forged"), JobState.SUCCEEDED, result=b"x") is False
    assert await ack(backend, Lease("unknown", "x"), JobState.SUCCEEDED) is False

    assert await get(backend, "j") == claimed


async def test_an_acked_job_cannot_be_acked_again(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    lease = lease_of(await claim_one(backend))
    assert await ack(backend, lease, JobState.SUCCEEDED, result=b"first")

    assert await ack(backend, lease, JobState.FAILED, error=BOOM) is False
    record = await get(backend, "j")
    assert (record.state, record.result) == (JobState.SUCCEEDED, b"first")


async def test_one_ack_call_applies_each_outcome_on_its_own(backend: Backend) -> None:
    await enqueue(backend, make_job("a"), make_job("b"))
    a, b = await claim(backend)

    accepted = await backend.ack(
        [
            Ack(lease_of(a), JobState.SUCCEEDED, result=b"a"),
            Ack(Lease("b", "forged"), JobState.SUCCEEDED),
            Ack(lease_of(b), JobState.FAILED, error=BOOM),
        ]
    )

    assert accepted == [True, False, True]
    assert (await get(backend, "a")).state is JobState.SUCCEEDED
    assert (await get(backend, "b")).state is JobState.FAILED


async def test_accepted_ack_enqueues_its_follow_ups(backend: Backend) -> None:
    await enqueue(backend, make_job("parent"))
    claimed = await claim_one(backend)
    follow_ups = [make_job("child-1", queue="next"), make_job("child-2", queue="next")]

    assert await ack(backend, lease_of(claimed), JobState.SUCCEEDED, follow_ups=follow_ups)

    assert (await get(backend, "parent")).state is JobState.SUCCEEDED
    for child in ("child-1", "child-2"):
        assert (await get(backend, child)).state is JobState.QUEUED
    assert ids(await claim(backend, ["next"])) == ["child-1", "child-2"]


async def test_rejected_ack_enqueues_no_follow_ups(backend: Backend) -> None:
    await enqueue(backend, make_job("parent"))
    await claim_one(backend)

    accepted = await ack(
        backend, Lease("parent", "forged"), JobState.SUCCEEDED, follow_ups=[make_job("child")]
    )

    assert accepted is False
    assert await backend.get("child") is None
    assert await claim(backend, ["default"]) == []


async def test_follow_ups_keep_their_delay_and_existing_ids(backend: Backend) -> None:
    await enqueue(backend, make_job("existing", queue="next", payload=b"original"))
    await enqueue(backend, make_job("parent"))
    claimed = await claim_one(backend)

    follow_ups = [
        make_job("existing", queue="next", payload=b"replacement"),
        make_job("delayed", queue="next", delay=60),
    ]
    assert await ack(backend, lease_of(claimed), JobState.FAILED, follow_ups=follow_ups)

    assert (await get(backend, "existing")).payload == b"original"
    assert (await get(backend, "delayed")).state is JobState.SCHEDULED
    assert ids(await claim(backend, ["next"])) == ["existing"]


async def test_a_hand_back_keeps_the_error_of_the_attempt_before(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    first = await claim_one(backend)
    assert await ack(backend, lease_of(first), JobState.SCHEDULED, error=BOOM)
    second = await claim_one(backend)

    assert await ack(backend, lease_of(second), JobState.QUEUED)

    assert (await get(backend, "j")).error == BOOM


async def test_a_follow_up_may_take_the_id_of_a_job_kept_for_no_time(backend: Backend) -> None:
    await enqueue(backend, make_job("poller", result_ttl=0))
    claimed = await claim_one(backend)

    follow_up = make_job("poller", result_ttl=0)
    assert await ack(backend, lease_of(claimed), JobState.SUCCEEDED, follow_ups=[follow_up])

    await backend.purge_expired()
    await backend.counts()
    assert (await get(backend, "poller")).state is JobState.QUEUED
    assert ids(await claim(backend)) == ["poller"]
