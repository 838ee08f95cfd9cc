"""The benchmark's app and its one task, on any backend URL, with a variant's middleware.

Two workloads: `noop` only notes, outside the queue, that the job ran; `one-call` first
makes one Redis `INCR` of its own (a job that does something: the middleware's cost is
then measured against a real round trip, not against nothing).
"""

from __future__ import annotations

import time
from collections.abc import Coroutine, Sequence
from typing import Any, Literal, get_args

import redis.asyncio

from benchmarks import completions
from conveyor import Conveyor
from conveyor.job import JobState
from conveyor.middleware import Middleware
from conveyor.task import Task

TASK_NAME = "bench.record"
CALLS_KEY = "bench:calls"
BULK_BATCH = 1000

Workload = Literal["noop", "one-call"]
WORKLOADS: tuple[Workload, ...] = get_args(Workload)
Job = Task[[int, float], Coroutine[Any, Any, None]]


async def record(index: int, sent: float) -> None:
    completions.record(index, sent)


def make_app(
    url: str, middleware: Sequence[Middleware], counter_url: str | None = None
) -> tuple[Conveyor, Job]:
    """The app; with `counter_url` (a Redis URL), the job makes one INCR there first."""
    app = Conveyor(url, middleware=middleware)
    if counter_url is None:
        return app, app.task(name=TASK_NAME)(record)
    counter = redis.asyncio.Redis.from_url(counter_url)

    async def record_after_one_call(index: int, sent: float) -> None:
        await counter.incr(CALLS_KEY)
        completions.record(index, sent)

    @app.on_shutdown
    async def close_counter(state: object) -> None:
        await counter.aclose()

    return app, app.task(name=TASK_NAME)(record_after_one_call)


async def prefill(app: Conveyor, job: Job, n: int) -> None:
    """N jobs through the bulk API (and the app's enqueue middleware), not timed."""
    async with app:
        for first in range(0, n, BULK_BATCH):
            batch = range(first, min(first + BULK_BATCH, n))
            await app.enqueue_many([job.s(i, time.time()) for i in batch])


async def check_drained(app: Conveyor, n: int) -> str | None:
    """What the queue itself says: all N succeeded, nothing left in another state."""
    async with app:
        counts = (await app.backend.counts()).get(app.default_queue, {})
    succeeded = counts.get(JobState.SUCCEEDED, 0)
    others = {state.value: k for state, k in counts.items() if state is not JobState.SUCCEEDED}
    if succeeded != n or any(others.values()):
        return f"conveyor's own counts disagree: {succeeded} succeeded of {n}, others {others}"
    return None
