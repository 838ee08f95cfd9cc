"""The schema: versioned migrations, safe to repeat and to race; indexes that keep claims
fast however many finished jobs the table holds; purges in short batches; finished jobs
counted as they move, from an upgrade on."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import psycopg
import pytest

from conveyor.backends import postgres_schema
from conveyor.backends.base import JobFilter
from conveyor.backends.postgres import BATCH, PostgresBackend
from conveyor.backends.postgres_schema import SCHEMA_VERSION
from conveyor.errors import ConfigurationError
from conveyor.job import JobRecord, JobState

INDEXES = {
    "conveyor_jobs_pkey", "conveyor_jobs_id_key", "conveyor_jobs_pending",
    "conveyor_jobs_scheduled", "conveyor_jobs_leases", "conveyor_jobs_expiry",
    "conveyor_jobs_state", "conveyor_jobs_unique", "conveyor_jobs_limits",
    "conveyor_jobs_finished", "conveyor_jobs_finished_queue", "conveyor_jobs_finished_task",
}  # fmt: skip
TABLES = {
    "conveyor_migrations", "conveyor_jobs", "conveyor_rates", "conveyor_counts",
    "conveyor_outcomes", "conveyor_workers", "conveyor_paused",
}  # fmt: skip


def applied(conninfo: str, schema: str) -> list[int]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            f'SELECT version FROM "{schema}".conveyor_migrations ORDER BY version'.encode()
        ).fetchall()
    return [row[0] for row in rows]


def indexes(conninfo: str, schema: str) -> set[str]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
            (schema, "conveyor_jobs"),
        ).fetchall()
    return {row[0] for row in rows}


def tables(conninfo: str, schema: str) -> set[str]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
        return {row[0] for row in rows.fetchall()}


def insert_finished(
    conn: psycopg.Connection[Any], jobs: str, prefix: str, state: str, count: int, expired: bool
) -> None:
    """`count` finished jobs written by hand, and counted as conveyor's statements count the
    jobs they finish (counts() reads the counts, not the jobs)."""
    conn.execute(
        f"INSERT INTO {jobs} (id, task, queue, state, payload, enqueued_at, due_at, "
        "finished_at, expires_at) SELECT %s || n, 'tasks.work', 'default', %s, '', now(), "
        "now(), now(), CASE WHEN %s THEN now() - interval '1 second' END "
        "FROM generate_series(1, %s) AS n".encode(),
        (prefix, state, expired, count),
    )
    counts = jobs.replace("conveyor_jobs", "conveyor_counts")
    conn.execute(f"INSERT INTO {counts} VALUES ('default', %s, %s)".encode(), (state, count))


async def test_migrate_creates_the_schema_once_and_then_has_nothing_to_do(
    pg_url: str, conninfo: str, schema: str
) -> None:
    backend = PostgresBackend(pg_url)

    assert await backend.migrate() == (0, SCHEMA_VERSION)
    assert await backend.migrate() == (SCHEMA_VERSION, SCHEMA_VERSION)

    assert applied(conninfo, schema) == list(range(1, SCHEMA_VERSION + 1))
    assert indexes(conninfo, schema) == INDEXES
    assert tables(conninfo, schema) == TABLES


def test_migrations_racing_from_several_processes_apply_once(
    pg_url: str, conninfo: str, schema: str
) -> None:
    argv = [sys.executable, "-m", "conveyor", "db", "migrate", "--url", pg_url]
    racers = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(4)
    ]
    outputs = [racer.communicate(timeout=60)[0].decode() for racer in racers]

    assert [racer.returncode for racer in racers] == [0] * 4, outputs
    assert sum("migrated from version 0" in out for out in outputs) == 1, outputs
    assert sum("up to date" in out for out in outputs) == 3, outputs
    assert applied(conninfo, schema) == list(range(1, SCHEMA_VERSION + 1))


async def test_a_schema_from_a_newer_release_is_refused(
    pg_url: str, conninfo: str, schema: str
) -> None:
    await PostgresBackend(pg_url).migrate()
    with psycopg.connect(conninfo) as conn:
        conn.execute(f'INSERT INTO "{schema}".conveyor_migrations VALUES (99)'.encode())

    with pytest.raises(ConfigurationError, match="newer"):
        await PostgresBackend(pg_url).migrate()


async def test_a_claim_walks_the_pending_index_past_many_finished_jobs(
    backend: PostgresBackend, conninfo: str
) -> None:
    jobs = backend.sql.jobs
    with psycopg.connect(conninfo) as conn:
        conn.execute(
            f"INSERT INTO {jobs} (id, task, queue, state, payload, enqueued_at, due_at, "
            "finished_at) SELECT 'done-' || n, 'tasks.work', 'default', 'succeeded', '', "
            "now(), now(), now() FROM generate_series(1, 200000) AS n".encode()
        )
        conn.execute(f"ANALYZE {jobs}".encode())
    await backend.enqueue([JobRecord(id="next", task="tasks.work", queue="default", payload=b"")])

    with psycopg.ClientCursor(psycopg.connect(conninfo)) as cursor:
        params = {
            "queues": ["default"], "weights": [1], "probed": 10, "limit": 10, "depth": 10,
            "worker": "w", "token": "t", "lease": 30.0, "events": backend.sql.events_channel,
        }  # fmt: skip
        cursor.execute(b"EXPLAIN " + backend.sql.claim, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.connection.close()

    assert "conveyor_jobs_pending" in plan, plan
    assert "Seq Scan" not in plan, plan
    claimed = await backend.claim(["default"], 10, "w", 30.0)
    assert [r.id for r in claimed] == ["next"]


async def test_purges_delete_past_one_batch(backend: PostgresBackend, conninfo: str) -> None:
    jobs, count = backend.sql.jobs, BATCH * 2 + 10
    with psycopg.connect(conninfo) as conn:
        insert_finished(conn, jobs, "old-", "succeeded", count, expired=True)
        insert_finished(conn, jobs, "dead-", "failed", count, expired=False)
    assert await backend.counts() == {"default": {JobState.FAILED: count}}

    assert await backend.purge_expired() == count
    assert await backend.purge_expired() == 0
    assert await backend.purge({JobState.FAILED}) == count
    assert await backend.counts() == {}  # every batch took its jobs off the counts


async def store_of_version(
    version: int, pg_url: str, conninfo: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store as schema `version` made it, holding one queued job, 'old'."""
    with monkeypatch.context() as patch:
        patch.setattr(postgres_schema, "MIGRATIONS", postgres_schema.MIGRATIONS[:version])
        patch.setattr(postgres_schema, "SCHEMA_VERSION", version)
        assert await PostgresBackend(pg_url).migrate() == (0, version)
    with psycopg.connect(conninfo) as conn:
        conn.execute(
            f'INSERT INTO "{schema}".conveyor_jobs (id, task, queue, state, payload, '
            "enqueued_at, due_at) VALUES ('old', 'tasks.work', 'default', 'queued', '', "
            "now(), now())".encode()
        )


async def test_an_upgrade_keeps_the_jobs_stored_before_it(
    pg_url: str, conninfo: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a store made by the release before unique keys
    await store_of_version(1, pg_url, conninfo, schema, monkeypatch)

    backend = PostgresBackend(pg_url)
    assert await backend.migrate() == (1, SCHEMA_VERSION)
    await backend.open()
    try:
        old = await backend.get("old")
        [claimed] = await backend.claim(["default"], 10, "w", 30.0)
    finally:
        await backend.close()

    assert old is not None
    assert (old.state, old.unique_key, old.unique_until, old.unique_for) == (
        JobState.QUEUED, None, None, None,
    )  # fmt: skip
    assert claimed.id == "old"


async def test_an_upgrade_from_version_2_adds_limits(
    pg_url: str, conninfo: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a store made by the release before limits
    await store_of_version(2, pg_url, conninfo, schema, monkeypatch)

    backend = PostgresBackend(pg_url)
    assert await backend.migrate() == (2, SCHEMA_VERSION)
    await backend.open()
    try:
        limited = JobRecord(
            id="new", task="tasks.work", queue="default", payload=b"", limit_key="k", limit=1,
            rate_key="r", rate_limit=1, rate_period=60.0,
        )  # fmt: skip
        await backend.enqueue([limited])
        claimed = await backend.claim(["default"], 10, "w", 30.0)
    finally:
        await backend.close()

    assert [(r.id, r.limit_key, r.rate_key) for r in claimed] == [
        ("old", None, None), ("new", "k", "r"),
    ]  # fmt: skip
    assert indexes(conninfo, schema) == INDEXES


async def test_the_backlog_is_read_from_indexes_alone(
    pg_url: str, conninfo: str, schema: str
) -> None:
    backend = PostgresBackend(pg_url)
    await backend.open()
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(
                f"INSERT INTO {backend.sql.jobs} (id, task, queue, state, payload, "
                "enqueued_at, due_at, finished_at) SELECT 'done-' || n, 'tasks.work', 'default', "
                "'succeeded', '', now(), now(), now() FROM generate_series(1, 50000) AS n".encode()
            )
            conn.execute(
                f"INSERT INTO {backend.sql.jobs} (id, task, queue, state, payload, "
                "enqueued_at, due_at) VALUES ('waiting', 'tasks.work', 'default', 'queued', '', "
                "now(), now())".encode()
            )
            conn.execute(f"VACUUM ANALYZE {backend.sql.jobs}".encode())
            plan = "\n".join(row[0] for row in conn.execute(b"EXPLAIN " + backend.sql.backlog))
        backlog = await backend.backlog()
    finally:
        await backend.close()

    assert backlog["default"].queued == 1
    # finished jobs are never read: the state index holds them apart, the pending index
    # holds none of them
    assert "Index Only Scan using conveyor_jobs_state" in plan, plan
    assert "Index Only Scan using conveyor_jobs_pending" in plan, plan
    assert "Seq Scan" not in plan, plan


async def test_an_upgrade_from_version_4_keeps_every_job_and_counts_the_finished_ones(
    pg_url: str, conninfo: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a store made by the release before the dashboard, with finished jobs of every kind
    await store_of_version(4, pg_url, conninfo, schema, monkeypatch)
    with psycopg.connect(conninfo) as conn:
        conn.execute(
            f'INSERT INTO "{schema}".conveyor_jobs (id, task, queue, state, payload, '
            "enqueued_at, due_at, finished_at) SELECT s || '-' || n, 'tasks.work', q, s, '', "
            "now() - n * interval '1 second', now(), now() "
            "FROM unnest(ARRAY['succeeded', 'failed', 'cancelled'], ARRAY['a', 'b', 'b']) "
            "AS k(s, q), generate_series(1, 3) AS n".encode()
        )

    backend = PostgresBackend(pg_url)
    assert await backend.migrate() == (4, SCHEMA_VERSION)
    await backend.open()
    try:
        listed = await backend.list_jobs(JobFilter(limit=100))
        counts = await backend.counts()
        failed = await backend.list_jobs(JobFilter(state=JobState.FAILED, queue="b"))
        by_prefix = await backend.list_jobs(JobFilter(id_prefix="cancelled-"))
        assert await backend.retry("failed-1") is not None  # takes it off the counts it had
        after_retry = await backend.counts()
        [claimed] = await backend.claim(["default"], 10, "w", 30.0)
    finally:
        await backend.close()

    assert len(listed) == 10
    assert counts == {
        "default": {JobState.QUEUED: 1},
        "a": {JobState.SUCCEEDED: 3},
        "b": {JobState.FAILED: 3, JobState.CANCELLED: 3},
    }
    assert [r.id for r in failed] == ["failed-1", "failed-2", "failed-3"]  # newest first
    assert {r.id for r in by_prefix} == {"cancelled-1", "cancelled-2", "cancelled-3"}
    assert after_retry["b"] == {JobState.QUEUED: 1, JobState.FAILED: 2, JobState.CANCELLED: 3}
    assert claimed.id == "old"
    assert indexes(conninfo, schema) == INDEXES
    assert tables(conninfo, schema) == TABLES
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT collation_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'conveyor_jobs' AND column_name = 'id'",
            (schema,),
        ).fetchone()
    assert row == ("C",)  # ids compare byte by byte: a prefix is a range of the id index
