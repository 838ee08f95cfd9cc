"""The tasks of the metrics tests, registered under fixed names on any app.

Each attempt appends "<task> <job id> <attempt>" to the file named by METRICS_ORACLE (one
`write` of one line, so lines from several processes never interleave): the test counts
the attempts started from it, outside the metrics under test.
"""

from __future__ import annotations

import asyncio
import os
import time

from conveyor import Context, Conveyor, Retry

# the environment of the worker processes (see `workerapp`)
DB_URL_ENV = "METRICS_DB_URL"
ORACLE_ENV = "METRICS_ORACLE"
HOLD_ENV = "METRICS_HOLD"


def note(ctx: Context) -> None:
    fd = os.open(os.environ[ORACLE_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{ctx.task_name} {ctx.job_id} {ctx.attempt}\n".encode())
    finally:
        os.close(fd)


async def ok(ctx: Context = Context.INJECTED) -> None:
    note(ctx)


async def flop(ctx: Context = Context.INJECTED) -> None:
    note(ctx)
    raise RuntimeError("flops, as it should")


async def flaky(ctx: Context = Context.INJECTED) -> None:
    """Fails its first attempt, then succeeds."""
    note(ctx)
    if ctx.attempt == 1:
        raise Retry(delay=0.1)


async def nap(seconds: float, ctx: Context = Context.INJECTED) -> None:
    note(ctx)
    await asyncio.sleep(seconds)


async def hog(seconds: float, ctx: Context = Context.INJECTED) -> None:
    """Holds the worker's event loop on its first attempt: no heartbeat renews its lease."""
    note(ctx)
    if ctx.attempt == 1:
        time.sleep(seconds)  # noqa: ASYNC251 - holding the loop is the point


class Tasks:
    def __init__(self, app: Conveyor) -> None:
        task = app.task
        self.ok = task(name="metrics.ok")(ok)
        self.flop = task(name="metrics.flop", retries=0)(flop)
        self.flaky = task(name="metrics.flaky", retries=1)(flaky)
        self.nap = task(name="metrics.nap", retries=0)(nap)
        self.hog = task(name="metrics.hog", retries=2)(hog)
        self.child = task(name="metrics.child")(ok)

        async def spawn(ctx: Context = Context.INJECTED) -> None:
            """Enqueues two children from the worker, and one of them a second time."""
            note(ctx)
            for number in (1, 2, 1):  # the repeated job id is not stored anew
                await self.child.options(job_id=f"{ctx.job_id}.{number}").enqueue()

        self.spawn = task(name="metrics.spawn")(spawn)
