"""Unique keys: while a job holds its key, an enqueue with that key returns the holder."""

from __future__ import annotations

import pytest

from conveyor.backends.base import Backend
from conveyor.errors import ConfigurationError
from conveyor.job import JobState, UniqueUntil

from .support import (
    SHORT_LEASE,
    ack,
    claim,
    claim_one,
    enqueue,
    expire_lease,
    finish,
    get,
    lease_of,
    make_job,
    sleep_past,
)

STARTED = UniqueUntil.STARTED
FINISHED = UniqueUntil.FINISHED


async def test_the_unique_fields_are_stored(backend: Backend) -> None:
    await enqueue(backend, make_job("a", unique_key="k", unique_until=FINISHED))
    await enqueue(backend, make_job("b", unique_key="t", unique_for=12.5))

    a, b = await get(backend, "a"), await get(backend, "b")
    assert (a.unique_key, a.unique_until, a.unique_for) == ("k", FINISHED, None)
    assert (b.unique_key, b.unique_until, b.unique_for) == ("t", None, 12.5)


async def test_a_held_key_returns_the_holder_and_stores_nothing(backend: Backend) -> None:
    await enqueue(backend, make_job("first", unique_key="k", unique_until=STARTED))

    [again] = await backend.enqueue([make_job("second", unique_key="k", unique_until=STARTED)])

    assert again.created is False
    assert again.record == await get(backend, "first")
    assert await backend.get("second") is None


async def test_until_started_releases_the_key_on_claim(backend: Backend) -> None:
    await enqueue(backend, make_job("first", unique_key="k", unique_until=STARTED))
    await claim_one(backend)

    [again] = await backend.enqueue([make_job("second", unique_key="k", unique_until=STARTED)])

    assert again.created is True
    assert (await get(backend, "second")).state is JobState.QUEUED


async def test_until_started_is_held_again_by_a_job_handed_back_unrun(backend: Backend) -> None:
    await enqueue(backend, make_job("first", unique_key="k", unique_until=STARTED))
    assert await ack(backend, lease_of(await claim_one(backend)), JobState.QUEUED)

    [again] = await backend.enqueue([make_job("second", unique_key="k", unique_until=STARTED)])

    assert (again.created, again.record.id) == (False, "first")


async def test_until_started_stays_released_when_the_job_waits_to_retry(
    backend: Backend,
) -> None:
    await enqueue(backend, make_job("first", unique_key="k", unique_until=STARTED))
    assert await ack(backend, lease_of(await claim_one(backend)), JobState.SCHEDULED, retry_in=30)

    [again] = await backend.enqueue([make_job("second", unique_key="k", unique_until=STARTED)])

    assert again.created is True


async def test_until_finished_holds_through_running_and_retries(backend: Backend) -> None:
    await enqueue(backend, make_job("first", unique_key="k", unique_until=FINISHED))
    claimed = await claim_one(backend)
    [while_active] = await backend.enqueue([make_job("x", unique_key="k", unique_until=FINISHED)])
    assert await ack(backend, lease_of(claimed), JobState.SCHEDULED, retry_in=30)
    [while_retrying] = await backend.enqueue([make_job("y", unique_key="k", unique_until=FINISHED)])

    assert (while_active.created, while_active.record.id) == (False, "first")
    assert while_active.record.state is JobState.ACTIVE
    assert (while_retrying.created, while_retrying.record.id) == (False, "first")


async def test_until_finished_releases_the_key_when_the_job_ends(backend: Backend) -> None:
    await finish(backend, make_job("first", unique_key="k", unique_until=FINISHED))

    [again] = await backend.enqueue([make_job("second", unique_key="k", unique_until=FINISHED)])

    assert again.created is True


async def test_cancelling_a_pending_holder_releases_the_key(backend: Backend) -> None:
    await enqueue(backend, make_job("first", unique_key="k", unique_until=FINISHED))
    await backend.cancel("first")

    [again] = await backend.enqueue([make_job("second", unique_key="k", unique_until=FINISHED)])

    assert again.created is True


async def test_a_lease_lost_under_until_started_keeps_the_key_released(
    backend: Backend,
) -> None:
    await enqueue(backend, make_job("first", unique_key="k", unique_until=STARTED))
    await expire_lease(backend, await claim_one(backend, lease_seconds=SHORT_LEASE))
    assert (await backend.recover_expired()).requeued == 1

    [again] = await backend.enqueue([make_job("second", unique_key="k", unique_until=STARTED)])

    assert again.created is True  # the job ran once: requeued, it is not the same as unrun


async def test_unique_for_holds_the_key_for_a_time_even_after_the_job_ends(
    backend: Backend,
) -> None:
    done = await finish(backend, make_job("first", unique_key="k", unique_for=0.3))
    [held] = await backend.enqueue([make_job("second", unique_key="k", unique_for=0.3)])

    await sleep_past(backend, done.enqueued_at + 0.3)
    [released] = await backend.enqueue([make_job("third", unique_key="k", unique_for=0.3)])

    assert (held.created, held.record.id) == (False, "first")
    assert released.created is True


async def test_one_bulk_enqueue_keeps_the_first_job_of_a_key(backend: Backend) -> None:
    results = await backend.enqueue(
        [
            make_job("a", unique_key="k", unique_until=FINISHED),
            make_job("b", unique_key="k", unique_until=FINISHED),
            make_job("c", unique_key="other", unique_until=FINISHED),
        ]
    )

    assert [(r.record.id, r.created) for r in results] == [("a", True), ("a", False), ("c", True)]
    assert sorted(job.id for job in await claim(backend)) == ["a", "c"]


async def test_the_key_belongs_to_the_last_job_stored_with_it(backend: Backend) -> None:
    await enqueue(backend, make_job("first", unique_key="k", unique_until=STARTED))
    first = await claim_one(backend)
    await enqueue(backend, make_job("second", unique_key="k", unique_until=FINISHED))
    assert await ack(backend, lease_of(first), JobState.SUCCEEDED)

    [again] = await backend.enqueue([make_job("third", unique_key="k", unique_until=STARTED)])

    assert (again.created, again.record.id) == (False, "second")


async def test_a_follow_up_respects_a_held_key(backend: Backend) -> None:
    await enqueue(backend, make_job("holder", queue="other", unique_key="k", unique_until=STARTED))
    await enqueue(backend, make_job("parent"))
    follow_up = make_job("child", unique_key="k", unique_until=STARTED)

    assert await ack(
        backend, lease_of(await claim_one(backend)), JobState.SUCCEEDED, follow_ups=[follow_up]
    )

    assert await backend.get("child") is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"unique_key": "k"}, "unique_until or unique_for"),
        ({"unique_key": "k", "unique_until": STARTED, "unique_for": 1.0}, "give one"),
        ({"unique_until": STARTED}, "need a unique_key"),
        ({"unique_key": "", "unique_for": 1.0}, "unique key"),
        ({"unique_key": "k", "unique_for": -1.0}, "unique_for"),
    ],
)
async def test_enqueue_refuses_an_incomplete_unique_rule(
    backend: Backend, fields: dict[str, object], message: str
) -> None:
    job = make_job("j")
    for name, value in fields.items():
        setattr(job, name, value)

    with pytest.raises(ConfigurationError, match=message):
        await backend.enqueue([job])
    assert await backend.get("j") is None
