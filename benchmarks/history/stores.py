"""The stores of the curve, per backend: the one that grows, and a fresh empty one beside it
at each point, on the same server, measured in turn with it (a shared machine's load then
weighs on both figures of a ratio alike).

SQLite and Redis as the dashboard benchmark opens them (files in a temporary folder; a
private redis-server, persistence off, the empty store in its database 1); PostgreSQL in a
private cluster at the server's defaults, autovacuum included: what a store that kept months
of history has had working on it, and what decides whether claims slow as jobs pile up.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TypeVar

import psycopg
import redis
from psycopg import sql

from benchmarks.dashboard.stores import open_store as dashboard_store
from benchmarks.machine import filesystem
from benchmarks.postgres_bench.cluster import Cluster
from benchmarks.progress import Progress

BACKENDS = ("sqlite", "redis", "postgres")


Curve = TypeVar("Curve")


async def each_backend(
    backends: Sequence[str],
    measure: Callable[[str, Path], Awaitable[Curve]],
    failed: Callable[[str, str], Curve],
    progress: Progress,
) -> list[Curve]:
    """`measure(backend, folder)` of each backend in turn, in a temporary folder of its own;
    one that fails gets `failed(backend, why)` in the report, and the next one still runs."""
    # the private Redis keeps no append-only file on purpose: no warning per new app
    logging.getLogger("conveyor.redis").setLevel(logging.ERROR)
    curves = []
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="bench-") as folder:
            try:
                curve = await measure(backend, Path(folder))
            except Exception as exc:
                problem = f"not measured: {type(exc).__name__}: {exc}"[:500]
                progress.say(f"  {backend}: {problem}")
                curve = failed(backend, problem)
            curves.append(curve)
    return curves


@dataclasses.dataclass(frozen=True, slots=True)
class Store:
    url: str
    server: str  # what holds it, for the report
    empty: Callable[[], AbstractAsyncContextManager[str]]  # the URL of a new empty store


@contextlib.asynccontextmanager
async def open_store(backend: str, folder: Path) -> AsyncIterator[Store]:
    if backend == "postgres":
        async with _postgres() as store:
            yield store
        return
    async with dashboard_store(backend, folder) as opened:
        numbers = itertools.count()

        @contextlib.asynccontextmanager
        async def empty() -> AsyncIterator[str]:
            if backend == "sqlite":
                yield f"sqlite:///{folder}/empty-{next(numbers)}.db"
                return
            url = opened.url.rsplit("/", 1)[0] + "/1"
            await asyncio.to_thread(_flush, url)
            yield url

        yield Store(opened.url, opened.server, empty)


def _flush(url: str) -> None:
    with redis.Redis.from_url(url) as client:
        client.flushdb()


@contextlib.asynccontextmanager
async def _postgres() -> AsyncIterator[Store]:
    cluster = await asyncio.to_thread(Cluster)
    try:
        await asyncio.to_thread(cluster.start)
        url = cluster.url("postgres")
        async with await psycopg.AsyncConnection.connect(url) as conn:
            cursor = await conn.execute(
                "SELECT current_setting('server_version'), current_setting('autovacuum')"
            )
            version, autovacuum = await cursor.fetchone() or ("?", "?")
        numbers = itertools.count()

        @contextlib.asynccontextmanager
        async def empty() -> AsyncIterator[str]:
            database = f"empty_{next(numbers)}"
            name = sql.Identifier(database)
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as admin:
                await admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
                try:
                    yield cluster.url(database)
                finally:
                    await admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(name))

        described = (
            f"PostgreSQL {version}, a private cluster at the server's defaults (autovacuum "
            f"{autovacuum}, fsync on), data on {filesystem(cluster.directory)}"
        )
        yield Store(url, described, empty)
    finally:
        await asyncio.to_thread(cluster.close)
