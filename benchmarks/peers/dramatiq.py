"""dramatiq: threads; one Lua dispatch script per broker operation, messages prefetched."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from redis import Redis

from benchmarks import completions
from benchmarks.peers.harness import COUNTER, Peer, stop_on_signal

QUEUE = "bench"


def record(index: int, sent: float) -> None:
    completions.record(index, sent)


def make(url: str, one_call: bool = False) -> tuple[RedisBroker, Any]:
    """The broker, and the actor the producer sends: a no-op, or one that makes one call."""
    broker = RedisBroker(url=url)
    dramatiq.set_broker(broker)
    client = Redis.from_url(url)  # the jobs' own, for the process; thread-safe, lazy

    def call_then_record(index: int, sent: float) -> None:
        client.incr(COUNTER)
        completions.record(index, sent)

    noop = dramatiq.actor(record, actor_name="record", queue_name=QUEUE, broker=broker)
    called = dramatiq.actor(
        call_then_record, actor_name="call_then_record", queue_name=QUEUE, broker=broker
    )
    return broker, called if one_call else noop


class Producer:
    def __init__(self, send: Callable[..., Any]) -> None:
        self.send = send

    async def enqueue(self, index: int, sent: float) -> None:
        self.send(index, sent)  # a blocking call: dramatiq's client is synchronous

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        raise NotImplementedError


@asynccontextmanager
async def producer(url: str, one_call: bool) -> AsyncIterator[Producer]:
    broker, actor = make(url, one_call)
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
        "acknowledges after the job runs; no bulk enqueue API; one call: a sync redis-py "
        "client made with the broker, once per process",
    ]


PEER = Peer(distributions=("dramatiq", "redis"), settings=settings, producer=producer, work=work)
