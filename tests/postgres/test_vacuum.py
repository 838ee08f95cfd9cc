"""Vacuum keeps claims cheap however long the history: the schema's own autovacuum settings.

Every claim leaves its job's old version in the pending index, at the front, where the
next claim starts walking. Only a vacuum takes those entries out, and only if it cleans the
indexes, which a vacuum skips by itself when the dead versions sit on a small share of the
table's pages: exactly the case of a store with a long history and a recent run of claims.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from conveyor.backends.base import Ack, Lease
from conveyor.backends.postgres import PostgresBackend
from conveyor.backends.postgres_schema import SCHEMA_VERSION
from conveyor.job import JobRecord, JobState

from .test_schema import store_of_version

HISTORY = 400_000
CLAIMED = 2_000  # their dead versions sit on under 2% of the table's pages

# the first pending job of a queue, as every claim finds it: a walk of the pending index
FIRST_PENDING = """
EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)
SELECT seq FROM {jobs} WHERE queue = 'default' AND state IN ('queued', 'scheduled')
ORDER BY priority DESC, due_at, seq LIMIT 1
"""


def pages_read(conn: psycopg.Connection[Any], jobs: str) -> int:
    """Buffers the walk to the first pending job touched (index and table)."""
    row = conn.execute(FIRST_PENDING.format(jobs=jobs).encode()).fetchone()
    assert row is not None
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    top = plan[0]["Plan"]
    assert "conveyor_jobs_pending" in json.dumps(plan), plan
    return int(top["Shared Hit Blocks"]) + int(top["Shared Read Blocks"])


async def claim_and_finish(backend: PostgresBackend, count: int) -> None:
    await backend.enqueue(
        [JobRecord(id=f"run-{n}", task="tasks.work", queue="default", payload=b"")
         for n in range(count)]
    )  # fmt: skip
    while claimed := await backend.claim(["default"], 100, "w", 60.0):
        acks = [
            Ack(Lease(job.id, job.lease_token or ""), JobState.SUCCEEDED, b"null",
                task=job.task, queue=job.queue)
            for job in claimed
        ]  # fmt: skip
        assert all(await backend.ack(acks))


async def walks_around_a_vacuum(backend: PostgresBackend, conninfo: str) -> tuple[int, int]:
    """A long history, then a run of claims: the pages the walk to the next pending job
    reads before a vacuum and after it."""
    jobs = backend.sql.jobs
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            f"INSERT INTO {jobs} (id, task, queue, state, payload, enqueued_at, due_at, "
            "finished_at) SELECT 'done-' || n, 'tasks.work', 'default', 'succeeded', '', "
            f"now(), now(), now() FROM generate_series(1, {HISTORY}) AS n".encode()
        )
        conn.execute(f"VACUUM ANALYZE {jobs}".encode())
    await claim_and_finish(backend, CLAIMED)
    await backend.enqueue([JobRecord(id="next", task="tasks.work", queue="default", payload=b"")])
    with psycopg.connect(conninfo, autocommit=True) as conn:
        before = pages_read(conn, jobs)
        conn.execute(f"VACUUM {jobs}".encode())  # as autovacuum runs it: the table's settings
        return before, pages_read(conn, jobs)


async def test_a_vacuum_takes_claimed_jobs_out_of_the_pending_index_under_a_long_history(
    backend: PostgresBackend, conninfo: str
) -> None:
    before, after = await walks_around_a_vacuum(backend, conninfo)

    assert before > 10  # the claimed jobs' entries were walked past
    assert after * 3 <= before, (before, after)  # and the vacuum took them out
    [claimed] = await backend.claim(["default"], 10, "w", 30.0)
    assert claimed.id == "next"


async def test_a_store_upgraded_from_version_6_vacuums_the_same_way(
    pg_url: str, conninfo: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store_of_version(6, pg_url, conninfo, schema, monkeypatch)  # holding job "old"
    backend = PostgresBackend(pg_url)
    assert await backend.migrate() == (6, SCHEMA_VERSION)
    await backend.open()
    try:
        [old] = await backend.claim(["default"], 10, "w", 30.0)
        before, after = await walks_around_a_vacuum(backend, conninfo)
    finally:
        await backend.close()

    assert old.id == "old"
    assert before > 10
    assert after * 3 <= before, (before, after)
