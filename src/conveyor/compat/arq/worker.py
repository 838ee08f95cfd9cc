"""ARQ's worker side on conveyor: `Retry`, `run_worker`, and `conveyor_app(WorkerSettings)`,
which turns an ARQ app's settings into a conveyor app that any conveyor worker runs.

ARQ calls `f(ctx, *args, **kwargs)` with a dict; conveyor injects a `Context` into a
parameter annotated with it. Each ARQ function is registered behind a small function that
takes conveyor's context, makes the ctx dict (the startup state plus `job_id`, `job_try`,
`enqueue_time`, `score`, `redis`, and `conveyor`: the Context itself) and calls it.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import sys
import types
from typing import Any

from conveyor.app import Conveyor
from conveyor.context import Context
from conveyor.errors import ConfigurationError, TaskTimeout
from conveyor.errors import Retry as ConveyorRetry
from conveyor.log_fields import CURRENT_JOB
from conveyor.scheduler import MIN_RESULT_TTL
from conveyor.worker import run_worker as run_conveyor_worker

from .connections import ArqRedis
from .functions import Function, JobFunction, func, import_path
from .settings import Settings
from .wire import Runner, wire_task

__all__ = ["Function", "Retry", "conveyor_app", "func", "load_settings", "run_worker"]

STATE_KEY = "arq_ctx"  # where the shared ctx dict lives on the worker's state


class Retry(ConveyorRetry):
    """Raise inside a job to run it again after `defer` seconds (or a timedelta); the next
    try has `ctx["job_try"]` one higher, and a job out of tries fails."""

    def __init__(self, defer: float | datetime.timedelta | None = None) -> None:
        seconds = defer.total_seconds() if isinstance(defer, datetime.timedelta) else defer
        # ARQ runs a job retried without a defer again at once; conveyor would back off
        super().__init__(delay=float(seconds or 0))
        self.defer_score = None if seconds is None else round(seconds * 1000)


def conveyor_app(settings: object) -> Conveyor:
    """A conveyor app running an ARQ app: its functions and cron jobs as tasks, its hooks
    around the worker, on the store its `redis_settings` name. `settings` is the
    WorkerSettings class (or a dict of the same names)."""
    read = Settings.read(settings)
    app = Conveyor(read.redis_settings.conveyor_url)
    pool = ArqRedis(app, read.queue_name)

    def register(name: str, coroutine: JobFunction, timeout: float | None, **config: Any) -> None:
        if name in app.tasks:
            raise ConfigurationError(f"WorkerSettings: two functions are named {name!r}")
        run = _runner(coroutine, timeout, read)
        app.tasks[name] = wire_task(app, name, run, queue=read.queue_name, **config)

    for function in read.functions:
        keep = function.keep_result_s if function.keep_result_s is not None else read.keep_result
        register(
            function.name,
            function.coroutine,
            function.timeout_s if function.timeout_s is not None else read.job_timeout,
            max_tries=function.max_tries or read.max_tries,
            keep_result=None if function.keep_result_forever else keep,
        )
    for job in read.cron_jobs:
        # a tick's record is what keeps it from running twice: it is kept a minute at least
        keep = None if job.keep_result_forever else max(job.keep_result_s or 0, MIN_RESULT_TTL)
        timeout = job.timeout_s if job.timeout_s is not None else read.job_timeout
        register(job.name, job.coroutine, timeout, max_tries=job.max_tries or 1, keep_result=keep)
        app.add_schedule(job.name, job.expression, app.tasks[job.name].s(), timezone=read.timezone)

    async def startup(state: types.SimpleNamespace) -> None:
        ctx = {**read.ctx, "redis": pool}
        setattr(state, STATE_KEY, ctx)
        if read.on_startup is not None:
            await read.on_startup(ctx)
        for job in read.cron_jobs:
            if job.run_at_startup:
                await app.tasks[job.name].enqueue()

    async def shutdown(state: types.SimpleNamespace) -> None:
        if read.on_shutdown is not None:
            await read.on_shutdown(getattr(state, STATE_KEY))

    app.on_startup(startup)
    app.on_shutdown(shutdown)
    return app


def _runner(coroutine: JobFunction, timeout: float | None, read: Settings) -> Runner:
    """The task's function: makes ARQ's ctx and calls `coroutine(ctx, *args, **kwargs)`."""

    async def run(*args: Any, conveyor_context: Context, **kwargs: Any) -> Any:
        ctx = _job_ctx(conveyor_context)
        if read.on_job_start is not None:
            await read.on_job_start(ctx)
        try:
            async with asyncio.timeout(timeout) as scope:
                return await coroutine(ctx, *args, **kwargs)
        except TimeoutError:
            if scope.expired():  # ours, not one the job raised
                raise TaskTimeout(timeout or 0) from None
            raise
        finally:
            if read.on_job_end is not None:
                await read.on_job_end(ctx)

    return run


def _job_ctx(context: Context) -> dict[str, Any]:
    job = CURRENT_JOB.get()
    enqueued = job.enqueued_at if job is not None else None
    return {
        **getattr(context.state, STATE_KEY, {}),
        "job_id": context.job_id,
        "job_try": context.attempt,
        "enqueue_time": None
        if enqueued is None
        else datetime.datetime.fromtimestamp(enqueued, datetime.UTC),
        "score": None if job is None else round(job.due_at * 1000),
        "conveyor": context,  # progress, checkpoints, cancellation: conveyor's own
    }


def load_settings(path: str) -> object:
    """The WorkerSettings at `module.WorkerSettings` (or `module:WorkerSettings`)."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `arq module.WorkerSettings` would find it
    return import_path(path.replace(":", "."), f"--arq {path}")


def run_worker(settings_cls: object, **kwargs: Any) -> None:
    """Run a conveyor worker for an ARQ app until SIGTERM or SIGINT, as ARQ's `run_worker`;
    `burst=True` stops once no job is due, `max_jobs` sets how many run at once."""
    app = conveyor_app(settings_cls)
    options: dict[str, Any] = {"burst": bool(kwargs.pop("burst", False))}
    if "max_jobs" in kwargs:
        options["concurrency"] = kwargs.pop("max_jobs")
    if kwargs:
        raise ConfigurationError(f"run_worker: unsupported option(s) {sorted(kwargs)}")

    async def main() -> None:
        try:
            await run_conveyor_worker(app, **options)
        finally:
            await app.close()

    asyncio.run(main())
