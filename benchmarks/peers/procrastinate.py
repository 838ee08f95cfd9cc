"""procrastinate: async, on psycopg 3; one job row per job, fetched by a PL/pgSQL function."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from procrastinate import App, PsycopgConnector

from benchmarks import completions
from benchmarks.peers.harness import Peer

TASK_NAME = "record"


def make_app(url: str) -> App:
    app = App(connector=PsycopgConnector(conninfo=url))

    async def record(index: int, sent: float) -> None:
        completions.record(index, sent)

    app.task(name=TASK_NAME)(record)
    return app


class Producer:
    def __init__(self, app: App) -> None:
        self.task = app.tasks[TASK_NAME]

    async def enqueue(self, index: int, sent: float) -> None:
        await self.task.defer_async(index=index, sent=sent)

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        await self.task.batch_defer_async(*({"index": i, "sent": s} for i, s in jobs))


@asynccontextmanager
async def producer(url: str) -> AsyncIterator[Producer]:
    app = make_app(url)
    async with app.open_async():
        yield Producer(app)


async def install(url: str) -> None:
    app = make_app(url)
    async with app.open_async():
        await app.schema_manager.apply_schema_async()


def work(url: str, concurrency: int) -> None:
    async def run() -> None:
        app = make_app(url)
        async with app.open_async():
            await app.run_worker_async(concurrency=concurrency)  # stops on SIGTERM

    asyncio.run(run())


def settings(concurrency: int) -> list[str]:
    return [
        f"`app.run_worker_async(concurrency={concurrency})`, other options at their "
        "defaults (LISTEN/NOTIFY on, jobs kept after they finish); `PsycopgConnector` with "
        "psycopg's default pool; bulk: `task.batch_defer_async`",
        "acknowledges after the job runs (the row goes `doing` then `succeeded`; a stalled "
        "worker's jobs are retried only when asked): at-least-once at best",
    ]


PEER = Peer(
    distributions=("procrastinate", "psycopg", "psycopg-binary", "psycopg-pool"),
    settings=settings,
    producer=producer,
    work=work,
    bulk_api="task.batch_defer_async",
    install=install,
)
