"""Readers and housekeeping: counts, list_jobs filters and paging, purge."""

from __future__ import annotations

import pytest

from conveyor.backends.base import Backend, JobFilter
from conveyor.job import JobState

from .support import (
    ack,
    claim_one,
    enqueue,
    finish,
    ids,
    lease_of,
    make_job,
    nonzero,
    sleep_past,
)

Q, S, A = JobState.QUEUED, JobState.SCHEDULED, JobState.ACTIVE
OK, FAILED, CANCELLED = JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED


async def fill(backend: Backend) -> None:
    """Jobs in every state over two queues and two tasks (ids name queue, state, task)."""
    await finish(backend, make_job("a-succeeded-x", queue="a", task="x"))
    await finish(backend, make_job("b-failed-y", queue="b", task="y"), FAILED)
    await enqueue(backend, make_job("a-active-x", queue="a", task="x", priority=5))
    await claim_one(backend, "a")
    await enqueue(backend, make_job("a-queued-x", queue="a", task="x"))
    await enqueue(backend, make_job("a-queued-y", queue="a", task="y"))
    await enqueue(backend, make_job("a-scheduled-y", queue="a", task="y", delay=60))
    await enqueue(backend, make_job("b-cancelled-x", queue="b", task="x"))
    await backend.cancel("b-cancelled-x")
    await enqueue(backend, make_job("b-queued-y", queue="b", task="y"))


async def test_counts_per_queue_and_state(backend: Backend) -> None:
    await fill(backend)

    assert nonzero(await backend.counts()) == {
        "a": {OK: 1, A: 1, Q: 2, S: 1},
        "b": {FAILED: 1, CANCELLED: 1, Q: 1},
    }


async def test_counts_a_due_scheduled_job_as_queued(backend: Backend) -> None:
    [created] = await enqueue(backend, make_job("j", delay=0.1))
    assert nonzero(await backend.counts()) == {"default": {S: 1}}

    await sleep_past(backend, created.due_at)

    assert nonzero(await backend.counts()) == {"default": {Q: 1}}


async def test_list_jobs_filters_by_queue_state_and_task(backend: Backend) -> None:
    await fill(backend)

    async def listed(query: JobFilter) -> set[str]:
        return set(ids(await backend.list_jobs(query)))

    assert await listed(JobFilter(queue="b")) == {"b-failed-y", "b-cancelled-x", "b-queued-y"}
    assert await listed(JobFilter(state=Q)) == {"a-queued-x", "a-queued-y", "b-queued-y"}
    assert await listed(JobFilter(state=S)) == {"a-scheduled-y"}
    assert await listed(JobFilter(state=A)) == {"a-active-x"}
    assert await listed(JobFilter(task="x")) == {
        "a-succeeded-x",
        "a-active-x",
        "a-queued-x",
        "b-cancelled-x",
    }
    assert await listed(JobFilter(queue="a", state=Q, task="y")) == {"a-queued-y"}
    assert await listed(JobFilter(queue="nowhere")) == set()


async def test_list_jobs_reads_states_as_the_enum(backend: Backend) -> None:
    await fill(backend)

    for record in await backend.list_jobs(JobFilter()):
        assert isinstance(record.state, JobState)
        assert record.id.split("-")[1] == record.state.value


async def test_list_jobs_is_newest_first(backend: Backend) -> None:
    for i in range(5):
        await enqueue(backend, make_job(f"j-{i}"))

    assert ids(await backend.list_jobs(JobFilter())) == [f"j-{i}" for i in reversed(range(5))]


async def test_list_jobs_pages_neither_repeat_nor_skip(backend: Backend) -> None:
    await enqueue(backend, *(make_job(f"j-{i:02}") for i in range(23)))
    everything = ids(await backend.list_jobs(JobFilter(limit=100)))

    pages = [
        ids(await backend.list_jobs(JobFilter(limit=5, offset=offset)))
        for offset in range(0, 30, 5)
    ]

    assert [len(page) for page in pages] == [5, 5, 5, 5, 3, 0]
    assert [job_id for page in pages for job_id in page] == everything
    assert len(set(everything)) == 23


async def test_list_jobs_rejects_negative_paging(backend: Backend) -> None:
    with pytest.raises(ValueError, match="limit and offset"):
        await backend.list_jobs(JobFilter(limit=-1))
    with pytest.raises(ValueError, match="limit and offset"):
        await backend.list_jobs(JobFilter(offset=-1))


async def test_purge_deletes_only_the_finished_states_named(backend: Backend) -> None:
    await fill(backend)

    assert await backend.purge([OK, CANCELLED]) == 2

    assert nonzero(await backend.counts()) == {
        "a": {A: 1, Q: 2, S: 1},
        "b": {FAILED: 1, Q: 1},
    }
    assert await backend.get("a-succeeded-x") is None


async def test_purge_of_pending_or_active_states_is_refused(backend: Backend) -> None:
    await fill(backend)

    for state in (Q, S, A):
        with pytest.raises(ValueError, match="only finished jobs"):
            await backend.purge([OK, state])
    assert sum(n for per in (await backend.counts()).values() for n in per.values()) == 8


async def test_purge_respects_older_than(backend: Backend) -> None:
    old = await finish(backend, make_job("old"))
    assert old.finished_at is not None
    await sleep_past(backend, old.finished_at + 0.2)
    await finish(backend, make_job("new"))

    assert await backend.purge([OK], older_than=0.2) == 1

    assert ids(await backend.list_jobs(JobFilter())) == ["new"]


async def test_purge_can_be_limited_to_one_queue(backend: Backend) -> None:
    await fill(backend)

    assert await backend.purge([OK, FAILED, CANCELLED], queue="b") == 2

    assert set(ids(await backend.list_jobs(JobFilter(state=OK)))) == {"a-succeeded-x"}
    assert await backend.list_jobs(JobFilter(queue="b", state=FAILED)) == []


async def test_a_purged_job_is_gone(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))
    lease = lease_of(await claim_one(backend))
    assert await ack(backend, lease, FAILED)

    assert await backend.purge([FAILED]) == 1

    assert await backend.get("j") is None
    assert await backend.retry("j") is None
    assert nonzero(await backend.counts()) == {}
