"""`delete(ids)`: the finished jobs among the ids are gone from every read, their counts and
their unique keys; live jobs and unknown ids are left alone."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.backends.base import Ack, Backend, JobFilter
from conveyor.job import JobState

from .support import (
    claim,
    claim_one,
    enqueue,
    finish,
    get,
    lease_of,
    make_job,
    nonzero,
    sleep_past,
)

Q, S, A = JobState.QUEUED, JobState.SCHEDULED, JobState.ACTIVE
OK, FAILED, CANCELLED = JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED
EVERYTHING = 10_000


async def listed(backend: Backend, **filters: Any) -> set[str]:
    page = await backend.page_jobs(JobFilter(limit=EVERYTHING, **filters))
    return {record.id for record in page.jobs}


async def one_of_each(backend: Backend) -> None:
    """Jobs of every state in queue "a": ok, failed, cancelled, queued, scheduled, active."""
    await finish(backend, make_job("ok", queue="a"), OK)
    await finish(backend, make_job("failed", queue="a"), FAILED)
    await enqueue(backend, make_job("cancelled", queue="a"))
    await backend.cancel("cancelled")
    await enqueue(backend, make_job("active", queue="a"))
    assert (await claim_one(backend, "a")).id == "active"
    await enqueue(backend, make_job("queued", queue="a"), make_job("later", queue="a", delay=60))


async def test_the_finished_jobs_are_deleted_and_the_live_ones_left(backend: Backend) -> None:
    await one_of_each(backend)
    every = ["ok", "failed", "cancelled", "queued", "later", "active"]

    assert await backend.delete(every) == 3

    for job_id in ("ok", "failed", "cancelled"):
        assert await backend.get(job_id) is None
    left = {job_id: (await get(backend, job_id)).state for job_id in ("queued", "later", "active")}
    assert left == {"queued": Q, "later": S, "active": A}
    assert await listed(backend) == {"queued", "later", "active"}
    for state in (OK, FAILED, CANCELLED):
        assert await listed(backend, state=state) == set()
        assert await listed(backend, state=state, queue="a") == set()
    assert nonzero(await backend.counts()) == {"a": {Q: 1, S: 1, A: 1}}
    backlog = (await backend.backlog())["a"]
    assert (backlog.scheduled, backlog.queued, backlog.active, backlog.failed) == (1, 1, 1, 0)


async def test_unknown_ids_and_repeats_are_ignored(backend: Backend) -> None:
    await finish(backend, make_job("ok"))
    assert await backend.delete(["nope", "ok", "ok", "also-nope"]) == 1
    assert await backend.delete(["ok"]) == 0
    assert await backend.delete([]) == 0
    assert nonzero(await backend.counts()) == {}


async def test_a_record_past_its_result_ttl_is_not_counted(backend: Backend) -> None:
    done = await finish(backend, make_job("brief", result_ttl=0.1))
    assert done.expires_at is not None
    await sleep_past(backend, done.expires_at)

    assert await backend.delete(["brief"]) == 0
    assert await backend.get("brief") is None
    assert nonzero(await backend.counts()) == {}


async def test_jobs_of_several_queues_go_in_one_call(backend: Backend) -> None:
    await finish(backend, make_job("x", queue="a"), OK)
    await finish(backend, make_job("y", queue="b"), FAILED)
    await finish(backend, make_job("z", queue="c"), OK)

    assert await backend.delete(("x", "y")) == 2

    assert await listed(backend) == {"z"}
    assert nonzero(await backend.counts()) == {"c": {OK: 1}}


async def test_a_deleted_id_can_be_enqueued_again(backend: Backend) -> None:
    await finish(backend, make_job("again"), FAILED)
    assert await backend.delete(["again"]) == 1

    (fresh,) = await enqueue(backend, make_job("again", payload=b'{"args": [2]}'))

    assert fresh.state is Q
    assert (await get(backend, "again")).payload == b'{"args": [2]}'
    assert nonzero(await backend.counts()) == {"default": {Q: 1}}


async def test_a_deleted_job_lets_go_of_its_unique_key(backend: Backend) -> None:
    await finish(backend, make_job("holder", unique_key="k", unique_for=600.0))
    (held,) = await backend.enqueue([make_job("blocked", unique_key="k", unique_for=600.0)])
    assert (held.created, held.record.id) == (False, "holder")

    assert await backend.delete(["holder"]) == 1

    (stored,) = await backend.enqueue([make_job("next", unique_key="k", unique_for=600.0)])
    assert (stored.created, stored.record.id) == (True, "next")


async def test_a_long_list_is_deleted_in_chunks(backend: Backend) -> None:
    await enqueue(backend, *(make_job(f"j-{i:04}") for i in range(1_200)))
    claimed = await claim(backend, limit=1_200)
    assert len(claimed) == 1_200
    assert await backend.ack([Ack(lease_of(record), OK) for record in claimed]) == [True] * 1_200
    await enqueue(backend, make_job("live"))
    assert nonzero(await backend.counts()) == {"default": {OK: 1_200, Q: 1}}

    doomed = [f"j-{i:04}" for i in range(1_200)] + ["live"] + [f"unknown-{i}" for i in range(300)]
    assert await backend.delete(doomed) == 1_200

    assert nonzero(await backend.counts()) == {"default": {Q: 1}}
    assert await listed(backend) == {"live"}


@pytest.mark.parametrize("bad", ["job-1", b"job-1", [1, 2], ["ok", None], {"ok"}, None])
async def test_anything_but_a_sequence_of_ids_is_refused(backend: Backend, bad: Any) -> None:
    await finish(backend, make_job("ok"))
    with pytest.raises(TypeError, match="job id"):
        await backend.delete(bad)
    assert (await get(backend, "ok")).state is OK
