"""taskiq with taskiq-redis's stream broker: XREADGROUP in batches, one XACK per job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from taskiq.receiver import Receiver
from taskiq_redis import RedisStreamBroker

from benchmarks import completions
from benchmarks.peers.harness import Peer, serve_until_stopped


async def record(index: int, sent: float) -> None:
    completions.record(index, sent)


def make(url: str) -> tuple[RedisStreamBroker, Any]:
    broker = RedisStreamBroker(url)
    return broker, broker.register_task(record, task_name="bench.record")


class Producer:
    def __init__(self, task: Any) -> None:
        self.task = task

    async def enqueue(self, index: int, sent: float) -> None:
        await self.task.kiq(index, sent)

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        raise NotImplementedError


@asynccontextmanager
async def producer(url: str) -> AsyncIterator[Producer]:
    broker, task = make(url)
    await broker.startup()  # creates the consumer group, so jobs queued before a worker count
    try:
        yield Producer(task)
    finally:
        await broker.shutdown()


def work(url: str, concurrency: int) -> None:
    async def run(stop: asyncio.Event) -> None:
        broker, _ = make(url)
        broker.is_worker_process = True
        await broker.startup()
        with ThreadPoolExecutor() as executor:
            receiver = Receiver(
                broker, executor=executor, max_async_tasks=concurrency, run_startup=False
            )
            await receiver.listen(stop)
        await broker.shutdown()

    serve_until_stopped(run)


def settings(concurrency: int) -> list[str]:
    return [
        f"`RedisStreamBroker`, one `Receiver(max_async_tasks={concurrency})` in-process "
        "(what `taskiq worker --workers 1` runs), other options at their defaults",
        "acknowledges when the result is saved (after the job runs); no bulk enqueue API",
    ]


PEER = Peer(
    distributions=("taskiq", "taskiq-redis", "redis"),
    settings=settings,
    producer=producer,
    work=work,
)
