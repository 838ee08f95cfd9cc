"""Limits: at most `limit` jobs of one `limit_key` are active at once, across every worker.

A claim passes over a job whose key is full: the job waits, queued, and uses no attempt.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conveyor.backends.base import LIMIT_SCAN, Backend
from conveyor.errors import ConfigurationError
from conveyor.job import JobError, JobState

from .conftest import WITH_LIMITS, open_backend
from .support import (
    SHORT_LEASE,
    ack,
    claim,
    enqueue,
    expire_lease,
    get,
    ids,
    lease_of,
    make_job,
)


@pytest.fixture(params=WITH_LIMITS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """The suite's `backend`, on the backends that enforce limits only."""
    async with open_backend(request.param, tmp_path) as instance:
        yield instance


async def enqueue_limited(backend: Backend, n: int, key: str = "k", limit: int = 2) -> None:
    await enqueue(
        backend, *(make_job(f"{key}{i}", limit_key=key, limit=limit) for i in range(1, n + 1))
    )


async def test_the_limit_fields_are_stored(backend: Backend) -> None:
    await enqueue(backend, make_job("a", limit_key="tasks.work:7", limit=3))

    a = await get(backend, "a")
    assert (a.limit_key, a.limit) == ("tasks.work:7", 3)
    assert (await get(backend, ids(await claim(backend))[0])).limit == 3


async def test_a_claim_takes_no_more_than_the_limit(backend: Backend) -> None:
    await enqueue_limited(backend, 5)

    assert ids(await claim(backend, limit=10)) == ["k1", "k2"]
    assert await claim(backend, limit=10) == []


async def test_the_limit_holds_across_workers(backend: Backend, peer: Backend) -> None:
    await enqueue_limited(backend, 5)

    assert ids(await claim(backend, limit=1)) == ["k1"]
    assert ids(await claim(peer, limit=10, worker="worker-2")) == ["k2"]
    assert await claim(backend, limit=10) == []


async def test_the_limit_holds_across_queues(backend: Backend) -> None:
    await enqueue(
        backend,
        make_job("a1", queue="a", limit_key="k", limit=1),
        make_job("b1", queue="b", limit_key="k", limit=1),
    )

    assert ids(await claim(backend, ("a",))) == ["a1"]
    assert await claim(backend, ("b",)) == []


async def test_a_held_back_job_waits_queued_and_uses_no_attempt(backend: Backend) -> None:
    await enqueue_limited(backend, 3)
    await claim(backend, limit=10)

    k3 = await get(backend, "k3")
    assert (k3.state, k3.attempts, k3.lease_token, k3.started_at) == (
        JobState.QUEUED, 0, None, None,
    )  # fmt: skip


@pytest.mark.parametrize(
    "state", [JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.SCHEDULED,
              JobState.QUEUED],
)  # fmt: skip
async def test_an_ack_frees_a_slot(backend: Backend, state: JobState) -> None:
    await enqueue_limited(backend, 3)
    first, _ = await claim(backend, limit=10)

    error = None if state is JobState.SUCCEEDED else JobError("Boom", "it broke")
    retry_in = 60.0 if state is JobState.SCHEDULED else 0.0
    assert await ack(backend, lease_of(first), state, error=error, retry_in=retry_in)

    [third] = await claim(backend, limit=10)
    assert third.id == "k3"
    assert await claim(backend, limit=10) == []


async def test_recovery_of_a_dead_workers_job_frees_its_slot(backend: Backend) -> None:
    await enqueue_limited(backend, 3)
    [first] = await claim(backend, limit=1, lease_seconds=SHORT_LEASE)
    await claim(backend, limit=1)
    assert await claim(backend, limit=10) == []

    await expire_lease(backend, first)
    assert (await backend.recover_expired()).requeued == 1

    # the requeued job is oldest: it takes the freed slot again
    assert ids(await claim(backend, limit=10)) == ["k1"]
    assert await claim(backend, limit=10) == []


async def test_a_recovery_that_ends_the_job_frees_its_slot(backend: Backend) -> None:
    await enqueue(backend, make_job("k1", limit_key="k", limit=1))
    await enqueue(backend, make_job("k2", limit_key="k", limit=1))
    [first] = await claim(backend, limit=10, lease_seconds=SHORT_LEASE)
    await expire_lease(backend, first)

    assert (await backend.recover_expired(max_recoveries=0)).dead == 1

    assert ids(await claim(backend, limit=10)) == ["k2"]


async def test_a_full_key_does_not_hold_back_other_jobs(backend: Backend) -> None:
    await enqueue_limited(backend, 5, limit=1)
    await enqueue(
        backend,
        make_job("other", limit_key="j", limit=1),
        make_job("free"),
    )

    assert ids(await claim(backend, limit=10)) == ["k1", "other", "free"]
    await enqueue(backend, make_job("later"))
    assert ids(await claim(backend, limit=10)) == ["later"]


async def test_a_claim_looks_past_a_bounded_number_of_held_back_jobs(backend: Backend) -> None:
    await enqueue_limited(backend, LIMIT_SCAN + 20, limit=1)
    await enqueue(backend, make_job("free"))

    assert ids(await claim(backend, limit=1)) == ["k1"]
    # more held-back jobs than a claim looks past: it may stop before "free", never take a k
    assert ids(await claim(backend, limit=10)) in ([], ["free"])
    assert (await get(backend, "k2")).attempts == 0


async def test_a_claim_takes_the_slots_it_fills_into_account(backend: Backend) -> None:
    await enqueue(
        backend,
        *(make_job(f"a{i}", limit_key="a", limit=2) for i in range(3)),
        *(make_job(f"b{i}", limit_key="b", limit=1) for i in range(3)),
    )

    assert sorted(ids(await claim(backend, limit=10))) == ["a0", "a1", "b0"]


@pytest.mark.parametrize(
    ("key", "limit"), [(None, 2), ("k", None), ("k", 0), ("k", -1), ("", 1), ("k" * 201, 1)]
)
async def test_bad_limits_are_refused(backend: Backend, key: str | None, limit: int | None) -> None:
    with pytest.raises(ConfigurationError):
        await backend.enqueue([make_job("x", limit_key=key, limit=limit)])


async def test_held_back_jobs_are_not_work_to_wait_for(backend: Backend) -> None:
    await enqueue_limited(backend, 2, limit=1)
    await claim(backend, limit=10)

    started = await backend.now()
    await backend.wait_for_work(["default"], 0.3)

    assert await backend.now() - started >= 0.25


async def test_a_claim_of_several_queues_keeps_their_order_past_held_back_jobs(
    backend: Backend,
) -> None:
    # queue a: a0 holds key k's one slot; a1, a2 wait for it; a3, older than every job of
    # queue b, has no limit and comes first
    await enqueue(backend, make_job("a0", queue="a", limit_key="k", limit=1))
    assert ids(await claim(backend, ("a",), limit=1)) == ["a0"]
    await enqueue(
        backend,
        make_job("a1", queue="a", limit_key="k", limit=1),
        make_job("a2", queue="a", limit_key="k", limit=1),
        make_job("a3", queue="a"),
        make_job("b1", queue="b"),
        make_job("b2", queue="b"),
    )

    assert ids(await claim(backend, ("a", "b"), limit=2)) == ["a3", "b1"]


async def test_a_higher_priority_job_behind_held_back_jobs_beats_another_queues_jobs(
    backend: Backend,
) -> None:
    await enqueue(backend, make_job("a0", queue="a", priority=5, limit_key="k", limit=1))
    assert ids(await claim(backend, ("a",), limit=1)) == ["a0"]
    await enqueue(
        backend,
        make_job("b1", queue="b"),
        make_job("b2", queue="b"),
        make_job("a1", queue="a", priority=5, limit_key="k", limit=1),
        make_job("a2", queue="a", priority=5, limit_key="k", limit=1),
        make_job("urgent", queue="a", priority=5),
    )

    assert ids(await claim(backend, ("a", "b"), limit=2)) == ["urgent", "b1"]


@pytest.mark.parametrize("held", [LIMIT_SCAN, LIMIT_SCAN + 5])
async def test_the_wait_reports_no_work_that_the_claim_would_not_take(
    backend: Backend, held: int
) -> None:
    """Otherwise a worker spins: it claims nothing, its wait returns at once, and again."""
    await enqueue(backend, *(make_job(f"k{i}", limit_key="k", limit=1) for i in range(held + 1)))
    assert ids(await claim(backend, limit=1)) == ["k0"]  # the other `held` wait for its slot
    await enqueue(backend, make_job("free"))

    claimed = await claim(backend, limit=10)

    if claimed:
        assert ids(claimed) == ["free"]
        return
    # this backend's claim does not look that deep: then neither may its wait
    started = await backend.now()
    await backend.wait_for_work(["default"], 0.3)
    assert await backend.now() - started >= 0.25, "work was reported that no claim takes"


async def test_a_limit_beyond_what_stores_hold_is_refused(backend: Backend) -> None:
    with pytest.raises(ConfigurationError, match="from 1 to 2147483647"):
        await backend.enqueue([make_job("big", limit_key="k", limit=2**31)])
    assert await backend.get("big") is None
