"""Helpers of the SQLite backend's tests: what a connection ran, and stores filled fast."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence

from conveyor.backends.sqlite import SQLiteBackend

FINISHED_ROWS = (
    "SELECT queue, state, count(*) FROM conveyor_jobs "
    "WHERE state IN ('succeeded', 'failed', 'cancelled') GROUP BY queue, state"
)


class Recorder:
    """The statements a backend's connections ran inside `recording()` (their parameters
    written in), and how much work SQLite's virtual machine did, in steps of STEP
    instructions."""

    STEP = 100

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.steps = 0
        self.on = False

    def attach(self, conn: sqlite3.Connection) -> None:
        conn.set_trace_callback(self._ran)
        conn.set_progress_handler(self._stepped, self.STEP)

    def _ran(self, statement: str) -> None:
        if self.on:
            self.statements.append(statement)

    def _stepped(self) -> int:
        if self.on:
            self.steps += 1
        return 0  # go on

    @contextlib.contextmanager
    def recording(self) -> Iterator[Recorder]:
        """Record what runs inside, and only that."""
        self.statements.clear()
        self.steps = 0
        self.on = True
        try:
            yield self
        finally:
            self.on = False


def plan(store: SQLiteBackend, statement: str) -> list[str]:
    """SQLite's plan for a statement as it ran (its values written in), one line a step."""
    with contextlib.closing(sqlite3.connect(store.path)) as conn:
        return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}")]


def add_finished(
    store: SQLiteBackend, jobs: Sequence[tuple[str, str, str, str]], first_at: float = 1000.0
) -> None:
    """Store finished jobs of (id, queue, task, state), oldest first, as fast as SQLite can:
    straight into the table, counted as the backend counts them."""
    with contextlib.closing(sqlite3.connect(store.path)) as conn, conn:
        conn.executemany(
            "INSERT INTO conveyor_jobs (id, task, queue, state, payload, enqueued_at, due_at, "
            "finished_at) VALUES (?, ?, ?, ?, x'', ?, ?, ?)",
            [
                (job_id, task, queue, state, first_at + i, first_at + i, first_at + i)
                for i, (job_id, queue, task, state) in enumerate(jobs)
            ],
        )
        conn.execute("DELETE FROM conveyor_finished")
        conn.execute(f"INSERT INTO conveyor_finished {FINISHED_ROWS}")
