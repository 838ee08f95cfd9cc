"""`counts()` and `backlog()` agree with the jobs stored after every kind of change, the dead
letters and the cancelled jobs included: a store that keeps its counts as it goes (so they
cost the same whatever history it holds) must move them on every path a job takes."""

from __future__ import annotations

from conveyor.backends.base import Ack, Backend, JobFilter, QueueBacklog
from conveyor.job import JobRecord, JobState

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
    nonzero,
    sleep_past,
)

Q, S, A = JobState.QUEUED, JobState.SCHEDULED, JobState.ACTIVE
OK, FAILED, CANCELLED = JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED
EVERYTHING = 10_000

Counts = dict[str, dict[JobState, int]]


async def stored(backend: Backend) -> Counts:
    """The jobs listed, counted by queue and the state a reader sees."""
    counts: Counts = {}
    for record in await backend.list_jobs(JobFilter(limit=EVERYTHING)):
        per_queue = counts.setdefault(record.queue, {})
        per_queue[record.state] = per_queue.get(record.state, 0) + 1
    return counts


async def agree(backend: Backend) -> Counts:
    """Check counts() and backlog() against the jobs listed; return the counts."""
    listed = await stored(backend)
    assert nonzero(await backend.counts()) == listed
    expected = {
        queue: (per.get(S, 0), per.get(Q, 0), per.get(A, 0), per.get(FAILED, 0))
        for queue, per in listed.items()
    }
    backlog = {
        queue: (b.scheduled, b.queued, b.active, b.failed)
        for queue, b in (await backend.backlog()).items()
    }
    assert backlog == {queue: seen for queue, seen in expected.items() if any(seen)}
    return listed


async def test_enqueue_claim_and_every_ack(backend: Backend) -> None:
    await enqueue(backend, *(make_job(f"j-{i}", queue="a") for i in range(6)))
    await enqueue(backend, make_job("later", queue="a", delay=60))
    assert await agree(backend) == {"a": {Q: 6, S: 1}}

    claimed = await claim(backend, ("a",), limit=5)
    assert await agree(backend) == {"a": {Q: 1, S: 1, A: 5}}

    outcomes = [OK, FAILED, CANCELLED, S, Q]
    accepted = await backend.ack(
        [
            Ack(lease_of(record), state, retry_in=60.0 if state is S else 0.0)
            for record, state in zip(claimed, outcomes, strict=True)
        ]
    )
    assert accepted == [True] * 5
    assert await agree(backend) == {"a": {OK: 1, FAILED: 1, CANCELLED: 1, S: 2, Q: 2}}


async def test_an_enqueue_that_stores_nothing_counts_nothing(backend: Backend) -> None:
    await enqueue(backend, make_job("j", queue="a"))
    await enqueue(backend, make_job("u", queue="a", unique_key="k", unique_for=60))

    again = await backend.enqueue([make_job("j", queue="a")])
    same_key = await backend.enqueue([make_job("v", queue="a", unique_key="k", unique_for=60)])

    assert [r.created for r in again + same_key] == [False, False]
    assert await agree(backend) == {"a": {Q: 2}}


async def test_cancel_of_queued_scheduled_and_active_jobs(backend: Backend) -> None:
    await enqueue(backend, make_job("running", queue="a"))
    running = await claim_one(backend, "a")
    await enqueue(backend, make_job("queued", queue="a"), make_job("later", queue="a", delay=60))

    await backend.cancel("queued")
    await backend.cancel("later")
    await backend.cancel("running")  # asked to stop: active until its worker acks
    assert await agree(backend) == {"a": {CANCELLED: 2, A: 1}}

    assert await ack(backend, lease_of(running), CANCELLED)
    assert await agree(backend) == {"a": {CANCELLED: 3}}

    await backend.cancel("queued")  # cancelled already: nothing moves
    assert await agree(backend) == {"a": {CANCELLED: 3}}


async def test_retry_of_failed_and_cancelled_jobs(backend: Backend) -> None:
    await finish(backend, make_job("dead", queue="a"), FAILED)
    await enqueue(backend, make_job("stopped", queue="a"))
    await backend.cancel("stopped")
    assert await agree(backend) == {"a": {FAILED: 1, CANCELLED: 1}}

    await backend.retry("dead")
    assert await agree(backend) == {"a": {Q: 1, CANCELLED: 1}}
    await backend.retry("stopped")
    assert await agree(backend) == {"a": {Q: 2}}
    await backend.retry("stopped")  # queued already: nothing moves
    assert await agree(backend) == {"a": {Q: 2}}


async def test_expired_leases_requeued_dead_lettered_or_cancelled(backend: Backend) -> None:
    await enqueue(backend, make_job("back", queue="a"))
    back = await claim_one(backend, "a", lease_seconds=SHORT_LEASE)
    await expire_lease(backend, back)
    await backend.recover_expired()
    assert await agree(backend) == {"a": {Q: 1}}

    dead = await claim_one(backend, "a", lease_seconds=SHORT_LEASE)
    await expire_lease(backend, dead)
    await backend.recover_expired(max_recoveries=0)
    assert await agree(backend) == {"a": {FAILED: 1}}

    await enqueue(backend, make_job("stopping", queue="b"))
    stopping = await claim_one(backend, "b", lease_seconds=SHORT_LEASE)
    await backend.cancel("stopping")
    await expire_lease(backend, stopping)
    await backend.recover_expired()
    assert await agree(backend) == {"a": {FAILED: 1}, "b": {CANCELLED: 1}}


async def test_follow_ups_enqueued_with_an_ack(backend: Backend) -> None:
    await enqueue(backend, make_job("first", queue="a"))
    first = await claim_one(backend, "a")
    nexts: list[JobRecord] = [make_job("next", queue="b"), make_job("later", queue="b", delay=60)]

    assert await ack(backend, lease_of(first), OK, follow_ups=nexts)

    assert await agree(backend) == {"a": {OK: 1}, "b": {Q: 1, S: 1}}


async def test_a_scheduled_job_falling_due_moves_to_queued(backend: Backend) -> None:
    [created] = await enqueue(backend, make_job("soon", queue="a", delay=0.2))
    assert await agree(backend) == {"a": {S: 1}}

    await sleep_past(backend, created.due_at)

    assert await agree(backend) == {"a": {Q: 1}}
    assert (await backend.backlog())["a"].oldest_age >= 0.0


async def test_purge_and_expired_results_leave_the_counts(backend: Backend) -> None:
    await finish(backend, make_job("kept", queue="a"))
    await finish(backend, make_job("dead", queue="a"), FAILED)
    await finish(backend, make_job("short", queue="a", result_ttl=0.2))
    await enqueue(backend, make_job("stopped", queue="a"))
    await backend.cancel("stopped")
    assert await agree(backend) == {"a": {OK: 2, FAILED: 1, CANCELLED: 1}}

    short = await get(backend, "short")
    assert short.expires_at is not None
    await sleep_past(backend, short.expires_at)
    assert await agree(backend) == {"a": {OK: 1, FAILED: 1, CANCELLED: 1}}  # expired: gone
    await backend.purge_expired()
    assert await agree(backend) == {"a": {OK: 1, FAILED: 1, CANCELLED: 1}}

    assert await backend.purge([FAILED, CANCELLED]) == 2
    assert await agree(backend) == {"a": {OK: 1}}
    assert await backend.backlog() == {}


async def test_dead_letters_are_backlog_and_cancelled_jobs_are_not(backend: Backend) -> None:
    await finish(backend, make_job(queue="a"), FAILED)
    await finish(backend, make_job(queue="a"), FAILED)
    await enqueue(backend, make_job("stopped", queue="b"))
    await backend.cancel("stopped")

    assert await agree(backend) == {"a": {FAILED: 2}, "b": {CANCELLED: 1}}
    assert await backend.backlog() == {"a": QueueBacklog(failed=2)}
