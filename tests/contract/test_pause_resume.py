"""Pausing a queue: its jobs stay queued and unclaimed, by every worker, until it resumes;
enqueues go on and other queues are left alone; a wait for work does not end on its jobs."""

from __future__ import annotations

import asyncio
import time

import pytest

from conveyor.backends.base import Backend, QueueBacklog
from conveyor.errors import ConfigurationError
from conveyor.job import JobState

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
    sleep_past,
)

Q = JobState.QUEUED
WAIT = 1.0  # the timeout of a wait for work that must not end early


async def test_no_queue_is_paused_at_first(backend: Backend) -> None:
    assert await backend.paused_queues() == frozenset()


async def test_a_paused_queues_jobs_are_not_claimed(backend: Backend) -> None:
    await enqueue(backend, make_job("p-1", queue="p"), make_job("o-1", queue="o"))
    await enqueue(backend, make_job("p-2", queue="p", priority=9))

    await backend.pause_queue("p")

    assert ids(await claim(backend, ("p", "o"))) == ["o-1"]
    assert await claim(backend, ("p",)) == []
    for job_id in ("p-1", "p-2"):
        record = await get(backend, job_id)
        assert (record.state, record.attempts, record.worker) == (Q, 0, None)
    assert await backend.paused_queues() == frozenset({"p"})


async def test_a_resumed_queues_jobs_are_claimed_again(backend: Backend) -> None:
    await enqueue(backend, make_job("p-1", queue="p"), make_job("p-2", queue="p"))
    await backend.pause_queue("p")
    assert await claim(backend, ("p",)) == []

    await backend.resume_queue("p")

    assert await backend.paused_queues() == frozenset()
    claimed = await claim(backend, ("p",))
    assert ids(claimed) == ["p-1", "p-2"]
    assert [record.attempts for record in claimed] == [1, 1]


async def test_pausing_one_queue_leaves_the_others_alone(backend: Backend) -> None:
    await enqueue(backend, *(make_job(f"{q}-1", queue=q) for q in ("p", "o", "other")))

    await backend.pause_queue("p")

    assert ids(await claim(backend, ("o",))) == ["o-1"]
    assert ids(await claim(backend, ("other", "p"))) == ["other-1"]
    assert await backend.paused_queues() == frozenset({"p"})


async def test_several_queues_pause_and_resume_one_by_one(backend: Backend) -> None:
    await enqueue(backend, make_job("p-1", queue="p"), make_job("r-1", queue="r"))
    await backend.pause_queue("p")
    await backend.pause_queue("r")
    assert await backend.paused_queues() == frozenset({"p", "r"})
    assert await claim(backend, ("p", "r")) == []

    await backend.resume_queue("r")

    assert await backend.paused_queues() == frozenset({"p"})
    assert ids(await claim(backend, ("p", "r"))) == ["r-1"]


async def test_pause_and_resume_are_idempotent(backend: Backend) -> None:
    await enqueue(backend, make_job("p-1", queue="p"))

    await backend.pause_queue("p")
    await backend.pause_queue("p")
    assert await backend.paused_queues() == frozenset({"p"})

    await backend.resume_queue("p")  # once is enough: a pause is a switch, not a count
    assert await backend.paused_queues() == frozenset()
    await backend.resume_queue("p")
    await backend.resume_queue("never-paused")
    assert await backend.paused_queues() == frozenset()
    assert ids(await claim(backend, ("p",))) == ["p-1"]


async def test_an_empty_queue_can_be_paused_before_its_first_job(backend: Backend) -> None:
    await backend.pause_queue("later")

    await enqueue(backend, make_job("j", queue="later"))  # enqueues go on

    assert await claim(backend, ("later",)) == []
    assert (await get(backend, "j")).state is Q
    assert await backend.paused_queues() == frozenset({"later"})


@pytest.mark.parametrize("queue", ["", "q" * 101])
async def test_a_bad_queue_name_is_refused(backend: Backend, queue: str) -> None:
    with pytest.raises(ConfigurationError, match="queue name"):
        await backend.pause_queue(queue)
    with pytest.raises(ConfigurationError, match="queue name"):
        await backend.resume_queue(queue)

    assert await backend.paused_queues() == frozenset()


async def test_a_queue_name_of_any_text_can_be_paused(backend: Backend) -> None:
    odd = "reports:{eu}*[1] % ç"  # a glob, a hash tag, a LIKE wildcard, non-ASCII
    await enqueue(backend, make_job("j", queue=odd), make_job("k", queue="reports"))

    await backend.pause_queue(odd)

    assert await backend.paused_queues() == frozenset({odd})
    assert ids(await claim(backend, (odd, "reports"))) == ["k"]


async def test_a_scheduled_job_falling_due_in_a_paused_queue_is_not_claimed(
    backend: Backend,
) -> None:
    [created] = await enqueue(backend, make_job("later", queue="p", delay=0.1))
    await backend.pause_queue("p")

    await sleep_past(backend, created.due_at)

    assert await claim(backend, ("p",)) == []
    assert (await get(backend, "later")).attempts == 0
    await backend.resume_queue("p")
    assert ids(await claim(backend, ("p",))) == ["later"]


async def test_a_job_recovered_from_a_lost_lease_waits_while_its_queue_is_paused(
    backend: Backend,
) -> None:
    await enqueue(backend, make_job("j", queue="p"))
    [first] = await claim(backend, ("p",), lease_seconds=SHORT_LEASE)
    await backend.pause_queue("p")  # pausing stops no job that already runs
    await expire_lease(backend, first)

    assert (await backend.recover_expired()).requeued == 1
    assert await claim(backend, ("p",)) == []

    await backend.resume_queue("p")
    [again] = await claim(backend, ("p",))
    assert (again.id, again.attempts) == ("j", 2)


async def test_an_active_job_of_a_paused_queue_still_finishes(backend: Backend) -> None:
    await enqueue(backend, make_job("running", queue="p"), make_job("next", queue="p"))
    [running] = await claim(backend, ("p",), limit=1)
    await backend.pause_queue("p")

    assert await ack(backend, lease_of(running), JobState.SUCCEEDED)

    assert (await get(backend, "running")).state is JobState.SUCCEEDED
    assert await claim(backend, ("p",)) == []


async def test_a_paused_queue_keeps_its_backlog(backend: Backend) -> None:
    await enqueue(backend, make_job(queue="p"), make_job(queue="p"), make_job(queue="p", delay=60))

    await backend.pause_queue("p")

    backlog = (await backend.backlog())["p"]
    assert (backlog.queued, backlog.scheduled, backlog.active) == (2, 1, 0)
    assert backlog == QueueBacklog(queued=2, scheduled=1, oldest_age=backlog.oldest_age)


async def test_a_pause_holds_for_every_instance_on_the_store(
    backend: Backend, peer: Backend
) -> None:
    await enqueue(backend, make_job("p-1", queue="p"))

    await peer.pause_queue("p")  # the dashboard's process, say

    assert await backend.paused_queues() == frozenset({"p"})
    assert await claim(backend, ("p",)) == []

    await peer.resume_queue("p")

    assert await backend.paused_queues() == frozenset()
    assert ids(await claim(backend, ("p",))) == ["p-1"]


async def test_waiting_for_work_on_paused_queues_waits_out_its_timeout(backend: Backend) -> None:
    await enqueue(backend, make_job("due", queue="p"), make_job("due-too", queue="r"))
    await backend.pause_queue("p")
    await backend.pause_queue("r")

    started = time.monotonic()
    await backend.wait_for_work(["p", "r"], timeout=WAIT)
    elapsed = time.monotonic() - started

    assert elapsed >= 0.8 * WAIT, f"returned after {elapsed:.3f} s though nothing can be claimed"


async def test_waiting_for_work_still_sees_a_queue_that_is_not_paused(backend: Backend) -> None:
    await enqueue(backend, make_job("held", queue="p"), make_job("free", queue="o"))
    await backend.pause_queue("p")

    async with asyncio.timeout(2.0):
        await backend.wait_for_work(["p", "o"], timeout=5)


@pytest.mark.parametrize("by", ["this backend", "another process"])
async def test_a_resume_ends_a_wait_for_the_queues_work(
    backend: Backend, peer: Backend, by: str
) -> None:
    # a backend that pushes new work wakes the wait at once; one whose waits poll (SQLite)
    # sees the resume at its next look, well within the wait's timeout
    resumer_backend = backend if by == "this backend" else peer
    await enqueue(backend, make_job("held", queue="p"))
    await backend.pause_queue("p")

    async def resume_soon() -> None:
        await asyncio.sleep(0.3)
        await resumer_backend.resume_queue("p")

    resumer = asyncio.create_task(resume_soon())
    started = time.monotonic()
    await backend.wait_for_work(["p"], timeout=5)
    elapsed = time.monotonic() - started
    await resumer

    assert 0.25 <= elapsed < 2.0
    assert ids(await claim(backend, ("p",))) == ["held"]
