"""saq: async; one Redis list per queue, a job record per job, BLMOVE to dequeue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from saq import Queue, Worker

from benchmarks import completions
from benchmarks.peers.harness import COUNTER, Peer

FUNCTION, ONE_CALL = "record", "call_then_record"


async def record(ctx: dict[str, Any], *, index: int, sent: float) -> None:
    completions.record(index, sent)


async def call_then_record(ctx: dict[str, Any], *, index: int, sent: float) -> None:
    await ctx["client"].incr(COUNTER)
    completions.record(index, sent)


class Producer:
    def __init__(self, queue: Queue, function: str) -> None:
        self.queue, self.function = queue, function

    async def enqueue(self, index: int, sent: float) -> None:
        await self.queue.enqueue(self.function, index=index, sent=sent)

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        raise NotImplementedError


@asynccontextmanager
async def producer(url: str, one_call: bool) -> AsyncIterator[Producer]:
    queue = Queue.from_url(url)
    await queue.connect()
    try:
        yield Producer(queue, ONE_CALL if one_call else FUNCTION)
    finally:
        await queue.disconnect()


def work(url: str, concurrency: int) -> None:
    async def open_client(ctx: dict[str, Any]) -> None:
        ctx["client"] = Redis.from_url(url)  # the jobs' own client, apart from saq's

    async def close_client(ctx: dict[str, Any]) -> None:
        await ctx["client"].aclose()

    async def run() -> None:
        queue = Queue.from_url(url)
        await queue.connect()
        worker = Worker(
            queue,
            functions=[(FUNCTION, record), (ONE_CALL, call_then_record)],
            concurrency=concurrency,
            startup=open_client,
            shutdown=close_client,
        )
        await worker.start()  # its own signal handlers: SIGTERM stops it
        await queue.disconnect()

    asyncio.run(run())


def settings(concurrency: int) -> list[str]:
    return [
        f"`Worker(queue, concurrency={concurrency})`, other options at their defaults",
        "acknowledges after the job runs; no bulk enqueue API (`map` waits for results); "
        "one call: a redis-py client made in the worker's `startup` hook, in `ctx`",
    ]


PEER = Peer(distributions=("saq", "redis"), settings=settings, producer=producer, work=work)
