"""What the history curve times on a store, whatever it holds: a single enqueue, a bulk
enqueue, a drain of those jobs by one worker, `conveyor stats` (counts) and the first page
of the job listing.

The measured jobs go to a queue of their own, which the history never touches; each notes
its index in this process (outside the store). A drain is only reported when every one of
its jobs ran, and runs beyond one per job (a lease lost, the job run again) are counted.
Each measurement leaves its jobs finished: the history grows by them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from conveyor import Conveyor, Task
from conveyor.backends.base import JobFilter
from conveyor.worker import Worker

QUEUE = "measured"
BULK_BATCH = 1_000  # jobs per enqueue_many call
CONCURRENCY = 100
READS = 20  # timed calls of each read, for a median
DRAIN_CAP = 300.0  # seconds a drain may take before it is reported as not finished


@dataclasses.dataclass(frozen=True, slots=True)
class Load:
    single: int  # jobs enqueued one call each
    bulk: int  # jobs enqueued BULK_BATCH a call


@dataclasses.dataclass(frozen=True, slots=True)
class Figures:
    """One measurement: rates in jobs/s, reads as the median milliseconds of a call."""

    single: float
    bulk: float
    drain: float
    stats_ms: float
    list_ms: float
    repeated: float = 0  # runs beyond one per job in the drain (a lease lost, the job rerun)


class Subject:
    """An app on one store, with the measured task, counting its runs in this process."""

    def __init__(self, app: Conveyor) -> None:
        self.app = app
        self.runs = 0
        self.ran: set[int] = set()
        self.measured = 0  # jobs enqueued so far: each job's index is its own

        async def noop(index: int) -> None:
            self.runs += 1
            self.ran.add(index)

        self.task: Task[[int], None] = app.task(name="history.noop", queue=QUEUE, retries=0)(noop)

    async def measure(self, load: Load) -> Figures:
        backend = await self.app.connected()
        base, jobs = self.measured, load.single + load.bulk
        self.measured += jobs
        started = time.perf_counter()
        for i in range(base, base + load.single):
            await self.task.enqueue(i)
        single = load.single / (time.perf_counter() - started)

        started = time.perf_counter()
        for first in range(base + load.single, self.measured, BULK_BATCH):
            last = min(first + BULK_BATCH, self.measured)
            await self.app.enqueue_many([self.task.s(i) for i in range(first, last)])
        bulk = load.bulk / (time.perf_counter() - started)

        runs = self.runs
        worker = Worker(self.app, queues=[QUEUE], concurrency=CONCURRENCY, burst=True)
        started = time.perf_counter()
        await asyncio.wait_for(worker.run(), DRAIN_CAP)
        drain = jobs / (time.perf_counter() - started)
        missing = jobs - len(self.ran.intersection(range(base, self.measured)))
        if missing:
            raise RuntimeError(f"the drain ended with {missing} of its {jobs} jobs not run")

        stats_ms = await _median_ms(backend.counts)
        list_ms = await _median_ms(lambda: backend.page_jobs(JobFilter(limit=50)))
        return Figures(single, bulk, drain, stats_ms, list_ms, self.runs - runs - jobs)


async def _median_ms(call: Callable[[], Awaitable[Any]]) -> float:
    await call()  # warm
    times = []
    for _ in range(READS):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def median_of(runs: list[Figures]) -> Figures:
    """Each figure's median over the repetitions."""
    fields = [f.name for f in dataclasses.fields(Figures)]
    return Figures(
        **{name: statistics.median(getattr(run, name) for run in runs) for name in fields}
    )
