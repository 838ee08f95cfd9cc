"""The timed loops: conveyor's single enqueue, and the bare store call of the same size.

Each loop runs in its own event loop, warms up, then times N calls one after another (each
awaited before the next, as a web request awaits its enqueue): wall time and this process's
CPU time (every thread: SQLite's writer thread counts) per call.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable

from conveyor import Conveyor

WARM_UP = 200
# arguments of a typical web request's job: an order, about 300 bytes of JSON
ORDER = {
    "customer": "c-0042",
    "email": "someone@example.com",
    "lines": [{"sku": f"sku-{i}", "quantity": i, "price": "19.90"} for i in range(4)],
    "note": "leave at the door",
}
# the floor on Redis: one round trip of a script that stores its argument under a new key
BARE_SCRIPT = "redis.call('SET', KEYS[1], ARGV[1]) return 1"


@dataclasses.dataclass(frozen=True, slots=True)
class Cost:
    """Microseconds per call."""

    wall: float
    cpu: float


def app_for(url: str) -> Conveyor:
    app = Conveyor(url)

    @app.task(name="bench.order", retries=0)
    async def order(index: int, body: dict[str, object]) -> None:
        return None

    return app


def job_size(url: str) -> int:
    """The bytes of one job as conveyor sends it (the JSON the Redis script gets; the
    arguments elsewhere): what the bare call sends too."""
    record = app_for(url).tasks["bench.order"].s(1, ORDER).record
    if url.startswith("redis"):
        from conveyor.backends import redis as redis_backend

        return len(redis_backend._json(redis_backend._fields(record)))
    return len(record.payload)


async def _timed(n: int, call: Callable[[int], Awaitable[object]]) -> Cost:
    for i in range(WARM_UP):
        await call(-i)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        await call(i)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Cost(wall / n * 1e6, cpu / n * 1e6)


def conveyor(url: str, n: int) -> Cost:
    async def run() -> Cost:
        app = app_for(url)
        task = app.tasks["bench.order"]
        async with app:
            return await _timed(n, lambda i: task.enqueue(i, ORDER))

    return asyncio.run(run())


def bare_redis(url: str, n: int, size: int) -> Cost:
    import redis.asyncio as aioredis

    async def run() -> Cost:
        # no socket timeout: redis-py's own (5 s by default from redis-py 8) starts a task
        # around every command it sends, and the floor is the cheapest call
        client = aioredis.Redis.from_url(url, socket_timeout=None)
        script = client.register_script(BARE_SCRIPT)
        body = b"x" * size
        try:
            return await _timed(n, lambda i: script(keys=[f"bare:{i}"], args=[body]))
        finally:
            await client.aclose()

    return asyncio.run(run())


def bare_postgres(url: str, n: int, size: int) -> Cost:
    import psycopg

    async def run() -> Cost:
        connection = await psycopg.AsyncConnection.connect(url, autocommit=True)
        body = b"x" * size
        try:
            await connection.execute(
                "CREATE TABLE IF NOT EXISTS bare_jobs (id text PRIMARY KEY, payload bytea)"
            )

            async def insert(i: int) -> object:
                return await connection.execute(
                    "INSERT INTO bare_jobs (id, payload) VALUES (%s, %s)",
                    (os.urandom(16).hex(), body),
                )

            return await _timed(n, insert)
        finally:
            await connection.close()

    return asyncio.run(run())


def bare_sqlite(path: str, n: int, size: int) -> Cost:
    """sqlite3 in the event loop's own thread, as conveyor's default file is set up (WAL,
    synchronous=FULL), one commit per INSERT."""

    async def run() -> Cost:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS bare_jobs (id TEXT PRIMARY KEY, payload BLOB)"
        )
        body = b"x" * size

        async def insert(i: int) -> object:
            return connection.execute(
                "INSERT INTO bare_jobs (id, payload) VALUES (?, ?)", (os.urandom(16).hex(), body)
            )

        try:
            return await _timed(n, insert)
        finally:
            connection.close()

    return asyncio.run(run())
