"""celery with its Redis broker (kombu): one worker process, a thread pool."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from celery import Celery

from benchmarks import completions
from benchmarks.peers.harness import Peer

QUEUE = "bench"


def record(index: int, sent: float) -> None:
    completions.record(index, sent)


def make(url: str) -> tuple[Celery, Any]:
    app = Celery("bench", broker=url)
    app.conf.update(
        task_default_queue=QUEUE,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
    )
    return app, app.task(name="bench.record", ignore_result=True)(record)


class Producer:
    def __init__(self, task: Any) -> None:
        self.task = task

    async def enqueue(self, index: int, sent: float) -> None:
        self.task.delay(index, sent)  # a blocking call: celery's client is synchronous

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        raise NotImplementedError


@asynccontextmanager
async def producer(url: str) -> AsyncIterator[Producer]:
    app, task = make(url)
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
        "at-most-once, not comparable to the others' at-least-once; no bulk enqueue API",
    ]


PEER = Peer(
    distributions=("celery", "kombu", "redis"), settings=settings, producer=producer, work=work
)
