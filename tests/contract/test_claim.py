"""Claim: which due jobs come out, in what order, from which queues, and how many."""

from __future__ import annotations

from conveyor.backends.base import Backend
from conveyor.job import JobState

from .support import claim, enqueue, ids, make_job, sleep_past


async def test_claim_returns_highest_priority_first(backend: Backend) -> None:
    await enqueue(backend, make_job("low", priority=-5))
    await enqueue(backend, make_job("mid", priority=0))
    await enqueue(backend, make_job("high", priority=10))

    assert ids(await claim(backend)) == ["high", "mid", "low"]


async def test_claim_is_fifo_within_a_priority(backend: Backend) -> None:
    for name in ("first", "second", "third"):
        await enqueue(backend, make_job(name))

    assert ids(await claim(backend)) == ["first", "second", "third"]


async def test_claim_orders_by_priority_then_age(backend: Backend) -> None:
    await enqueue(backend, make_job("old-low", priority=1))
    await enqueue(backend, make_job("old-high", priority=2))
    await enqueue(backend, make_job("new-low", priority=1))
    await enqueue(backend, make_job("new-high", priority=2))

    claimed = [ids(await claim(backend, limit=1)) for _ in range(4)]

    assert claimed == [["old-high"], ["new-high"], ["old-low"], ["new-low"]]


async def test_jobs_of_one_bulk_enqueue_are_claimed_in_the_order_given(
    backend: Backend,
) -> None:
    names = [f"bulk-{i}" for i in (3, 1, 4, 0, 2)]
    await enqueue(backend, *(make_job(name) for name in names))

    assert ids(await claim(backend)) == names


async def test_claim_of_one_queue_never_returns_another_queues_jobs(backend: Backend) -> None:
    await enqueue(backend, make_job("b-1", queue="b", priority=100))
    await enqueue(backend, make_job("a-1", queue="a"))
    await enqueue(backend, make_job("b-2", queue="b"))

    assert ids(await claim(backend, ["a"])) == ["a-1"]
    assert await claim(backend, ["a"]) == []
    assert await claim(backend, ["missing"]) == []
    assert ids(await claim(backend, ["b"])) == ["b-1", "b-2"]


async def test_a_claim_of_several_queues_returns_its_jobs_by_priority_then_age(
    backend: Backend,
) -> None:
    await enqueue(backend, make_job("a-old", queue="a"))
    await enqueue(backend, make_job("b-old", queue="b"))
    await enqueue(backend, make_job("a-new", queue="a"))
    await enqueue(backend, make_job("b-urgent", queue="b", priority=5))
    await enqueue(backend, make_job("c-other", queue="c", priority=9))

    claimed = await claim(backend, ["a", "b", "a"], limit=10)

    assert ids(claimed) == ["b-urgent", "a-old", "b-old", "a-new"]


async def test_claim_respects_its_limit(backend: Backend) -> None:
    await enqueue(backend, *(make_job(f"j-{i}") for i in range(5)))

    assert len(await claim(backend, limit=2)) == 2
    assert len(await claim(backend, limit=2)) == 2
    assert len(await claim(backend, limit=2)) == 1
    assert await claim(backend, limit=2) == []


async def test_claim_with_no_queues_or_no_room_claims_nothing(backend: Backend) -> None:
    await enqueue(backend, make_job("waiting"))

    assert await claim(backend, [], limit=10) == []
    assert await claim(backend, limit=0) == []
    assert (await backend.counts())["default"] == {JobState.QUEUED: 1}


async def test_a_job_that_is_not_due_does_not_block_due_jobs(backend: Backend) -> None:
    await enqueue(backend, make_job("urgent-later", priority=100, delay=60))
    await enqueue(backend, make_job("now"))

    assert ids(await claim(backend, limit=10)) == ["now"]


async def test_a_job_that_came_due_is_claimed_before_one_enqueued_after(
    backend: Backend,
) -> None:
    [early] = await enqueue(backend, make_job("due-first", delay=0.2))
    await sleep_past(backend, early.due_at)
    await enqueue(backend, make_job("enqueued-after"))

    assert ids(await claim(backend)) == ["due-first", "enqueued-after"]
