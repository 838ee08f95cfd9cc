"""A fresh store per backend, and how each keeps its per-minute outcome counters.

SQLite in a file of a temporary folder; Redis on a private `redis-server` on a free port,
persistence off; PostgreSQL in a new database of the server at $CONVEYOR_BENCH_POSTGRES
(default postgresql://postgres@127.0.0.1:5432/postgres), dropped afterwards.

`backfill` writes outcome counters for minutes gone by, which no ack can (the backends
stamp them with their own clock): each in the layout its backend's ack writes, which
`fill` checks by reading them back through `outcome_counts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import secrets
import sqlite3
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import psycopg
from psycopg import sql

from benchmarks.dashboard.fill import Backfill, OutcomeRow
from benchmarks.machine import filesystem
from benchmarks.redis_bench.server import RedisServer
from conveyor.backends.base import OUTCOME_RETENTION
from conveyor.backends.redis_lua import DEFAULT_PREFIX

BACKENDS = ("sqlite", "redis", "postgres")
POSTGRES_URL = os.environ.get(
    "CONVEYOR_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def _nothing() -> None:
    return None


@dataclasses.dataclass(frozen=True, slots=True)
class Store:
    backend: str  # one of BACKENDS
    url: str
    server: str  # what holds it, for the report
    backfill: Backfill
    # after the load, before timing: what the store would have done by itself since
    settle: Callable[[], Awaitable[None]] = _nothing


@contextlib.asynccontextmanager
async def open_store(backend: str, folder: Path) -> AsyncIterator[Store]:
    if backend == "sqlite":
        yield _sqlite(folder)
    elif backend == "redis":
        async with _redis(folder) as store:
            yield store
    elif backend == "postgres":
        async with _postgres() as store:
            yield store
    else:
        raise ValueError(f"no backend named {backend!r}: {', '.join(BACKENDS)}")


def _sqlite(folder: Path) -> Store:
    path = folder / "dashboard.db"

    def write(rows: list[OutcomeRow]) -> None:
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn, conn:
            conn.executemany(
                "INSERT INTO conveyor_outcomes (minute, queue, task, outcome, jobs) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (minute, queue, task, outcome) "
                "DO UPDATE SET jobs = jobs + excluded.jobs",
                rows,
            )

    async def backfill(rows: list[OutcomeRow]) -> None:
        await asyncio.to_thread(write, rows)

    server = f"SQLite {sqlite3.sqlite_version}, a file on {filesystem(folder)}"
    return Store("sqlite", f"sqlite:///{path}", server, backfill)


@contextlib.asynccontextmanager
async def _redis(folder: Path) -> AsyncIterator[Store]:
    server = RedisServer(folder)
    try:

        def write(rows: list[OutcomeRow]) -> None:
            pipe = server.client.pipeline(transaction=False)
            for minute, queue, task, outcome, count in rows:
                hour = int(minute) - int(minute) % 3600
                key = f"{DEFAULT_PREFIX}:{{{queue}}}:outcomes:{hour}"
                pipe.hincrby(key, f"{int(minute)} {outcome} {task}", count)
                pipe.expireat(key, hour + 3600 + int(OUTCOME_RETENTION))
            pipe.execute()

        async def backfill(rows: list[OutcomeRow]) -> None:
            await asyncio.to_thread(write, rows)

        described = f"Redis {server.version()}, private, persistence off"
        yield Store("redis", server.url, described, backfill)
    finally:
        server.close()


@contextlib.asynccontextmanager
async def _postgres() -> AsyncIterator[Store]:
    name = f"conveyor_dashboard_{secrets.token_hex(4)}"
    async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as admin:
        version = await (await admin.execute("SHOW server_version")).fetchone()
        await admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urllib.parse.urlunsplit(urllib.parse.urlsplit(POSTGRES_URL)._replace(path=f"/{name}"))

    async def backfill(rows: list[OutcomeRow]) -> None:
        async with await psycopg.AsyncConnection.connect(url) as conn, conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO conveyor_outcomes AS o (minute, queue, task, outcome, count) "
                "VALUES (to_timestamp(%s), %s, %s, %s, %s) "
                "ON CONFLICT (minute, queue, task, outcome) DO UPDATE "
                "SET count = o.count + excluded.count",
                rows,
            )

    async def settle() -> None:
        """Statistics on the loaded tables, as autovacuum keeps them on a store that grew
        over weeks (a bulk load outruns it)."""
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute("VACUUM ANALYZE")

    server = (
        f"PostgreSQL {version[0] if version else '?'}, a new database, VACUUM ANALYZE after "
        "the load"
    )
    try:
        yield Store("postgres", url, server, backfill, settle)
    finally:
        async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as admin:
            await admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
