"""LISTEN/NOTIFY: idle waiters on other connections wake on the change itself, not a poll.

Each test waits on a second backend instance, which has its own pool and listener and
shares no in-process wakeups with the first: only PostgreSQL's notification can reach it.
The waits are given timeouts far longer than the tests' limits, so a pass means a wakeup.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest

from conveyor.backends.base import Ack, Lease, RunningUpdate
from conveyor.backends.postgres import PostgresBackend
from conveyor.job import JobRecord, JobState

LIMIT = 10.0
NEVER = 3600.0  # a timeout or poll period no test lives to see


def job(job_id: str, queue: str = "default") -> JobRecord:
    return JobRecord(id=job_id, task="tasks.work", queue=queue, payload=b"{}")


@pytest.fixture
async def other(pg_url: str, backend: PostgresBackend) -> AsyncIterator[PostgresBackend]:
    """A second instance on the same schema, as another process would open it."""
    instance = PostgresBackend(pg_url)
    await instance.open()
    try:
        yield instance
    finally:
        await instance.close()


async def test_an_idle_waiter_wakes_when_a_job_is_enqueued(
    backend: PostgresBackend, other: PostgresBackend
) -> None:
    waiting = asyncio.create_task(other.wait_for_work(["default"], timeout=NEVER))
    await asyncio.sleep(0.2)  # let it find the queue empty and start waiting
    assert not waiting.done()

    await backend.enqueue([job("j")])

    await asyncio.wait_for(waiting, LIMIT)


async def test_a_waiter_on_another_queue_sleeps_on(
    backend: PostgresBackend, other: PostgresBackend
) -> None:
    waiting = asyncio.create_task(other.wait_for_work(["reports"], timeout=NEVER))
    await asyncio.sleep(0.2)

    await backend.enqueue([job("j", queue="default")])
    await asyncio.sleep(0.3)

    assert not waiting.done()
    await backend.enqueue([job("r", queue="reports")])
    await asyncio.wait_for(waiting, LIMIT)


async def test_a_watch_hears_progress_and_the_end_of_a_job(
    backend: PostgresBackend, other: PostgresBackend
) -> None:
    await backend.enqueue([job("j")])
    [claimed] = await backend.claim(["default"], 1, "worker-1", 30.0)
    assert claimed.lease_token is not None
    lease = Lease("j", claimed.lease_token)

    async with other.watch_job("j", poll=NEVER) as watch:
        changed = asyncio.create_task(watch.changed())
        await asyncio.sleep(0.2)
        assert not changed.done()
        assert await backend.update_running([RunningUpdate(lease, progress=0.5)]) == [True]
        await asyncio.wait_for(changed, LIMIT)
        assert (await other.get("j")) is not None

        changed = asyncio.create_task(watch.changed())
        assert await backend.ack([Ack(lease, JobState.SUCCEEDED, result=b"1")]) == [True]
        await asyncio.wait_for(changed, LIMIT)

    record = await other.wait_final("j", None)
    assert record is not None
    assert record.state is JobState.SUCCEEDED


@pytest.mark.parametrize("way_out", ["ack", "recovery"])
async def test_a_freed_limit_slot_wakes_an_idle_waiter(
    backend: PostgresBackend, other: PostgresBackend, way_out: str
) -> None:
    limited = [
        JobRecord(id=f"k{i}", task="tasks.work", queue="default", payload=b"{}",
                  limit_key="k", limit=1)
        for i in (1, 2)
    ]  # fmt: skip
    await backend.enqueue(limited)
    [first] = await backend.claim(["default"], 10, "worker-1", 0.2)
    assert first.lease_token is not None
    waiting = asyncio.create_task(other.wait_for_work(["default"], timeout=NEVER))
    await asyncio.sleep(0.3)
    assert not waiting.done(), "k2, held back by its limit, is not work"

    if way_out == "recovery":  # its worker died (the lease has run out) and it ends
        assert (await backend.recover_expired(max_recoveries=0)).dead == 1
    else:
        assert await backend.ack([Ack(Lease("k1", first.lease_token), JobState.SUCCEEDED)])

    await asyncio.wait_for(waiting, LIMIT)


async def test_the_listener_reconnects_after_losing_its_connection(
    backend: PostgresBackend, other: PostgresBackend, conninfo: str
) -> None:
    waiting = asyncio.create_task(other.wait_for_work(["default"], timeout=NEVER))
    await asyncio.sleep(0.2)
    channel = other.sql.work_channel

    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as admin:
        cursor = await admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = %s",
            (f'LISTEN "{channel}"',),
        )
        assert await cursor.fetchone() == (1,)

    # notifications sent while it was away are lost: its waiters are woken to look again
    await asyncio.wait_for(waiting, LIMIT)
    waiting = asyncio.create_task(other.wait_for_work(["default"], timeout=NEVER))
    await asyncio.sleep(0.2)
    await backend.enqueue([job("j")])
    await asyncio.wait_for(waiting, LIMIT)
