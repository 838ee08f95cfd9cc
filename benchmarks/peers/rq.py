"""rq: synchronous; its default worker forks a work horse for every job."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from redis import Redis
from rq import Queue, Worker

from benchmarks import completions
from benchmarks.peers.harness import Peer

QUEUE = "bench"


def record(index: int, sent: float) -> None:
    completions.record(index, sent)


class Producer:
    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    async def enqueue(self, index: int, sent: float) -> None:
        self.queue.enqueue(record, index, sent)  # a blocking call: rq is synchronous

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        self.queue.enqueue_many([Queue.prepare_data(record, (i, sent)) for i, sent in jobs])


@asynccontextmanager
async def producer(url: str) -> AsyncIterator[Producer]:
    connection = Redis.from_url(url)
    try:
        yield Producer(Queue(QUEUE, connection=connection))
    finally:
        connection.close()


def work(url: str, concurrency: int) -> None:
    connection = Redis.from_url(url)
    worker = Worker([Queue(QUEUE, connection=connection)], connection=connection)
    worker.work(logging_level="WARNING")  # its own signal handlers: SIGTERM is a warm stop


def settings(concurrency: int) -> list[str]:
    return [
        "`Worker` (the default class, a forked work horse per job), one job at a time: rq "
        f"has no in-process concurrency, so concurrency {concurrency} does not apply",
        "acknowledges after the job runs; bulk: `queue.enqueue_many` (one pipeline)",
    ]


PEER = Peer(
    distributions=("rq", "redis"),
    settings=settings,
    producer=producer,
    work=work,
    bulk_api="queue.enqueue_many",
)
