"""`purge_expired` also deletes what the dashboard's tables no longer need: outcome counters
older than OUTCOME_RETENTION and workers whose registration ran out."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

from conveyor.backends.base import OUTCOME_RETENTION, WorkerInfo, minute_of
from conveyor.backends.sqlite import SQLiteBackend


async def test_old_outcome_counters_and_expired_workers_are_deleted(store: SQLiteBackend) -> None:
    now = await store.now()
    old, recent = minute_of(now - OUTCOME_RETENTION - 120), minute_of(now - OUTCOME_RETENTION + 120)
    with contextlib.closing(sqlite3.connect(store.path)) as conn, conn:
        conn.executemany(
            "INSERT INTO conveyor_outcomes VALUES (?, 'q', 't', 'succeeded', 1)",
            [(old,), (recent,)],
        )
    await store.register_worker(WorkerInfo("gone", "h", 1, ("q",), 1, now), 0.05)
    await store.register_worker(WorkerInfo("here", "h", 2, ("q",), 1, now), 30.0)
    await asyncio.sleep(0.1)

    await store.purge_expired()

    with contextlib.closing(sqlite3.connect(store.path)) as conn:
        assert conn.execute("SELECT minute FROM conveyor_outcomes").fetchall() == [(recent,)]
        assert conn.execute("SELECT name FROM conveyor_workers").fetchall() == [("here",)]
