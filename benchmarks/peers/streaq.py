"""streaq: async on anyio and coredis; Redis streams and Lua, results kept 5 min."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from streaq import Worker

from benchmarks import completions
from benchmarks.peers.harness import COUNTER, Peer


async def record(index: int, sent: float) -> None:
    completions.record(index, sent)


def lifespan(url: str) -> Callable[[], AbstractAsyncContextManager[Redis]]:
    @asynccontextmanager
    async def client() -> AsyncIterator[Redis]:  # the jobs' own, apart from streaq's coredis
        async with Redis.from_url(url) as redis:
            yield redis

    return client


def make(url: str, concurrency: int = 16) -> tuple[Worker[Redis], Any, Any]:
    """The worker, its no-op task and a task that makes one call first."""
    worker: Worker[Redis] = Worker(redis_url=url, concurrency=concurrency, lifespan=lifespan(url))

    async def call_then_record(index: int, sent: float) -> None:
        await worker.context.incr(COUNTER)
        completions.record(index, sent)

    noop = worker.task(name="bench.record")(record)
    return worker, noop, worker.task(name="bench.call_then_record")(call_then_record)


class Producer:
    def __init__(self, worker: Worker[Redis], task: Any) -> None:
        self.worker, self.task = worker, task

    async def enqueue(self, index: int, sent: float) -> None:
        await self.task.enqueue(index, sent)

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        await self.worker.enqueue_many([self.task.enqueue(i, sent) for i, sent in jobs])


@asynccontextmanager
async def producer(url: str, one_call: bool) -> AsyncIterator[Producer]:
    worker, noop, called = make(url)
    async with worker:
        yield Producer(worker, called if one_call else noop)


def work(url: str, concurrency: int) -> None:
    worker, _, _ = make(url, concurrency)
    worker.run_sync()  # its own signal handlers: SIGTERM stops it


def settings(concurrency: int) -> list[str]:
    return [
        f"`Worker(concurrency={concurrency})`, other options at their defaults "
        "(pickle serializer, prefetch = concurrency)",
        "acknowledges after the job runs; bulk: `worker.enqueue_many` (one pipeline); one "
        "call: a redis-py client made in the worker's `lifespan`, read as `worker.context`",
    ]


PEER = Peer(
    distributions=("streaq", "coredis", "redis"),
    settings=settings,
    producer=producer,
    work=work,
    bulk_api="worker.enqueue_many",
)
