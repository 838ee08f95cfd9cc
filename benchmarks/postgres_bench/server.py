"""The private cluster as the benchmark's server: a new database per cell, and what it did.

Each system installs its schema once into a fresh database, kept as a template; each cell then
runs in a new database copied from it, so every cell starts from the same empty queue and its
counters start at zero. What a cell cost is read from the cell's database only, never from
the harness's own (`postgres`):

- statements: pg_stat_statements (what clients sent, BEGIN and COMMIT included), else none;
- commits and rows written: pg_stat_database, which a session reports when it ends (`settle`
  waits for the cell's sessions to end before the last snapshot);
- WAL bytes: the whole cluster's, from `pg_current_wal_lsn()`;
- server CPU: the postmaster, its live children and the children it has reaped, from /proc.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psutil
import psycopg
from psycopg import sql

from benchmarks.postgres_bench.cluster import Cluster
from benchmarks.versus.costs import Snapshot

CELL = "bench"  # the database every cell runs in
LABEL = 72  # characters of a statement's text kept as its name
COMMENT = re.compile(r"--[^\n]*")

STATEMENTS = (
    "SELECT query, calls FROM pg_stat_statements WHERE dbid = "
    "(SELECT oid FROM pg_database WHERE datname = %s)"
)
TIMES = (
    "SELECT query, calls, total_exec_time FROM pg_stat_statements WHERE dbid = "
    "(SELECT oid FROM pg_database WHERE datname = %s) ORDER BY total_exec_time DESC LIMIT %s"
)
DATABASE = (
    "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted, "
    "pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') FROM pg_stat_database WHERE datname = %s"
)


class PostgresServer:
    """One cluster; `url` names the cell database, made anew by every `reset`."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.admin = psycopg.connect(cluster.url("postgres"), autocommit=True)
        if cluster.has_statements:
            self.admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        self._templates: set[str] = set()
        self._postmaster = psutil.Process(cluster.postmaster_pid())

    @property
    def url(self) -> str:
        return self.cluster.url(CELL)

    @property
    def counts_statements(self) -> bool:
        return self.cluster.has_statements

    def version(self) -> str:
        row = self.admin.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"

    def reset(self, system: str) -> None:
        """A new cell database: the system's template when it installed one, else empty."""
        template = _template(system) if system in self._templates else "template0"
        self._drop(CELL)
        self.admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(CELL), sql.Identifier(template)
            )
        )

    def installed(self, system: str) -> None:
        """Keep the cell database, with the system's schema in it, as its template."""
        self.settle()
        self._drop(_template(system))
        self.admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(_template(system)), sql.Identifier(CELL)
            )
        )
        self._templates.add(system)

    def settle(self, timeout: float = 10.0) -> None:
        """Wait for the cell's sessions to end: only then are their commits counted."""
        deadline = time.monotonic() + timeout
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
        while time.monotonic() < deadline:
            row = self.admin.execute(query, (CELL,)).fetchone()
            if not row or row[0] == 0:
                break
            time.sleep(0.02)
        time.sleep(0.05)  # a session leaves pg_stat_activity as it flushes its counters

    def snapshot(self) -> Snapshot:
        calls: dict[str, int] = {}
        if self.cluster.has_statements:
            for query, count in self.admin.execute(STATEMENTS, (CELL,)).fetchall():
                name = label(query)
                calls[name] = calls.get(name, 0) + int(count)
        row: Any = self.admin.execute(DATABASE, (CELL,)).fetchone() or (0, 0, 0)
        totals = {"commits": float(row[0]), "rows": float(row[1]), "wal": float(row[2])}
        return Snapshot(calls, self.cpu_seconds(), totals)

    def forget_statements(self) -> None:
        """Start pg_stat_statements' counts afresh (before a profiled drain)."""
        if self.cluster.has_statements:
            self.admin.execute("SELECT pg_stat_statements_reset()")

    def statement_times(self, top: int = 8) -> list[str]:
        """The cell's statements by total execution time: calls, total and mean ms, text."""
        if not self.cluster.has_statements:
            return []
        rows = self.admin.execute(TIMES, (CELL, top)).fetchall()
        return [
            f"{calls:>8,} calls {total:>9,.0f} ms total {total / max(calls, 1):7.3f} ms each  "
            f"{label(query)}"
            for query, calls, total in rows
        ]

    def cpu_seconds(self) -> float:
        """The postmaster's, its reaped children's and its live children's CPU time."""
        times = self._postmaster.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in self._postmaster.children():
            try:
                mine = child.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += mine.user + mine.system
        return total

    def close(self) -> None:
        self.admin.close()

    def _drop(self, database: str) -> None:
        self.admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )


def label(query: str) -> str:
    """A statement's text on one line, comments left out, cut short: its name in the table."""
    text = " ".join(COMMENT.sub(" ", query).split())
    return text if len(text) <= LABEL else text[: LABEL - 1] + "\u2026"


def _template(system: str) -> str:
    return f"bench_{system}"


@contextmanager
def private_postgres() -> Iterator[PostgresServer]:
    cluster = Cluster()
    try:
        cluster.start()
        server = PostgresServer(cluster)
        try:
            yield server
        finally:
            server.close()
    finally:
        cluster.close()
