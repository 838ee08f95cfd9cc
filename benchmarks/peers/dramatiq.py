"""dramatiq: threads; one Lua dispatch script per broker operation, messages prefetched."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from benchmarks import completions
from benchmarks.peers.harness import Peer, stop_on_signal

QUEUE = "bench"


def record(index: int, sent: float) -> None:
    completions.record(index, sent)


def make(url: str) -> tuple[RedisBroker, Any]:
    broker = RedisBroker(url=url)
    dramatiq.set_broker(broker)
    return broker, dramatiq.actor(record, actor_name="record", queue_name=QUEUE, broker=broker)


class Producer:
    def __init__(self, send: Callable[..., Any]) -> None:
        self.send = send

    async def enqueue(self, index: int, sent: float) -> None:
        self.send(index, sent)  # a blocking call: dramatiq's client is synchronous

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        raise NotImplementedError


@asynccontextmanager
async def producer(url: str) -> AsyncIterator[Producer]:
    broker, actor = make(url)
    try:
        yield Producer(actor.send)
    finally:
        broker.close()


def work(url: str, concurrency: int) -> None:
    broker, _ = make(url)
    worker = dramatiq.Worker(broker, worker_threads=concurrency)
    stopped = threading.Event()
    stop_on_signal(stopped.set)
    worker.start()
    stopped.wait()
    worker.stop()
    broker.close()


def settings(concurrency: int) -> list[str]:
    return [
        f"`Worker(broker, worker_threads={concurrency})` in one process (the nearest "
        "equivalent of async concurrency); default middleware, prefetch 2 per thread",
        "acknowledges after the job runs; no bulk enqueue API",
    ]


PEER = Peer(distributions=("dramatiq", "redis"), settings=settings, producer=producer, work=work)
