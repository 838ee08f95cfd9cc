"""`python -m benchmarks queues [--quick] [--backends sqlite,redis,postgres]`: one worker
drains 20,000 jobs spread evenly over 1, 100 and 1,000 queues, on each backend, each as a
ratio to one queue. `--quick`: 10,000 jobs, one repetition.

A claim of many queues should cost about what a claim of one does: the curve stays near
1.00x when it does. Each backend gets one fresh store (the history curve's); the jobs of a
point are enqueued in bulk, then drained by a burst worker of this process that works every
queue (concurrency 100), each job counted outside the store; the drain is reported only
once every one has run. The table goes to benchmarks/results/queues.md.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import statistics
import time
from pathlib import Path

from benchmarks.history.stores import BACKENDS, each_backend, open_store
from benchmarks.machine import machine
from benchmarks.progress import Progress
from benchmarks.queues.report import Curve, Run, render
from benchmarks.versus.cli import RESULTS, load_average, publish
from conveyor import Conveyor
from conveyor.worker import Worker

QUEUES = (1, 100, 1_000)
JOBS, QUICK_JOBS = 20_000, 10_000
REPEAT, QUICK_REPEAT = 3, 1
BULK_BATCH = 1_000  # jobs per enqueue_many call
CONCURRENCY = 100
DRAIN_CAP = 300.0  # seconds a drain may take before the point is reported as not finished


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks queues", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10,000 jobs, one repetition")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated: sqlite,redis,postgres"
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "queues.md", help="where to write")
    args = parser.parse_args(argv)
    backends = [name for name in args.backends.split(",") if name]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backends {sorted(unknown)}; known: {', '.join(BACKENDS)}")
    args.backends = backends
    return args


class Counter:
    def __init__(self) -> None:
        self.done = 0


async def drain(app: Conveyor, counter: Counter, jobs: int, queues: int) -> float:
    """Enqueue `jobs` spread evenly over `queues` queues, then drain them: jobs/s."""
    task = app.tasks["queues.noop"]
    names = [f"q{i:04}" for i in range(queues)]
    for first in range(0, jobs, BULK_BATCH):
        calls = [
            task.options(queue=names[i % queues]).s(i)
            for i in range(first, min(first + BULK_BATCH, jobs))
        ]
        await app.enqueue_many(calls)
    wanted = counter.done + jobs
    worker = Worker(app, queues=names, concurrency=CONCURRENCY, burst=True)
    started = time.perf_counter()
    await asyncio.wait_for(worker.run(), DRAIN_CAP)
    rate = jobs / (time.perf_counter() - started)
    if counter.done != wanted:
        raise RuntimeError(f"the drain ran {counter.done - wanted + jobs} of {jobs} jobs")
    return rate


async def run_backend(
    backend: str, jobs: int, repeat: int, folder: Path, progress: Progress
) -> Curve:
    counter = Counter()
    async with open_store(backend, folder) as store:
        app = Conveyor(store.url)

        @app.task(name="queues.noop", retries=0)
        async def noop(index: int) -> None:
            counter.done += 1

        points: dict[int, float] = {}
        try:
            await drain(app, counter, min(jobs, 2_000), 1)  # warm-up
            runs: dict[int, list[float]] = {queues: [] for queues in QUEUES}
            for round_ in range(repeat):  # alternating direction, so drift favours none
                for queues in QUEUES if round_ % 2 == 0 else reversed(QUEUES):
                    rate = await drain(app, counter, jobs, queues)
                    runs[queues].append(rate)
                    progress.say(f"  {backend}, {queues:,} queue(s): {rate:,.0f} jobs/s")
            points = {queues: statistics.median(rates) for queues, rates in runs.items()}
        finally:
            await app.close()
    return Curve(backend, store.server, points)


async def run(args: argparse.Namespace, argv: list[str], progress: Progress) -> Run:
    jobs = QUICK_JOBS if args.quick else JOBS
    repeat = QUICK_REPEAT if args.quick else REPEAT
    load_before, started = load_average(), time.monotonic()
    curves = await each_backend(
        args.backends,
        lambda backend, folder: run_backend(backend, jobs, repeat, folder, progress),
        lambda backend, problem: Curve(backend, "?", {}, problem),
        progress,
    )
    return Run(
        command=shlex.join(["python", "-m", "benchmarks", "queues", *argv]),
        jobs=jobs, repeat=repeat, curves=curves, machine=machine(),
        load_average=(load_before, load_average()), seconds=time.monotonic() - started,
    )  # fmt: skip


def main(argv: list[str]) -> None:
    args = parse(argv)  # --help and bad options end here, before anything starts
    progress = Progress()
    result = asyncio.run(run(args, argv, progress))
    publish(render(result), args.output, progress)
