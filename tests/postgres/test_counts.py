"""The counts PostgreSQL keeps as jobs move: finished jobs per queue and state, kept by the
statements that move them (rows appended, folded by purge_expired) so counts() never reads
the history; outcome counters per minute, added to by each ack statement, shared by many
workers at once without waiting on each other crosswise."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import psycopg
import pytest

from conveyor.backends.base import OUTCOME_RETENTION, Ack, JobFilter, Lease, WorkerInfo
from conveyor.backends.postgres import PostgresBackend
from conveyor.job import JobRecord, JobState

OK, FAILED = JobState.SUCCEEDED, JobState.FAILED


def job(job_id: str, task: str = "tasks.work", result_ttl: float | None = None) -> JobRecord:
    return JobRecord(id=job_id, task=task, queue="default", payload=b"{}", result_ttl=result_ttl)


def acked(record: JobRecord, state: JobState = OK) -> Ack:
    assert record.lease_token is not None
    return Ack(Lease(record.id, record.lease_token), state, task=record.task, queue=record.queue)


async def finish(backend: PostgresBackend, *jobs: JobRecord) -> None:
    await backend.enqueue(jobs)
    claimed = await backend.claim(["default"], len(jobs), "w", 30.0)
    assert await backend.ack([acked(record) for record in claimed]) == [True] * len(jobs)


def count_rows(conninfo: str, schema: str) -> list[tuple[str, str, int]]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            f'SELECT queue, state, jobs FROM "{schema}".conveyor_counts ORDER BY 1, 2'.encode()
        )
        return list(rows.fetchall())


async def truth(backend: PostgresBackend) -> dict[str, dict[JobState, int]]:
    """The jobs counted one by one, as counts() must report them."""
    counts: dict[str, dict[JobState, int]] = {}
    for record in await backend.list_jobs(JobFilter(limit=100_000)):
        per_queue = counts.setdefault(record.queue, {})
        per_queue[record.state] = per_queue.get(record.state, 0) + 1
    return counts


@pytest.fixture
async def fleet(pg_url: str) -> AsyncIterator[list[PostgresBackend]]:
    """Instances with pools of their own, as worker processes open them."""
    instances = [PostgresBackend(pg_url) for _ in range(6)]
    for instance in instances:
        await instance.open()
    try:
        yield instances
    finally:
        for instance in instances:
            await instance.close()


async def test_an_expired_id_taken_again_leaves_the_counts(
    backend: PostgresBackend, conninfo: str
) -> None:
    await finish(backend, job("j", result_ttl=0.1), job("k", result_ttl=0.1))
    await asyncio.sleep(0.2)

    await backend.enqueue([job("j")])  # the expired record is deleted, the job stored anew
    async with await psycopg.AsyncConnection.connect(conninfo) as conn:
        await backend.enqueue_in(conn, [job("k")])  # in the caller's transaction too
        await conn.commit()

    assert await backend.counts() == {"default": {JobState.QUEUED: 2}}
    await backend.purge_expired()
    assert await backend.counts() == await truth(backend) == {"default": {JobState.QUEUED: 2}}


async def test_purge_expired_folds_the_counts_and_two_at_once_count_nothing_twice(
    backend: PostgresBackend, fleet: list[PostgresBackend], conninfo: str, schema: str
) -> None:
    for i in range(12):  # a dozen ack statements, a dozen rows
        await finish(backend, job(f"ok-{i}"))
    await backend.enqueue([job("dead")])
    [dead] = await backend.claim(["default"], 1, "w", 30.0)
    assert await backend.ack([acked(dead, FAILED)]) == [True]
    await backend.retry("dead")
    before = await backend.counts()
    assert len(count_rows(conninfo, schema)) == 14

    await asyncio.gather(*(instance.purge_expired() for instance in fleet))

    assert count_rows(conninfo, schema) == [("default", "succeeded", 12)]  # failed: net 0
    assert await backend.counts() == before == await truth(backend)


async def test_ack_batches_sharing_outcome_counters_never_deadlock(
    fleet: list[PostgresBackend],
) -> None:
    tasks = ["tasks.a", "tasks.b", "tasks.c"]
    backend = fleet[0]
    await backend.enqueue([job(f"j-{i}", task=tasks[i % 3]) for i in range(600)])
    since = await backend.now()
    claimed = await backend.claim(["default"], 600, "w", 30.0)
    batches = [claimed[i : i + 20] for i in range(0, 600, 20)]
    for n, batch in enumerate(batches):  # each batch meets the counters in another order
        batch.sort(key=lambda record: tasks.index(record.task) * (-1) ** n)

    async def ack_all(instance: PostgresBackend, mine: list[list[JobRecord]]) -> None:
        for batch in mine:
            states = [OK if i % 4 else FAILED for i in range(len(batch))]
            accepted = await instance.ack([acked(r, s) for r, s in zip(batch, states, strict=True)])
            assert accepted == [True] * len(batch)

    await asyncio.gather(
        *(ack_all(instance, batches[i :: len(fleet)]) for i, instance in enumerate(fleet))
    )

    by_outcome: Counter[str] = Counter()
    for count in await backend.outcome_counts(since - 60):
        by_outcome[count.outcome] += count.count
    assert by_outcome == {"succeeded": 450, "failed": 150}
    assert await backend.counts() == {"default": {OK: 450, FAILED: 150}}


async def test_purge_expired_drops_old_counters_and_gone_workers(
    backend: PostgresBackend, conninfo: str, schema: str
) -> None:
    await finish(backend, job("j"))
    worker = WorkerInfo("w-gone", "host", 1, ("default",), 1, 0.0)
    await backend.register_worker(worker, 0.05)
    await backend.register_worker(WorkerInfo("w-live", "host", 2, (), 1, 0.0), 60.0)
    with psycopg.connect(conninfo) as conn:
        conn.execute(
            f"INSERT INTO \"{schema}\".conveyor_outcomes VALUES (date_trunc('minute', now()) "
            "- make_interval(secs => %s + 60), 'default', 'tasks.work', 'succeeded', 7)".encode(),
            (OUTCOME_RETENTION,),
        )
    await asyncio.sleep(0.1)

    await backend.purge_expired()

    assert [c.count for c in await backend.outcome_counts(0.0)] == [1]  # the old minute gone
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(f'SELECT name FROM "{schema}".conveyor_workers'.encode())
        assert rows.fetchall() == [("w-live",)]


async def test_counts_read_no_finished_job(backend: PostgresBackend, conninfo: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            f"INSERT INTO {backend.sql.jobs} (id, task, queue, state, payload, enqueued_at, "
            "due_at, finished_at) SELECT 'done-' || n, 'tasks.work', 'default', 'succeeded', "
            "'', now(), now(), now() FROM generate_series(1, 50000) AS n".encode()
        )
        conn.execute(f"VACUUM ANALYZE {backend.sql.jobs}".encode())
        plan = "\n".join(row[0] for row in conn.execute(b"EXPLAIN " + backend.sql.counts))

    assert "Seq Scan on conveyor_jobs" not in plan, plan
    # the live jobs from the state index alone (a finished job's state is not among those
    # read), the due ones from the scheduled index, the expired ones from the expiry index
    assert "Index Only Scan using conveyor_jobs_state" in plan, plan
    assert "conveyor_jobs_scheduled" in plan, plan
    assert "conveyor_jobs_expiry" in plan, plan
