"""Rate limits: a token bucket per `rate_key`, shared by every worker.

The bucket holds up to `rate_limit` tokens and refills at `rate_limit` per `rate_period`
seconds. A claim spends one token per job; a job that finds none waits, queued, and uses
no attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conveyor.backends.base import Backend
from conveyor.errors import ConfigurationError
from conveyor.job import JobRecord, JobState

from .conftest import WITH_LIMITS, open_backend
from .support import LONG_LEASE, SLACK, ack, claim, enqueue, get, ids, lease_of, make_job

HOUR = 3600.0


@pytest.fixture(params=WITH_LIMITS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """The suite's `backend`, on the backends that enforce limits only."""
    async with open_backend(request.param, tmp_path) as instance:
        yield instance


async def enqueue_rated(
    backend: Backend, n: int, key: str = "r", rate: int = 2, period: float = HOUR
) -> None:
    await enqueue(
        backend,
        *(
            make_job(f"{key}{i}", rate_key=key, rate_limit=rate, rate_period=period)
            for i in range(1, n + 1)
        ),
    )


def limited_and_rated(job_id: str, rate: int) -> JobRecord:
    """A job of concurrency limit 1 (key "k") and `rate` per hour (bucket "r")."""
    return make_job(job_id, limit_key="k", limit=1, rate_key="r", rate_limit=rate,
                    rate_period=HOUR)  # fmt: skip


async def test_the_rate_fields_are_stored(backend: Backend) -> None:
    await enqueue_rated(backend, 1, rate=100, period=60.0)

    r1 = await get(backend, "r1")
    assert (r1.rate_key, r1.rate_limit, r1.rate_period) == ("r", 100, 60.0)


async def test_a_full_bucket_lets_rate_limit_jobs_through_then_none(backend: Backend) -> None:
    await enqueue_rated(backend, 5, rate=3)

    assert ids(await claim(backend, limit=10)) == ["r1", "r2", "r3"]
    assert await claim(backend, limit=10) == []


async def test_a_held_back_job_waits_queued_and_uses_no_attempt(backend: Backend) -> None:
    await enqueue_rated(backend, 3)
    await claim(backend, limit=10)

    r3 = await get(backend, "r3")
    assert (r3.state, r3.attempts, r3.lease_token) == (JobState.QUEUED, 0, None)


async def test_the_bucket_is_shared_by_workers_and_queues(backend: Backend, peer: Backend) -> None:
    await enqueue(
        backend,
        *(
            make_job(f"{q}{i}", queue=q, rate_key="r", rate_limit=3, rate_period=HOUR)
            for q in ("a", "b")
            for i in range(2)
        ),
    )

    assert ids(await claim(backend, ("a",), limit=10)) == ["a0", "a1"]
    assert ids(await claim(peer, ("b",), limit=10, worker="worker-2")) == ["b0"]
    assert await claim(backend, ("a", "b"), limit=10) == []


async def test_finishing_a_job_gives_no_token_back(backend: Backend) -> None:
    await enqueue_rated(backend, 2, rate=1)
    [first] = await claim(backend, limit=10)

    assert await ack(backend, lease_of(first), JobState.SUCCEEDED)

    assert await claim(backend, limit=10) == []


async def test_tokens_come_back_at_the_rate(backend: Backend) -> None:
    period = 1.0
    await enqueue_rated(backend, 3, rate=1, period=period)
    assert ids(await claim(backend, limit=10)) == ["r1"]
    assert await claim(backend, limit=10) == []

    await asyncio.sleep(period + SLACK)

    # one token back, not more: the bucket holds `rate_limit` at most
    assert ids(await claim(backend, limit=10)) == ["r2"]


async def test_an_empty_bucket_does_not_hold_back_other_jobs(backend: Backend) -> None:
    await enqueue_rated(backend, 3, rate=1)
    await enqueue(backend, make_job("free"), make_job("other", rate_key="s", rate_limit=1,
                                                      rate_period=HOUR))  # fmt: skip

    assert ids(await claim(backend, limit=10)) == ["r1", "free", "other"]


async def test_a_job_held_back_by_its_concurrency_limit_spends_no_token(
    backend: Backend,
) -> None:
    await enqueue(backend, *(limited_and_rated(f"j{i}", 2) for i in range(3)))
    [j0] = await claim(backend, limit=10)
    assert await claim(backend, limit=10) == []  # held back by the concurrency limit
    assert await ack(backend, lease_of(j0), JobState.SUCCEEDED)

    [j1] = await claim(backend, limit=10)
    assert j1.id == "j1", "the held-back claim spent no token"
    assert await ack(backend, lease_of(j1), JobState.SUCCEEDED)
    assert await claim(backend, limit=10) == []  # two tokens, two runs


async def test_a_job_held_back_by_its_bucket_takes_no_concurrency_slot(
    backend: Backend,
) -> None:
    await enqueue(backend, limited_and_rated("rated", 1), limited_and_rated("no_token", 1))
    [rated] = await claim(backend, limit=1)
    assert await ack(backend, lease_of(rated), JobState.SUCCEEDED)
    assert await claim(backend, limit=10) == []
    await enqueue(backend, make_job("unrated", limit_key="k", limit=1))

    assert ids(await claim(backend, limit=10, lease_seconds=LONG_LEASE)) == ["unrated"]


@pytest.mark.parametrize(
    ("key", "rate", "period"),
    [(None, 2, 60.0), ("r", None, 60.0), ("r", 2, None), ("r", 0, 60.0), ("r", 2, 0.0),
     ("r", 2, float("inf")), ("", 2, 60.0), ("r" * 201, 2, 60.0), ("r", True, 60.0),
     ("r", 2**31, 60.0), ("r", 2, 367 * 86400.0)],
)  # fmt: skip
async def test_bad_rate_limits_are_refused(
    backend: Backend, key: str | None, rate: int | None, period: float | None
) -> None:
    with pytest.raises(ConfigurationError):
        await backend.enqueue([make_job("x", rate_key=key, rate_limit=rate, rate_period=period)])
    assert await backend.get("x") is None


async def test_rate_held_jobs_are_not_work_to_wait_for(backend: Backend) -> None:
    await enqueue_rated(backend, 2, rate=1)
    await claim(backend, limit=10)

    started = await backend.now()
    await backend.wait_for_work(["default"], 0.3)

    assert await backend.now() - started >= 0.25


async def test_a_bucket_of_a_years_period_works(backend: Backend) -> None:
    await enqueue_rated(backend, 2, rate=1, period=366 * 86400.0)

    assert ids(await claim(backend, limit=10)) == ["r1"]
    assert await claim(backend, limit=10) == []
