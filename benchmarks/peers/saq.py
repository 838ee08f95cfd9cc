"""saq: async; one Redis list per queue, a job record per job, BLMOVE to dequeue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from saq import Queue, Worker

from benchmarks import completions
from benchmarks.peers.harness import Peer

FUNCTION = "record"


async def record(ctx: dict[str, Any], *, index: int, sent: float) -> None:
    completions.record(index, sent)


class Producer:
    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    async def enqueue(self, index: int, sent: float) -> None:
        await self.queue.enqueue(FUNCTION, index=index, sent=sent)

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        raise NotImplementedError


@asynccontextmanager
async def producer(url: str) -> AsyncIterator[Producer]:
    queue = Queue.from_url(url)
    await queue.connect()
    try:
        yield Producer(queue)
    finally:
        await queue.disconnect()


def work(url: str, concurrency: int) -> None:
    async def run() -> None:
        queue = Queue.from_url(url)
        await queue.connect()
        worker = Worker(queue, functions=[(FUNCTION, record)], concurrency=concurrency)
        await worker.start()  # its own signal handlers: SIGTERM stops it
        await queue.disconnect()

    asyncio.run(run())


def settings(concurrency: int) -> list[str]:
    return [
        f"`Worker(queue, concurrency={concurrency})`, other options at their defaults",
        "acknowledges after the job runs; no bulk enqueue API (`map` waits for results)",
    ]


PEER = Peer(distributions=("saq", "redis"), settings=settings, producer=producer, work=work)
