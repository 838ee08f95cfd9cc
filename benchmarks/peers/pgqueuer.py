"""pgqueuer: async, on asyncpg; one queue table, claims by batch, completions buffered."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg
from pgqueuer import Job, Queries, QueueManager
from psycopg_pool import AsyncConnectionPool

from benchmarks import completions
from benchmarks.peers.harness import AUTOCOMMIT, STATEMENT, Peer

ENTRYPOINT, ONE_CALL = "record", "call_then_record"


def payload(index: int, sent: float) -> bytes:
    return f"{index} {sent!r}".encode()


async def record(job: Job) -> None:
    index, sent = (job.payload or b"").split()
    completions.record(int(index), float(sent))


class Producer:
    def __init__(self, queries: Queries, entrypoint: str) -> None:
        self.queries, self.entrypoint = queries, entrypoint

    async def enqueue(self, index: int, sent: float) -> None:
        await self.queries.enqueue(self.entrypoint, payload(index, sent))

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        await self.queries.enqueue(
            [self.entrypoint] * len(jobs), [payload(i, s) for i, s in jobs], [0] * len(jobs)
        )


@asynccontextmanager
async def producer(url: str, one_call: bool) -> AsyncIterator[Producer]:
    connection = await asyncpg.connect(url)
    try:
        queries = Queries.from_asyncpg_connection(connection)
        yield Producer(queries, ONE_CALL if one_call else ENTRYPOINT)
    finally:
        await connection.close()


async def install(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await Queries.from_asyncpg_connection(connection).install()
    finally:
        await connection.close()


def work(url: str, concurrency: int) -> None:
    async def run() -> None:
        connection = await asyncpg.connect(url)
        # the jobs' own pool (psycopg, as the other systems' jobs use), in pgqueuer's resources
        pool = AsyncConnectionPool(url, open=False, kwargs=AUTOCOMMIT)
        await pool.open()
        queries = Queries.from_asyncpg_connection(connection)
        manager = QueueManager(queries, resources={"pool": pool})

        async def call_then_record(job: Job) -> None:
            own: AsyncConnectionPool = manager.get_context(job.id).resources["pool"]
            async with own.connection() as conn:
                await conn.execute(STATEMENT)
            await record(job)

        manager.entrypoint(ENTRYPOINT)(record)
        manager.entrypoint(ONE_CALL)(call_then_record)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, manager.shutdown.set)
        try:
            await manager.run(max_concurrent_tasks=concurrency)
        finally:
            await pool.close()
            await connection.close()

    asyncio.run(run())


def settings(concurrency: int) -> list[str]:
    return [
        f"`QueueManager.run(max_concurrent_tasks={concurrency})` on one asyncpg connection, "
        "other options at their defaults (batch_size 10, completions buffered by 10); "
        "bulk: `Queries.enqueue` with lists",
        "acknowledges after the job runs (a picked job whose heartbeat stops is picked "
        "again after 30 s): at-least-once; one call: a psycopg pool (default size, autocommit) in "
        "`QueueManager(resources=...)`, read through `manager.get_context(job.id)`",
    ]


PEER = Peer(
    distributions=("pgqueuer", "asyncpg", "psycopg", "psycopg-pool"),
    settings=settings,
    producer=producer,
    work=work,
    bulk_api="Queries.enqueue (lists)",
    install=install,
)
