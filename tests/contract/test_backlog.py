"""The backlog of each queue: live jobs by state, dead letters, the age of the oldest due job."""

from __future__ import annotations

import asyncio
import time

from conveyor.backends.base import Backend, QueueBacklog
from conveyor.job import JobState

from .support import ack, claim, claim_one, enqueue, finish, lease_of, make_job, sleep_past

S = JobState.SCHEDULED


async def test_an_empty_store_has_no_backlog(backend: Backend) -> None:
    assert await backend.backlog() == {}


async def test_counts_live_jobs_and_dead_letters_but_not_finished_jobs(backend: Backend) -> None:
    await finish(backend, make_job(queue="a"))
    await finish(backend, make_job(queue="a"), JobState.FAILED)
    await finish(backend, make_job(queue="done"))  # a queue of finished jobs has no backlog
    await enqueue(backend, make_job("cancelled", queue="a"))
    await backend.cancel("cancelled")
    await enqueue(backend, make_job(queue="a", priority=5))
    await claim_one(backend, "a")
    started = time.monotonic()
    await enqueue(backend, make_job(queue="a"), make_job(queue="a"))
    await enqueue(backend, make_job(queue="a", delay=60), make_job(queue="b", delay=60))

    backlog = await backend.backlog()
    waited = time.monotonic() - started

    assert set(backlog) == {"a", "b"}
    assert backlog["a"].oldest_age <= waited + 0.05  # the queued jobs: nothing older is due
    assert backlog["a"] == QueueBacklog(
        scheduled=1, queued=2, active=1, failed=1, oldest_age=backlog["a"].oldest_age
    )
    assert backlog["b"] == QueueBacklog(scheduled=1)


async def test_a_due_scheduled_job_counts_as_queued_and_has_waited_since_due(
    backend: Backend,
) -> None:
    [created] = await enqueue(backend, make_job(delay=0.2))
    assert await backend.backlog() == {"default": QueueBacklog(scheduled=1)}

    await sleep_past(backend, created.due_at + 0.2)
    backlog = (await backend.backlog())["default"]

    assert (backlog.scheduled, backlog.queued) == (0, 1)
    assert 0.2 <= backlog.oldest_age < 5.0


async def test_the_oldest_due_job_may_wait_behind_higher_priorities(backend: Backend) -> None:
    await enqueue(backend, make_job("old", priority=-3))
    await asyncio.sleep(0.3)
    await enqueue(backend, make_job("urgent", priority=7), make_job("normal"))

    before = (await backend.backlog())["default"]
    [first, second] = await claim(backend, limit=2)
    after_two = (await backend.backlog())["default"]
    await claim_one(backend)
    after_all = (await backend.backlog())["default"]

    assert [first.id, second.id] == ["urgent", "normal"]
    assert before.queued == 3
    assert 0.3 <= before.oldest_age < 5.0
    assert (after_two.queued, after_two.active) == (1, 2)
    assert after_two.oldest_age >= before.oldest_age
    assert after_all == QueueBacklog(active=3)  # nothing waits: no age


async def test_a_job_waiting_to_retry_is_scheduled_and_a_dead_letter_is_failed(
    backend: Backend,
) -> None:
    await enqueue(backend, make_job("flaky"), make_job("doomed"))
    claimed = {record.id: record for record in await claim(backend)}
    await ack(backend, lease_of(claimed["flaky"]), S, retry_in=60)
    await ack(backend, lease_of(claimed["doomed"]), JobState.FAILED)

    assert await backend.backlog() == {"default": QueueBacklog(scheduled=1, failed=1)}

    await backend.retry("doomed")
    backlog = (await backend.backlog())["default"]

    assert (backlog.scheduled, backlog.queued, backlog.failed) == (1, 1, 0)
