"""A store made by a release before the dashboard (schema 1 to 4) is upgraded in place: every
job kept, the finished ones counted, and listing, pause, the worker registry and the
outcome counters working on it."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from conveyor.backends.base import Ack, JobFilter, Lease, WorkerInfo
from conveyor.backends.sqlite import SQLiteBackend
from conveyor.backends.sqlite_schema import MIGRATIONS, SCHEMA_VERSION
from conveyor.job import JobState

from .support import FINISHED_ROWS

# (id, queue, state, enqueued_at, expires_at), oldest first: every state, two queues, and a
# finished job whose record expired before the upgrade
OLD_JOBS = [
    ("ok-1", "a", "succeeded", 1.0, None),
    ("ok-2", "b", "succeeded", 2.0, None),
    ("gone", "a", "succeeded", 3.0, 5.0),
    ("dead", "a", "failed", 4.0, None),
    ("stopped", "b", "cancelled", 5.0, None),
    ("running", "a", "active", 6.0, None),
    ("later", "b", "scheduled", 7.0, None),
    ("waiting", "a", "queued", 8.0, None),
]


def old_store(path: Path, version: int) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        for statements in MIGRATIONS[:version]:
            for statement in statements:
                conn.execute(statement)
        conn.executemany(
            "INSERT INTO conveyor_jobs (id, task, queue, state, payload, enqueued_at, due_at, "
            "lease_token, lease_expires_at, expires_at) VALUES (?, 'tasks.work', ?, ?, x'', ?, "
            "CASE WHEN ? = 'later' THEN 1e12 ELSE 1.0 END, 'token', 1e12, ?)",
            [
                (job_id, queue, state, at, job_id, expires)
                for job_id, queue, state, at, expires in OLD_JOBS
            ],
        )
        conn.execute(f"PRAGMA user_version = {version}")


@pytest.mark.parametrize("version", [1, 2, 3, 4])
async def test_an_upgrade_keeps_every_job_and_counts_the_finished_ones(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / "jobs.db"
    old_store(path, version)

    backend = SQLiteBackend(f"sqlite:///{path}")
    await backend.open()
    try:
        listed = await backend.list_jobs(JobFilter(limit=100))
        failed = await backend.page_jobs(JobFilter(state=JobState.FAILED, limit=1))
        first = await backend.page_jobs(JobFilter(limit=3))
        assert first.next_cursor is not None
        rest = await backend.page_jobs(JobFilter(limit=100, cursor=first.next_cursor))
        counts = await backend.counts()
    finally:
        await backend.close()

    kept = [job_id for job_id, *_ in reversed(OLD_JOBS) if job_id != "gone"]
    assert [record.id for record in listed] == kept
    assert [record.id for record in first.jobs + rest.jobs] == kept
    assert [record.id for record in failed.jobs] == ["dead"]
    A, S, Q = JobState.ACTIVE, JobState.SCHEDULED, JobState.QUEUED
    OK, FAILED, CANCELLED = JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED
    assert counts == {"a": {OK: 1, FAILED: 1, A: 1, Q: 1}, "b": {OK: 1, CANCELLED: 1, S: 1}}
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        # the counters hold every stored finished job: the expired one until it is purged
        stored = conn.execute(FINISHED_ROWS).fetchall()
        assert sorted(conn.execute("SELECT * FROM conveyor_finished")) == sorted(stored)
        columns = [row[2] for row in conn.execute("PRAGMA index_info(conveyor_jobs_state)")]
        assert columns == ["state", "queue", "enqueued_at"]


async def test_what_the_dashboard_needs_works_on_an_upgraded_store(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    old_store(path, 4)

    backend = SQLiteBackend(f"sqlite:///{path}")
    await backend.open()
    try:
        started = await backend.now()
        await backend.pause_queue("b")
        await backend.register_worker(WorkerInfo("w", "host", 1, ("a",), 2, started), 30.0)
        ack = Ack(Lease("running", "token"), JobState.SUCCEEDED, task="tasks.work", queue="a")
        assert await backend.ack([ack]) == [True]
        paused = await backend.paused_queues()
        workers = [worker.name for worker in await backend.workers()]
        outcomes = [
            (c.queue, c.task, c.outcome, c.count) for c in await backend.outcome_counts(0.0)
        ]
        counts = await backend.counts()
    finally:
        await backend.close()

    assert paused == frozenset({"b"})
    assert workers == ["w"]
    assert outcomes == [("a", "tasks.work", "succeeded", 1)]
    assert counts["a"] == {JobState.SUCCEEDED: 2, JobState.FAILED: 1, JobState.QUEUED: 1}
