"""The per-minute outcome counters: every accepted ack counts once, in the minute it was
written, by queue, task and outcome; a refused ack counts nothing."""

from __future__ import annotations

from collections.abc import Sequence

from conveyor.backends.base import (
    COUNTED_OUTCOMES,
    Ack,
    Backend,
    Lease,
    OutcomeCount,
    minute_of,
)
from conveyor.job import JobError, JobRecord, JobState

from .support import SHORT_LEASE, claim, enqueue, expire_lease, lease_of, make_job

OK, FAILED, CANCELLED = JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED
RETRY, HAND_BACK = JobState.SCHEDULED, JobState.QUEUED
BOOM = JobError("ValueError", "bad input")

Tally = dict[tuple[str, str, str], int]


def acked(record: JobRecord, state: JobState) -> Ack:
    """The ack a worker sends for `record` ending in `state`, task and queue set."""
    return Ack(
        lease_of(record),
        state,
        result=b"1" if state is OK else None,
        error=BOOM if state in (FAILED, RETRY) else None,
        retry_in=60.0 if state is RETRY else 0.0,
        task=record.task,
        queue=record.queue,
    )


def tally(counts: Sequence[OutcomeCount]) -> Tally:
    """The counts summed over minutes (a test may run across a minute's end)."""
    summed: Tally = {}
    for count in counts:
        key = (count.queue, count.task, count.outcome)
        summed[key] = summed.get(key, 0) + count.count
    return summed


async def counted_since(backend: Backend, since: float) -> Tally:
    return tally(await backend.outcome_counts(since))


async def claimed(backend: Backend, *jobs: JobRecord, worker: str = "worker-1") -> list[JobRecord]:
    """Enqueue `jobs` and claim them all, in the order given."""
    await enqueue(backend, *jobs)
    queues = tuple(dict.fromkeys(job.queue for job in jobs))
    records = {r.id: r for r in await claim(backend, queues, limit=len(jobs), worker=worker)}
    assert set(records) == {job.id for job in jobs}
    return [records[job.id] for job in jobs]


async def test_nothing_is_counted_before_the_first_ack(backend: Backend) -> None:
    await enqueue(backend, make_job())
    await claim(backend)

    assert await backend.outcome_counts(0.0) == []


async def test_each_kind_of_ack_is_counted_in_its_minute(backend: Backend) -> None:
    started = await backend.now()
    states = [OK, OK, FAILED, RETRY, CANCELLED, HAND_BACK]
    records = await claimed(backend, *(make_job(queue="q", task="t") for _ in states))
    records += await claimed(backend, make_job(queue="r", task="u"))

    accepted = await backend.ack(
        [acked(record, state) for record, state in zip(records, [*states, OK], strict=True)]
    )
    ended = await backend.now()

    assert accepted == [True] * 7
    counts = await backend.outcome_counts(minute_of(started))
    assert tally(counts) == {
        ("q", "t", "succeeded"): 2,
        ("q", "t", "failed"): 1,
        ("q", "t", "retried"): 1,
        ("q", "t", "cancelled"): 1,
        ("q", "t", "handed_back"): 1,
        ("r", "u", "succeeded"): 1,
    }
    for count in counts:
        assert count.minute in {minute_of(started), minute_of(ended)}
        assert count.minute % 60 == 0
        assert count.outcome in COUNTED_OUTCOMES.values()
        assert count.count > 0


async def test_the_counts_come_oldest_first_and_one_row_per_key_and_minute(
    backend: Backend,
) -> None:
    started = await backend.now()
    records = await claimed(backend, *(make_job(queue="q", task=f"t{i % 3}") for i in range(9)))
    for record in records:  # nine batches of one
        assert await backend.ack([acked(record, OK)]) == [True]

    counts = await backend.outcome_counts(minute_of(started))

    keys = [(c.minute, c.queue, c.task, c.outcome) for c in counts]
    assert keys == sorted(keys)
    assert len(keys) == len(set(keys))
    assert tally(counts) == {("q", "t0", "succeeded"): 3, ("q", "t1", "succeeded"): 3,
                             ("q", "t2", "succeeded"): 3}  # fmt: skip


async def test_counts_add_up_across_batches(backend: Backend) -> None:
    started = await backend.now()
    records = await claimed(backend, *(make_job(queue="q", task="t") for _ in range(10)))

    assert await backend.ack([acked(r, OK) for r in records[:3]]) == [True] * 3
    assert await backend.ack([acked(r, OK) for r in records[3:5]]) == [True] * 2
    assert await backend.ack([acked(records[5], FAILED)]) == [True]
    assert await backend.ack([acked(r, RETRY) for r in records[6:]]) == [True] * 4

    assert await counted_since(backend, minute_of(started)) == {
        ("q", "t", "succeeded"): 5,
        ("q", "t", "failed"): 1,
        ("q", "t", "retried"): 4,
    }


async def test_every_attempt_of_a_job_counts(backend: Backend) -> None:
    started = await backend.now()
    [first] = await claimed(backend, make_job("j", queue="q", task="t"))
    assert await backend.ack([acked(first, HAND_BACK)]) == [True]
    [second] = await claim(backend, ("q",))
    assert await backend.ack([Ack(lease_of(second), RETRY, retry_in=0.0, task="t", queue="q")])
    [third] = await claim(backend, ("q",))
    assert await backend.ack([acked(third, OK)]) == [True]

    assert await counted_since(backend, minute_of(started)) == {
        ("q", "t", "handed_back"): 1,
        ("q", "t", "retried"): 1,
        ("q", "t", "succeeded"): 1,
    }


async def test_tasks_and_queues_are_counted_apart(backend: Backend) -> None:
    started = await backend.now()
    jobs = [
        make_job(queue="q1", task="a"),
        make_job(queue="q1", task="b"),
        make_job(queue="q2", task="a"),
        make_job(queue="q2", task="a"),
    ]
    records = await claimed(backend, *jobs)

    assert await backend.ack([acked(r, FAILED) for r in records]) == [True] * 4

    assert await counted_since(backend, minute_of(started)) == {
        ("q1", "a", "failed"): 1,
        ("q1", "b", "failed"): 1,
        ("q2", "a", "failed"): 2,
    }


async def test_an_ack_refused_for_a_lost_lease_is_not_counted(backend: Backend) -> None:
    started = await backend.now()
    await enqueue(backend, make_job("j", queue="q", task="t"))
    [lost] = await claim(backend, ("q",), lease_seconds=SHORT_LEASE, worker="worker-1")
    await expire_lease(backend, lost)
    await backend.recover_expired()
    [taken] = await claim(backend, ("q",), worker="worker-2")

    assert await backend.ack([acked(lost, OK)]) == [False]
    assert await counted_since(backend, minute_of(started)) == {}

    assert await backend.ack([acked(taken, OK)]) == [True]
    assert await counted_since(backend, minute_of(started)) == {("q", "t", "succeeded"): 1}


async def test_a_batch_counts_only_its_accepted_acks(backend: Backend) -> None:
    started = await backend.now()
    [other, kept] = await claimed(
        backend, make_job(queue="q", task="t"), make_job(queue="q", task="t")
    )
    stale = Ack(Lease(other.id, "a-token-it-never-had"), OK, task="t", queue="q")

    accepted = await backend.ack([stale, acked(kept, FAILED)])

    assert accepted == [False, True]
    assert await counted_since(backend, minute_of(started)) == {("q", "t", "failed"): 1}


async def test_an_ack_repeated_after_it_was_accepted_counts_once(backend: Backend) -> None:
    started = await backend.now()
    [record] = await claimed(backend, make_job(queue="q", task="t"))

    assert await backend.ack([acked(record, OK)]) == [True]
    assert await backend.ack([acked(record, OK)]) == [False]  # a retried flush, say

    assert await counted_since(backend, minute_of(started)) == {("q", "t", "succeeded"): 1}


async def test_only_the_minutes_from_since_on_are_returned(backend: Backend) -> None:
    started = await backend.now()
    [record] = await claimed(backend, make_job(queue="q", task="t"))
    assert await backend.ack([acked(record, OK)]) == [True]
    ended = await backend.now()
    minute = minute_of(ended)

    assert await counted_since(backend, 0.0) == {("q", "t", "succeeded"): 1}
    assert await counted_since(backend, minute_of(started)) == {("q", "t", "succeeded"): 1}
    assert await backend.outcome_counts(minute + 60) == []  # a minute to come
    later = await backend.outcome_counts(minute + 1)  # the minute began before `since`
    assert later == []
    for count in await backend.outcome_counts(minute):
        assert count.minute >= minute


async def test_another_process_reads_the_same_counts(backend: Backend, peer: Backend) -> None:
    started = await backend.now()
    records = await claimed(backend, make_job(queue="q", task="t"), make_job(queue="q", task="t"))
    assert await backend.ack([acked(r, OK) for r in records]) == [True, True]

    assert await peer.outcome_counts(minute_of(started)) == await backend.outcome_counts(
        minute_of(started)
    )
    assert await counted_since(peer, minute_of(started)) == {("q", "t", "succeeded"): 2}
