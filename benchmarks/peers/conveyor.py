"""conveyor, the system under test, on Redis or PostgreSQL (whichever the URL names).

It runs in the repository's own virtualenv. On PostgreSQL, opening the app migrates the
schema, so `describe` installs it like the peers' own install steps do.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from benchmarks import completions
from benchmarks.peers.harness import AUTOCOMMIT, COUNTER, STATEMENT, Peer
from conveyor import Context, Conveyor
from conveyor.task import AsyncTask
from conveyor.worker import Worker

Job = AsyncTask[[int, float], None]


async def record(index: int, sent: float) -> None:
    completions.record(index, sent)


async def call_then_record(index: int, sent: float, ctx: Context = Context.INJECTED) -> None:
    if ctx.state.redis is not None:
        await ctx.state.redis.incr(COUNTER)
    else:
        async with ctx.state.pool.connection() as connection:
            await connection.execute(STATEMENT)
    completions.record(index, sent)


def make_app(url: str, one_call: bool = False) -> tuple[Conveyor, Job]:
    """The app, and the task the producer sends: a no-op, or one that makes one call."""
    app = Conveyor(url)

    @app.on_startup
    async def open_client(state: types.SimpleNamespace) -> None:
        """The jobs' own client, for whichever server the app is on."""
        state.redis, state.pool = None, None
        if url.startswith("redis"):
            state.redis = Redis.from_url(url)
        else:
            state.pool = AsyncConnectionPool(url, open=False, kwargs=AUTOCOMMIT)
            await state.pool.open()

    @app.on_shutdown
    async def close_client(state: types.SimpleNamespace) -> None:
        if state.redis is not None:
            await state.redis.aclose()
        if state.pool is not None:
            await state.pool.close()

    noop = app.task(name="bench.record")(record)
    called = app.task(name="bench.call_then_record")(call_then_record)
    return app, called if one_call else noop


class Producer:
    def __init__(self, app: Conveyor, job: Job) -> None:
        self.app, self.job = app, job

    async def enqueue(self, index: int, sent: float) -> None:
        await self.job.enqueue(index, sent)

    async def enqueue_bulk(self, jobs: Sequence[tuple[int, float]]) -> None:
        await self.app.enqueue_many([self.job.s(index, sent) for index, sent in jobs])


@asynccontextmanager
async def producer(url: str, one_call: bool) -> AsyncIterator[Producer]:
    app, job = make_app(url, one_call)
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
        "woken by LISTEN/NOTIFY; one call: a redis-py client or a psycopg pool (default "
        "size, autocommit) made in an `@app.on_startup` hook, read as `ctx.state`",
    ]


PEER = Peer(
    distributions=("conveyor",),
    clients={"redis": ("redis",), "postgresql": ("psycopg", "psycopg-binary")},
    settings=settings,
    producer=producer,
    work=work,
    bulk_api="app.enqueue_many",
)
