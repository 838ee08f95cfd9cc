"""Bad input is refused at the call site and leaves nothing half-written in the store."""

from __future__ import annotations

import pytest

from conveyor.backends.base import Backend
from conveyor.errors import ConfigurationError
from conveyor.job import JobState

from .conftest import WITH_LIMITS
from .support import ack, claim, claim_one, enqueue, get, lease_of, make_job, nonzero


async def test_a_bulk_enqueue_with_one_bad_record_stores_none(backend: Backend) -> None:
    bad = make_job("")

    with pytest.raises(ConfigurationError, match="job id"):
        await backend.enqueue([make_job("good-1"), bad, make_job("good-2")])

    assert nonzero(await backend.counts()) == {}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("id", "x" * 201, "job id"),
        ("queue", "", "queue name"),
        ("max_attempts", 0, "max_attempts"),
        ("delay", -1.0, "delay"),
    ],
)
async def test_enqueue_refuses_an_invalid_record(
    backend: Backend, field: str, value: object, message: str
) -> None:
    job = make_job("j")
    setattr(job, field, value)

    with pytest.raises(ConfigurationError, match=message):
        await backend.enqueue([job])

    assert nonzero(await backend.counts()) == {}


async def test_claim_refuses_a_lease_that_is_not_positive(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))

    with pytest.raises(ValueError, match="lease_seconds"):
        await claim(backend, lease_seconds=0)

    assert (await get(backend, "j")).state is JobState.QUEUED


async def test_an_ack_with_a_bad_follow_up_is_refused_whole(backend: Backend) -> None:
    await enqueue(backend, make_job("parent"))
    lease = lease_of(await claim_one(backend))

    with pytest.raises(ConfigurationError, match="job id"):
        await ack(backend, lease, JobState.SUCCEEDED, follow_ups=[make_job("ok"), make_job("")])

    assert (await get(backend, "parent")).state is JobState.ACTIVE
    assert await backend.get("ok") is None
    assert await backend.get("") is None
    assert await ack(backend, lease, JobState.SUCCEEDED)


async def test_an_ack_back_to_active_is_refused(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    claimed = await claim_one(backend)

    with pytest.raises(ValueError, match="active"):
        await ack(backend, lease_of(claimed), JobState.ACTIVE)

    assert await get(backend, "j") == claimed


@pytest.mark.parametrize("kind", ["concurrency", "rate"])
async def test_a_backend_enforces_limits_or_refuses_a_limited_job(
    backend: Backend, request: pytest.FixtureRequest, kind: str
) -> None:
    limited = (
        make_job("limited", limit_key="tasks.work", limit=2)
        if kind == "concurrency"
        else make_job("limited", rate_key="tasks.work", rate_limit=2, rate_period=1.0)
    )
    assert backend.capabilities.limits is (request.node.callspec.params["backend"] in WITH_LIMITS)
    if backend.capabilities.limits:
        await enqueue(backend, limited)
        stored = await get(backend, "limited")
        assert (stored.limit, stored.rate_limit) == (limited.limit, limited.rate_limit)
        return
    with pytest.raises(ConfigurationError, match="cannot enforce concurrency or rate limits"):
        await backend.enqueue([limited])
    assert await backend.get("limited") is None
