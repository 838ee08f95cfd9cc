"""celery with its Redis broker (kombu): one worker process, a thread pool."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from celery import Celery
from redis import Redis

from benchmarks import completions
from benchmarks.peers.harness import COUNTER, Peer

QUEUE = "bench"


def record(index: int, sent: float) -> None:
    completions.record(index, sent)


def make(url: str, one_call: bool = False) -> tuple[Celery, Any]:
    """The app, and the task the producer sends: a no-op, or one that makes one call."""
    app = Celery("bench", broker=url)
    app.conf.update(
        task_default_queue=QUEUE,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
    )
    client = Redis.from_url(url)  # the jobs' own, for the process; thread-safe, lazy

    def call_then_record(index: int, sent: float) -> None:
        client.incr(COUNTER)
        completions.record(index, sent)

    noop = app.task(name="bench.record", ignore_result=True)(record)
    called = app.task(name="bench.call_then_record", ignore_result=True)(call_then_record)
    return app, called if one_call else noop


class Producer:
    def __init__(self, task: Any) -> None:
        self.task = task

    async def enqueue(self, index: int, sent: float) -> None:
        self.task.delay(index, sent)  # a blocking call: celery's client is synchronous

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        raise NotImplementedError


@asynccontextmanager
async def producer(url: str, one_call: bool) -> AsyncIterator[Producer]:
    app, task = make(url, one_call)
    try:
        yield Producer(task)
    finally:
        app.close()


def work(url: str, concurrency: int) -> None:
    app, _ = make(url)
    app.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency}",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )  # its own signal handlers: SIGTERM is a warm shutdown


def settings(concurrency: int) -> list[str]:
    return [
        f"`--pool=threads --concurrency={concurrency}` in one process (prefork would run "
        "one process per slot); gossip, mingle and heartbeat off; no result backend",
        "acknowledges *before* the job runs (celery's default, `acks_late=False`): "
        "at-most-once, not comparable to the others' at-least-once; no bulk enqueue API; "
        "one call: a sync redis-py client made with the app, once per process",
    ]


PEER = Peer(
    distributions=("celery", "kombu", "redis"), settings=settings, producer=producer, work=work
)
