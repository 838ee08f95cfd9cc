"""streaq: async on anyio and coredis; Redis streams and Lua, results kept 5 min."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from streaq import Worker

from benchmarks import completions
from benchmarks.peers.harness import Peer


async def record(index: int, sent: float) -> None:
    completions.record(index, sent)


def make(url: str, concurrency: int = 16) -> tuple[Worker[Any], Any]:
    worker: Worker[Any] = Worker(redis_url=url, concurrency=concurrency)
    return worker, worker.task(name="bench.record")(record)


class Producer:
    def __init__(self, worker: Worker[Any], task: Any) -> None:
        self.worker, self.task = worker, task

    async def enqueue(self, index: int, sent: float) -> None:
        await self.task.enqueue(index, sent)

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        await self.worker.enqueue_many([self.task.enqueue(i, sent) for i, sent in jobs])


@asynccontextmanager
async def producer(url: str) -> AsyncIterator[Producer]:
    worker, task = make(url)
    async with worker:
        yield Producer(worker, task)


def work(url: str, concurrency: int) -> None:
    worker, _ = make(url, concurrency)
    worker.run_sync()  # its own signal handlers: SIGTERM stops it


def settings(concurrency: int) -> list[str]:
    return [
        f"`Worker(concurrency={concurrency})`, other options at their defaults "
        "(pickle serializer, prefetch = concurrency)",
        "acknowledges after the job runs; bulk: `worker.enqueue_many` (one pipeline)",
    ]


PEER = Peer(
    distributions=("streaq", "coredis"),
    settings=settings,
    producer=producer,
    work=work,
    bulk_api="worker.enqueue_many",
)
