"""conveyor, the system under test, on Redis or PostgreSQL (whichever the URL names).

It runs in the repository's own virtualenv. On PostgreSQL, opening the app migrates the
schema, so `describe` installs it like the peers' own install steps do.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any

from benchmarks import completions
from benchmarks.peers.harness import Peer
from conveyor import Conveyor
from conveyor.task import Task
from conveyor.worker import Worker

TASK_NAME = "bench.record"

Job = Task[[int, float], Coroutine[Any, Any, None]]


async def record(index: int, sent: float) -> None:
    completions.record(index, sent)


def make_app(url: str) -> tuple[Conveyor, Job]:
    app = Conveyor(url)
    return app, app.task(name=TASK_NAME)(record)


class Producer:
    def __init__(self, app: Conveyor, job: Job) -> None:
        self.app, self.job = app, job

    async def enqueue(self, index: int, sent: float) -> None:
        await self.job.enqueue(index, sent)

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        await self.app.enqueue_many([self.job.s(index, sent) for index, sent in jobs])


@asynccontextmanager
async def producer(url: str) -> AsyncIterator[Producer]:
    app, job = make_app(url)
    async with app:
        yield Producer(app, job)


def work(url: str, concurrency: int) -> None:
    async def run() -> None:
        app, _ = make_app(url)
        async with app:
            await Worker(app, concurrency=concurrency).run(install_signal_handlers=True)

    asyncio.run(run())


def settings(concurrency: int) -> list[str]:
    return [
        f"`Worker(app, concurrency={concurrency})`, other options at their defaults; "
        "the task is `async def` on the worker's loop; bulk: `app.enqueue_many`",
        "acknowledges after the job runs (at-least-once, 30 s lease); claims and "
        "acknowledgements batched; on Redis an idle worker is handed the next job by the "
        "enqueue that stores it (leased to it, published on its channel), on PostgreSQL "
        "woken by LISTEN/NOTIFY",
    ]


PEER = Peer(
    distributions=("conveyor",),
    clients={"redis": ("redis",), "postgresql": ("psycopg", "psycopg-binary")},
    settings=settings,
    producer=producer,
    work=work,
    bulk_api="app.enqueue_many",
)
