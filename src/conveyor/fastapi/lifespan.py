"""The lifespan: opens the backend, and can run a worker inside the API process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, overload

from fastapi import FastAPI

from conveyor.app import Conveyor
from conveyor.errors import ConfigurationError
from conveyor.worker import Worker

logger = logging.getLogger("conveyor.fastapi")

# the two shapes FastAPI accepts: a lifespan that yields nothing, or one that yields state
StatelessLifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
StatefulLifespan = Callable[[FastAPI], AbstractAsyncContextManager[Mapping[str, Any]]]


@overload
def conveyor_lifespan(
    app: Conveyor,
    *,
    worker: bool | Worker = False,
    concurrency: int | None = None,
    queues: Sequence[str] | None = None,
    lifespan: StatelessLifespan | None = None,
) -> StatelessLifespan: ...


@overload
def conveyor_lifespan(
    app: Conveyor,
    *,
    worker: bool | Worker = False,
    concurrency: int | None = None,
    queues: Sequence[str] | None = None,
    lifespan: StatefulLifespan,
) -> StatefulLifespan: ...


def conveyor_lifespan(
    app: Conveyor,
    *,
    worker: bool | Worker = False,
    concurrency: int | None = None,
    queues: Sequence[str] | None = None,
    lifespan: StatelessLifespan | StatefulLifespan | None = None,
) -> StatelessLifespan | StatefulLifespan:
    """A FastAPI lifespan: `FastAPI(lifespan=conveyor_lifespan(jobs, worker=True))`.

    Opens `app`'s backend at startup and closes it at shutdown. With `worker=True` (or a
    `Worker` of your own, which runs once), a worker runs in the API process as well: jobs
    need no other process, and after a crash they resume when the app starts again. On
    shutdown the worker stops claiming and gives running jobs its grace period.

    `lifespan` is your own, run inside (the state it yields is passed on): the backend is
    open during it, and the worker starts after it started up and stops before it shuts down.
    """
    embedded = _embedded_worker(app, worker, concurrency, queues)

    @contextlib.asynccontextmanager
    async def run(api: FastAPI) -> AsyncIterator[Any]:
        await app.open()
        try:
            async with contextlib.AsyncExitStack() as stack:
                state = None if lifespan is None else await stack.enter_async_context(lifespan(api))
                if embedded is not None:
                    await stack.enter_async_context(_running(embedded()))
                yield state
        finally:
            await app.close()

    return run


def _embedded_worker(
    app: Conveyor,
    worker: bool | Worker,
    concurrency: int | None,
    queues: Sequence[str] | None,
) -> Callable[[], Worker] | None:
    if isinstance(worker, Worker):
        if worker.app is not app:
            raise ConfigurationError("the worker given to conveyor_lifespan runs another app")
        if concurrency is not None or queues is not None:
            raise ConfigurationError(
                "pass concurrency and queues to your Worker, or use worker=True with them"
            )
        return lambda: worker
    if not worker:
        if concurrency is not None or queues is not None:
            raise ConfigurationError("concurrency and queues need worker=True")
        return None
    # built at startup, when every task is registered; fresh each time, as a Worker runs once
    return lambda: Worker(app, concurrency=concurrency or 10, queues=queues)


@contextlib.asynccontextmanager
async def _running(worker: Worker) -> AsyncIterator[None]:
    task = asyncio.create_task(worker.run(), name="conveyor embedded worker")
    task.add_done_callback(_report_death)
    try:
        yield
    finally:
        worker.stop()
        with contextlib.suppress(Exception):  # a crash was reported when it happened
            await task


def _report_death(task: asyncio.Task[None]) -> None:
    if task.cancelled() or task.exception() is None:
        return
    logger.error(
        "the embedded worker stopped: %r. The API keeps serving and jobs wait, durable, "
        "until a worker runs again (restart the app, or start `conveyor worker`)",
        task.exception(),
    )
