"""arq: async, one `max_jobs` semaphore per worker; polls the queue every `poll_delay`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker, func

from benchmarks import completions
from benchmarks.peers.harness import Peer

FUNCTION = "record"


async def record(ctx: dict[str, Any], index: int, sent: float) -> None:
    completions.record(index, sent)


class Producer:
    def __init__(self, pool: ArqRedis) -> None:
        self.pool = pool

    async def enqueue(self, index: int, sent: float) -> None:
        await self.pool.enqueue_job(FUNCTION, index, sent)

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        raise NotImplementedError


@asynccontextmanager
async def producer(url: str) -> AsyncIterator[Producer]:
    pool = await create_pool(RedisSettings.from_dsn(url))
    try:
        yield Producer(pool)
    finally:
        await pool.aclose()


def work(url: str, concurrency: int) -> None:
    worker = Worker(
        functions=[func(record, name=FUNCTION)],
        redis_settings=RedisSettings.from_dsn(url),
        max_jobs=concurrency,
    )
    worker.run()  # its own signal handlers: SIGTERM cancels running jobs and stops


def settings(concurrency: int) -> list[str]:
    return [
        f"`Worker(max_jobs={concurrency})`, other options at their defaults: "
        "`poll_delay=0.5` s (an idle worker looks for jobs twice a second), results kept 1 h",
        "acknowledges after the job runs; no bulk enqueue API",
    ]


PEER = Peer(distributions=("arq", "redis"), settings=settings, producer=producer, work=work)
