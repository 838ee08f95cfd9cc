"""arq: async, one `max_jobs` semaphore per worker; polls the queue every `poll_delay`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker, func
from redis.asyncio import Redis

from benchmarks import completions
from benchmarks.peers.harness import COUNTER, Peer

FUNCTION, ONE_CALL = "record", "call_then_record"


async def record(ctx: dict[str, Any], index: int, sent: float) -> None:
    completions.record(index, sent)


async def call_then_record(ctx: dict[str, Any], index: int, sent: float) -> None:
    await ctx["client"].incr(COUNTER)
    completions.record(index, sent)


class Producer:
    def __init__(self, pool: ArqRedis, function: str) -> None:
        self.pool, self.function = pool, function

    async def enqueue(self, index: int, sent: float) -> None:
        await self.pool.enqueue_job(self.function, index, sent)

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        raise NotImplementedError


@asynccontextmanager
async def producer(url: str, one_call: bool) -> AsyncIterator[Producer]:
    pool = await create_pool(RedisSettings.from_dsn(url))
    try:
        yield Producer(pool, ONE_CALL if one_call else FUNCTION)
    finally:
        await pool.aclose()


def work(url: str, concurrency: int) -> None:
    async def open_client(ctx: dict[str, Any]) -> None:
        ctx["client"] = Redis.from_url(url)  # the jobs' own client, apart from arq's pool

    async def close_client(ctx: dict[str, Any]) -> None:
        await ctx["client"].aclose()

    worker = Worker(
        functions=[func(record, name=FUNCTION), func(call_then_record, name=ONE_CALL)],
        redis_settings=RedisSettings.from_dsn(url),
        max_jobs=concurrency,
        on_startup=open_client,
        on_shutdown=close_client,
    )
    worker.run()  # its own signal handlers: SIGTERM cancels running jobs and stops


def settings(concurrency: int) -> list[str]:
    return [
        f"`Worker(max_jobs={concurrency})`, other options at their defaults: "
        "`poll_delay=0.5` s (an idle worker looks for jobs twice a second), results kept 1 h",
        "acknowledges after the job runs; no bulk enqueue API; one call: a redis-py client "
        "made in `on_startup`, in `ctx`",
    ]


PEER = Peer(distributions=("arq", "redis"), settings=settings, producer=producer, work=work)
