"""pgqueuer: async, on asyncpg; one queue table, claims by batch, completions buffered."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg
from pgqueuer import Job, Queries, QueueManager

from benchmarks import completions
from benchmarks.peers.harness import Peer

ENTRYPOINT = "record"


def payload(index: int, sent: float) -> bytes:
    return f"{index} {sent!r}".encode()


async def record(job: Job) -> None:
    index, sent = (job.payload or b"").split()
    completions.record(int(index), float(sent))


class Producer:
    def __init__(self, queries: Queries) -> None:
        self.queries = queries

    async def enqueue(self, index: int, sent: float) -> None:
        await self.queries.enqueue(ENTRYPOINT, payload(index, sent))

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        await self.queries.enqueue(
            [ENTRYPOINT] * len(jobs), [payload(i, s) for i, s in jobs], [0] * len(jobs)
        )


@asynccontextmanager
async def producer(url: str) -> AsyncIterator[Producer]:
    connection = await asyncpg.connect(url)
    try:
        yield Producer(Queries.from_asyncpg_connection(connection))
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
        manager = QueueManager(Queries.from_asyncpg_connection(connection))
        manager.entrypoint(ENTRYPOINT)(record)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, manager.shutdown.set)
        try:
            await manager.run(max_concurrent_tasks=concurrency)
        finally:
            await connection.close()

    asyncio.run(run())


def settings(concurrency: int) -> list[str]:
    return [
        f"`QueueManager.run(max_concurrent_tasks={concurrency})` on one asyncpg connection, "
        "other options at their defaults (batch_size 10, completions buffered by 10); "
        "bulk: `Queries.enqueue` with lists",
        "acknowledges after the job runs (a picked job whose heartbeat stops is picked "
        "again after 30 s): at-least-once",
    ]


PEER = Peer(
    distributions=("pgqueuer", "asyncpg"),
    settings=settings,
    producer=producer,
    work=work,
    bulk_api="Queries.enqueue (lists)",
    install=install,
)
