"""conveyor on SQLite: the producer side of each workload, and the worker's app.

The URL is the default `sqlite:///path`: WAL with synchronous=FULL, every commit fsynced.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from benchmarks import completions
from benchmarks.measure import WARMUP, Rate
from conveyor import Conveyor
from conveyor.job import JobState
from conveyor.task import Task

TASK_NAME = "bench.record"
BULK_BATCH = 1000

Job = Task[[int, float], Coroutine[Any, Any, None]]


async def record(index: int, sent: float) -> None:
    """A no-op job that only notes, outside the queue, that it ran."""
    completions.record(index, sent)


def make_app(db: Path) -> tuple[Conveyor, Job]:
    app = Conveyor(f"sqlite:///{db}")
    return app, app.task(name=TASK_NAME)(record)


class ConveyorSQLite:
    name = "conveyor"
    worker_module = "benchmarks.conveyor_worker"
    stop_signal = signal.SIGTERM  # graceful: stop claiming, finish, flush acknowledgements

    def settings(self, concurrency: int) -> list[str]:
        return [
            "`Conveyor('sqlite:///…')`: WAL, synchronous=FULL (the default URL); one "
            f"`Worker(app, concurrency={concurrency})`, other options at their defaults; "
            "the task is `async def` and runs on the worker's event loop",
            "acknowledges after the job runs (at-least-once); claims and acknowledgements "
            "are batched; an idle worker watches `PRAGMA data_version` every 2 ms",
        ]

    def enqueue_single(self, db: Path, n: int, deadline: float) -> Rate:
        return asyncio.run(_single(db, n, deadline))

    def enqueue_concurrent(self, db: Path, n: int, producers: int, deadline: float) -> Rate:
        return asyncio.run(_concurrent(db, n, producers, deadline))

    def enqueue_bulk(self, db: Path, n: int, deadline: float) -> Rate:
        return asyncio.run(_bulk(db, n, deadline))

    def prefill(self, db: Path, n: int) -> None:
        asyncio.run(_bulk(db, n, float("inf"), warmup=False))

    def send(self, db: Path, indices: Sequence[int], interval: float) -> None:
        asyncio.run(_paced(db, indices, interval))

    def check_drained(self, db: Path, n: int) -> str | None:
        return asyncio.run(_check_drained(db, n))


async def _single(db: Path, n: int, deadline: float) -> Rate:
    app, job = make_app(db)
    async with app:
        for _ in range(WARMUP):
            await job.enqueue(-1, time.time())
        done = 0
        start = time.perf_counter()
        for i in range(n):
            await job.enqueue(i, time.time())
            done += 1
            if time.monotonic() > deadline:
                break
        return Rate(done, n, time.perf_counter() - start)


async def _concurrent(db: Path, n: int, producers: int, deadline: float) -> Rate:
    app, job = make_app(db)
    done = 0

    async def produce(indices: range) -> None:
        nonlocal done
        for i in indices:
            await job.enqueue(i, time.time())
            done += 1
            if time.monotonic() > deadline:
                return

    async with app:
        for _ in range(WARMUP):
            await job.enqueue(-1, time.time())
        shares = [range(k, n, producers) for k in range(producers)]
        start = time.perf_counter()
        await asyncio.gather(*(produce(share) for share in shares))
        return Rate(done, n, time.perf_counter() - start)


async def _bulk(db: Path, n: int, deadline: float, warmup: bool = True) -> Rate:
    app, job = make_app(db)
    async with app:
        if warmup:
            await app.enqueue_many([job.s(-1, time.time()) for _ in range(WARMUP)])
        done = 0
        start = time.perf_counter()
        for first in range(0, n, BULK_BATCH):
            batch = range(first, min(first + BULK_BATCH, n))
            await app.enqueue_many([job.s(i, time.time()) for i in batch])
            done += len(batch)
            if time.monotonic() > deadline:
                break
        return Rate(done, n, time.perf_counter() - start)


async def _paced(db: Path, indices: Sequence[int], interval: float) -> None:
    app, job = make_app(db)
    async with app:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for k, i in enumerate(indices):
            await asyncio.sleep(max(0.0, start + k * interval - loop.time()))
            await job.enqueue(i, time.time())


async def _check_drained(db: Path, n: int) -> str | None:
    app, _ = make_app(db)
    async with app:
        counts = (await app.backend.counts()).get(app.default_queue, {})
    succeeded = counts.get(JobState.SUCCEEDED, 0)
    others = {state.value: k for state, k in counts.items() if state is not JobState.SUCCEEDED}
    if succeeded != n or any(others.values()):
        return f"conveyor's own counts disagree: {succeeded} succeeded of {n}, others {others}"
    return None
