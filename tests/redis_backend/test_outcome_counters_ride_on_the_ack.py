"""The per-minute outcome counters are written by the ack script itself: one HINCRBY per
queue, task and outcome a batch holds (not per job), counted under the task and queue the
store holds for the job, in a per-queue hash of the hour that Redis drops once the hour is
older than OUTCOME_RETENTION."""

from __future__ import annotations

from conveyor.backends.base import OUTCOME_RETENTION, Ack, Lease, minute_of
from conveyor.backends.redis import RedisBackend
from conveyor.job import JobState
from live_services import RedisServer

from .support import counted, job


async def test_a_batch_writes_one_counter_per_task_and_outcome(
    backend: RedisBackend, server: RedisServer
) -> None:
    started = await backend.now()
    await backend.enqueue([job("q", "tasks.a") for _ in range(60)] + [job("q", "tasks.b")])
    claimed = await backend.claim(["q"], 100, "worker-1", 60.0)
    acks = [
        Ack(Lease(r.id, r.lease_token or ""),
            JobState.SUCCEEDED if i % 2 else JobState.FAILED,
            task="what the worker says", queue="is not what counts")
        for i, r in enumerate(claimed)
    ]  # fmt: skip

    with counted(server) as commands:
        assert all(await backend.ack(acks))

    assert commands.calls["hincrby"] == 3  # a succeeded, a failed, b's one outcome
    assert commands.calls.get("expireat", 0) <= 1  # the hour's hash, once
    counted_now = {
        (c.queue, c.task, c.outcome): c.count
        for c in await backend.outcome_counts(minute_of(started))
    }
    assert sum(counted_now.values()) == 61
    assert {key[:2] for key in counted_now} == {("q", "tasks.a"), ("q", "tasks.b")}


async def test_the_hours_hash_expires_once_its_retention_is_over(
    backend: RedisBackend, server: RedisServer
) -> None:
    await backend.enqueue([job("q")])
    [record] = await backend.claim(["q"], 1, "worker-1", 60.0)
    assert await backend.ack([Ack(Lease(record.id, record.lease_token or ""), JobState.SUCCEEDED)])
    [count] = await backend.outcome_counts(0.0)
    hour = int(count.minute - count.minute % 3600)

    with server.client() as client:
        expires = client.expiretime(f"{backend.prefix}:{{q}}:outcomes:{hour}")

    assert count.minute == minute_of(count.minute)
    assert expires == hour + 3600 + int(OUTCOME_RETENTION)
