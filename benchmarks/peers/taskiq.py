"""taskiq with taskiq-redis's stream broker: XREADGROUP in batches, one XACK per job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Annotated, Any

from redis.asyncio import Redis
from taskiq import TaskiqDepends, TaskiqEvents, TaskiqState
from taskiq.receiver import Receiver
from taskiq_redis import RedisStreamBroker

from benchmarks import completions
from benchmarks.peers.harness import COUNTER, Peer, serve_until_stopped


async def record(index: int, sent: float) -> None:
    completions.record(index, sent)


async def call_then_record(
    index: int, sent: float, state: Annotated[TaskiqState, TaskiqDepends()]
) -> None:
    await state.client.incr(COUNTER)
    completions.record(index, sent)


def make(url: str, one_call: bool = False) -> tuple[RedisStreamBroker, Any]:
    """The broker, and the task the producer sends: a no-op, or one that makes one call."""
    broker = RedisStreamBroker(url)

    async def open_client(state: TaskiqState) -> None:
        state.client = Redis.from_url(url)  # the jobs' own client, apart from the broker's

    async def close_client(state: TaskiqState) -> None:
        await state.client.aclose()

    broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, open_client)
    broker.add_event_handler(TaskiqEvents.WORKER_SHUTDOWN, close_client)
    noop = broker.register_task(record, task_name="bench.record")
    called = broker.register_task(call_then_record, task_name="bench.call_then_record")
    return broker, called if one_call else noop


class Producer:
    def __init__(self, task: Any) -> None:
        self.task = task

    async def enqueue(self, index: int, sent: float) -> None:
        await self.task.kiq(index, sent)

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        raise NotImplementedError


@asynccontextmanager
async def producer(url: str, one_call: bool) -> AsyncIterator[Producer]:
    broker, task = make(url, one_call)
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
        "acknowledges when the result is saved (after the job runs); no bulk enqueue API; "
        "one call: a redis-py client made in a `WORKER_STARTUP` handler, in `TaskiqState`",
    ]


PEER = Peer(
    distributions=("taskiq", "taskiq-redis", "redis"),
    settings=settings,
    producer=producer,
    work=work,
)
