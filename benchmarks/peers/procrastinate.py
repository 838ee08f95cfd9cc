"""procrastinate: async, on psycopg 3; one job row per job, fetched by a PL/pgSQL function."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from procrastinate import App, JobContext, PsycopgConnector
from psycopg_pool import AsyncConnectionPool

from benchmarks import completions
from benchmarks.peers.harness import AUTOCOMMIT, STATEMENT, Peer

TASK_NAME, ONE_CALL = "record", "call_then_record"


def make_app(url: str) -> App:
    app = App(connector=PsycopgConnector(conninfo=url))

    async def record(index: int, sent: float) -> None:
        completions.record(index, sent)

    async def call_then_record(context: JobContext, index: int, sent: float) -> None:
        pool: AsyncConnectionPool = context.additional_context["pool"]
        async with pool.connection() as connection:
            await connection.execute(STATEMENT)
        completions.record(index, sent)

    app.task(name=TASK_NAME)(record)
    app.task(name=ONE_CALL, pass_context=True)(call_then_record)
    return app


class Producer:
    def __init__(self, app: App, name: str) -> None:
        self.task = app.tasks[name]

    async def enqueue(self, index: int, sent: float) -> None:
        await self.task.defer_async(index=index, sent=sent)

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        await self.task.batch_defer_async(*({"index": i, "sent": s} for i, s in jobs))


@asynccontextmanager
async def producer(url: str, one_call: bool) -> AsyncIterator[Producer]:
    app = make_app(url)
    async with app.open_async():
        yield Producer(app, ONE_CALL if one_call else TASK_NAME)


async def install(url: str) -> None:
    app = make_app(url)
    async with app.open_async():
        await app.schema_manager.apply_schema_async()


def work(url: str, concurrency: int) -> None:
    async def run() -> None:
        app = make_app(url)
        # the jobs' own pool, apart from procrastinate's, handed to them in their context
        async with (
            app.open_async(),
            AsyncConnectionPool(url, open=False, kwargs=AUTOCOMMIT) as pool,
        ):
            await app.run_worker_async(  # stops on SIGTERM
                concurrency=concurrency, additional_context={"pool": pool}
            )

    asyncio.run(run())


def settings(concurrency: int) -> list[str]:
    return [
        f"`app.run_worker_async(concurrency={concurrency})`, other options at their "
        "defaults (LISTEN/NOTIFY on, jobs kept after they finish); `PsycopgConnector` with "
        "psycopg's default pool; bulk: `task.batch_defer_async`",
        "acknowledges after the job runs (the row goes `doing` then `succeeded`; a stalled "
        "worker's jobs are retried only when asked): at-least-once at best; one call: a "
        "psycopg pool (default size, autocommit) passed as `additional_context`",
    ]


PEER = Peer(
    distributions=("procrastinate", "psycopg", "psycopg-binary", "psycopg-pool"),
    settings=settings,
    producer=producer,
    work=work,
    bulk_api="task.batch_defer_async",
    install=install,
)
