"""rq: synchronous; its default worker forks a work horse for every job."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from redis import Redis
from rq import Queue, Worker, get_current_job

from benchmarks import completions
from benchmarks.peers.harness import COUNTER, Peer

QUEUE = "bench"


def record(index: int, sent: float) -> None:
    completions.record(index, sent)


def call_then_record(index: int, sent: float) -> None:
    # the work horse's own connection: a client made in the worker would not survive the fork
    job = get_current_job()
    assert job is not None
    job.connection.incr(COUNTER)
    completions.record(index, sent)


class Producer:
    def __init__(self, queue: Queue, function: Callable[[int, float], None]) -> None:
        self.queue, self.function = queue, function

    async def enqueue(self, index: int, sent: float) -> None:
        self.queue.enqueue(self.function, index, sent)  # a blocking call: rq is synchronous

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        prepared = [Queue.prepare_data(self.function, (i, sent)) for i, sent in jobs]
        self.queue.enqueue_many(prepared)


@asynccontextmanager
async def producer(url: str, one_call: bool) -> AsyncIterator[Producer]:
    connection = Redis.from_url(url)
    try:
        queue = Queue(QUEUE, connection=connection)
        yield Producer(queue, call_then_record if one_call else record)
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
        "acknowledges after the job runs; bulk: `queue.enqueue_many` (one pipeline); one "
        "call: on the work horse's own connection (`get_current_job().connection`)",
    ]


PEER = Peer(
    distributions=("rq", "redis"),
    settings=settings,
    producer=producer,
    work=work,
    bulk_api="queue.enqueue_many",
)
