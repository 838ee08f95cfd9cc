"""A claim of several queues shares its jobs between them by weight, however many queues."""

from __future__ import annotations

import collections

import pytest

from conveyor.backends.base import Backend
from conveyor.errors import ConfigurationError
from conveyor.job import JobRecord

from .support import LONG_LEASE, claim, enqueue, ids, make_job


def fill(queue: str, count: int, priority: int = 0) -> list[JobRecord]:
    return [make_job(f"{queue}-{i}", queue=queue, priority=priority) for i in range(count)]


def per_queue(claimed: list[JobRecord]) -> dict[str, int]:
    return dict(collections.Counter(job.queue for job in claimed))


async def test_a_busy_queue_does_not_starve_the_others(backend: Backend) -> None:
    await enqueue(backend, *fill("busy", 1000))
    await enqueue(backend, *fill("small", 10), *fill("other", 10))

    claimed = await claim(backend, ("busy", "small", "other"), limit=30)

    assert per_queue(claimed) == {"busy": 10, "small": 10, "other": 10}


async def test_what_a_short_queue_leaves_goes_to_the_others(backend: Backend) -> None:
    await enqueue(backend, *fill("busy", 100), *fill("small", 2), *fill("other", 3))

    claimed = await claim(backend, ("small", "busy", "other"), limit=30)

    assert per_queue(claimed) == {"busy": 25, "small": 2, "other": 3}


async def test_weights_are_the_share_of_each_queue(backend: Backend) -> None:
    await enqueue(backend, *fill("high", 100), *fill("low", 100))

    claimed = await backend.claim(
        ["high", "low"], 40, "worker-1", LONG_LEASE, weights={"high": 3, "low": 1}
    )

    assert per_queue(claimed) == {"high": 30, "low": 10}


async def test_what_rounding_leaves_goes_to_the_first_queues_asked(backend: Backend) -> None:
    await enqueue(backend, *fill("a", 5), *fill("b", 5), *fill("c", 5))

    assert per_queue(await claim(backend, ("b", "a", "c"), limit=1)) == {"b": 1}
    assert per_queue(await claim(backend, ("c", "a", "b"), limit=4)) == {"c": 2, "a": 1, "b": 1}


async def test_priority_orders_a_queue_not_the_queues(backend: Backend) -> None:
    await enqueue(backend, *fill("urgent", 5, priority=9), *fill("plain", 5))

    claimed = await claim(backend, ("urgent", "plain"), limit=4)

    # each queue gives its best; the jobs come back best first
    assert ids(claimed) == ["urgent-0", "urgent-1", "plain-0", "plain-1"]


async def test_a_claim_of_a_thousand_queues_takes_the_first_with_work(backend: Backend) -> None:
    queues = [f"q{i:04}" for i in range(1000)]
    await enqueue(backend, *(make_job(f"{q}-job", queue=q) for q in queues[::2]))

    first = await claim(backend, queues, limit=100)

    assert sorted(job.queue for job in first) == queues[:200:2]
    taken = len(first)
    while claimed := await claim(backend, queues, limit=100):
        taken += len(claimed)
    assert taken == 500


async def test_a_paused_queue_leaves_its_share_to_the_others(backend: Backend) -> None:
    await enqueue(backend, *fill("held", 10), *fill("open", 10))
    await backend.pause_queue("held")

    assert per_queue(await claim(backend, ("held", "open"), limit=10)) == {"open": 10}


@pytest.mark.parametrize(
    "weights", [{"a": 0}, {"a": -1}, {"a": 1.5}, {"a": True}, {"a": 1001}, {"elsewhere": 2}]
)
async def test_bad_weights_are_refused(backend: Backend, weights: dict[str, int]) -> None:
    with pytest.raises(ConfigurationError):
        await backend.claim(["a"], 1, "worker-1", LONG_LEASE, weights=weights)
