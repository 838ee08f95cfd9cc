"""An SQLite file made by an older release is upgraded in place, its jobs kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from conveyor.backends.sqlite import BACKLOG, SQLiteBackend
from conveyor.backends.sqlite_schema import MIGRATIONS, SCHEMA_VERSION
from conveyor.job import JobState


async def test_an_upgrade_keeps_the_jobs_stored_before_it(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    with sqlite3.connect(path) as conn:  # a file made by the release before unique keys
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO conveyor_jobs (id, task, queue, state, payload, enqueued_at, due_at) "
            "VALUES ('old', 'tasks.work', 'default', 'queued', x'', 1.0, 1.0)"
        )
        conn.execute("PRAGMA user_version = 1")
    conn.close()

    backend = SQLiteBackend(f"sqlite:///{path}")
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
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    conn.close()


@pytest.mark.parametrize("version", [2, 3])  # before limits; before rate limits
async def test_an_upgrade_adds_limits(tmp_path: Path, version: int) -> None:
    path = tmp_path / "jobs.db"
    with sqlite3.connect(path) as conn:
        for statements in MIGRATIONS[:version]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(
            "INSERT INTO conveyor_jobs (id, task, queue, state, payload, enqueued_at, due_at) "
            "VALUES ('old', 'tasks.work', 'default', 'queued', x'', 1.0, 1.0)"
        )
        conn.execute(f"PRAGMA user_version = {version}")
    conn.close()

    backend = SQLiteBackend(f"sqlite:///{path}")
    await backend.open()
    try:
        [claimed] = await backend.claim(["default"], 10, "w", 30.0)
    finally:
        await backend.close()

    assert (claimed.id, claimed.limit_key, claimed.rate_key) == ("old", None, None)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    conn.close()


async def test_the_backlog_is_read_from_indexes_alone(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    backend = SQLiteBackend(f"sqlite:///{path}")
    await backend.open()
    try:
        with sqlite3.connect(path) as conn:
            conn.execute(
                "INSERT INTO conveyor_jobs (id, task, queue, state, payload, enqueued_at, due_at) "
                "VALUES ('waiting', 'tasks.work', 'default', 'queued', x'', 1.0, 1.0)"
            )
        conn.close()
        backlog = await backend.backlog()
    finally:
        await backend.close()

    assert backlog["default"].queued == 1
    with sqlite3.connect(path) as conn:
        plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {BACKLOG}", (0.0, 0.0))]
    conn.close()
    # finished jobs are never read: the state index holds them apart, and the partial
    # pending index holds none of them
    searches = [step for step in plan if step.startswith(("SEARCH", "SCAN"))]
    assert searches == [
        "SEARCH conveyor_jobs USING COVERING INDEX conveyor_jobs_state (state=?)",
        "SCAN conveyor_jobs USING INDEX conveyor_jobs_pending",
    ], plan
