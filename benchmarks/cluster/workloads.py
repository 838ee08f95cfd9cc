"""The four workloads, each run on one side into one cell: a drain of one store by one
worker process, single and bulk enqueue into one store, and a drain of three stores, each
by a worker process of its own, at the same time.

Drains run `conveyor worker` processes on the processes curve's app: the jobs are enqueued
in bulk with their queue paused, and the queues are resumed once every worker has started,
so the rate runs from the resume to the last completion and leaves interpreter start-up
out. Each job notes that it ran in a completion log outside the store; a cell counts only
distinct jobs, and the store must agree that every one succeeded. Enqueues run in this
process, one awaited call after another, or in calls of 1,000; the store must then hold
every job.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil

from benchmarks.cluster.servers import Side
from benchmarks.completions import CompletionLog, Tally
from benchmarks.processes import ROOT
from benchmarks.processes_curve.app import LOG_ENV, URL_ENV, make_app
from conveyor.job import JobState

APP_PATH = "benchmarks.processes_curve.app:app"
CONCURRENCY = 100
BULK_BATCH = 1_000  # jobs per enqueue_many call
WARM_UP = 100  # single enqueues before the timed ones
CAP = 120.0  # seconds a drain may take; a partial rate is reported past it

DRAIN, SINGLE, BULK, SPREAD = "drain", "single enqueue", "bulk enqueue", "spread drain"


@dataclasses.dataclass(frozen=True, slots=True)
class Cell:
    workload: str
    side: str
    done: int  # distinct jobs that ran (drains) or are stored (enqueues)
    wanted: int
    seconds: float
    client_cpu: float  # the worker processes' CPU seconds, or this process's for enqueues
    server_cpu: float  # every redis-server of the side, summed
    problem: str | None = None
    duplicates: int = 0  # runs of a job beyond its first (at-least-once allows them)

    @property
    def complete(self) -> bool:
        return self.problem is None and self.done == self.wanted

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0


def drain(workload: str, side: Side, prefixes: Sequence[str], n: int, folder: Path) -> Cell:
    """n jobs in each store, one per prefix, drained by a worker process per store."""
    side.flush()
    urls = [side.url(prefix) for prefix in prefixes]
    asyncio.run(_fill(urls, n))
    log = CompletionLog(folder / "completions.log")
    wanted = n * len(urls)
    with contextlib.ExitStack() as stack:
        workers = [
            stack.enter_context(_worker(url, log.path, folder / f"worker-{i}.log"))
            for i, url in enumerate(urls)
        ]
        _wait_until_started(workers, folder)
        processes = [psutil.Process(worker.pid) for worker in workers]
        cpu_before, server_before = _cpu(processes), side.server_cpu()
        seconds = asyncio.run(_resume_and_wait(urls, log, wanted, workers))
        cpu, server = _cpu(processes) - cpu_before, side.server_cpu() - server_before
    tally = Tally.of(log.read(), wanted)
    problem = None
    if tally.distinct == wanted:
        problem = asyncio.run(_check_succeeded(urls, n))
    return Cell(
        workload, side.name, tally.distinct, wanted, seconds, cpu, server, problem,
        tally.duplicates,
    )  # fmt: skip


async def _fill(urls: Sequence[str], n: int) -> None:
    """n jobs in each store's queue, paused; job indices unique over the stores."""
    now = time.time()
    for number, url in enumerate(urls):
        app, job = make_app(url)
        async with app:
            await (await app.connected()).pause_queue(app.default_queue)
            first_index = number * n
            for first in range(0, n, BULK_BATCH):
                last = min(first + BULK_BATCH, n)
                await app.enqueue_many([job.s(first_index + i, now) for i in range(first, last)])


@contextlib.contextmanager
def _worker(url: str, log: Path, output_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, URL_ENV: url, LOG_ENV: str(log)}
    argv = [sys.executable, "-m", "conveyor", "worker", APP_PATH]
    argv += ["--concurrency", str(CONCURRENCY)]
    with output_path.open("wb") as output:  # per-job logging is off: lifecycle lines only
        worker = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )
        try:
            yield worker
        finally:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(60)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()


def _wait_until_started(workers: Sequence[subprocess.Popen[bytes]], folder: Path) -> None:
    deadline = time.monotonic() + CAP
    outputs = [folder / f"worker-{i}.log" for i in range(len(workers))]
    while not all(b" started: queues" in output.read_bytes() for output in outputs):
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            raise RuntimeError(f"the worker processes did not start: see {folder}")
        time.sleep(0.05)


async def _resume_and_wait(
    urls: Sequence[str],
    log: CompletionLog,
    wanted: int,
    workers: Sequence[subprocess.Popen[bytes]],
) -> float:
    """Resume every store's queue at once, from clients already connected, and wait for the
    last completion (or the cap, or a worker's death): the seconds in between."""

    def alive() -> bool:
        return all(worker.poll() is None for worker in workers)

    apps = [make_app(url)[0] for url in urls]
    async with contextlib.AsyncExitStack() as stack:
        stores = [await (await stack.enter_async_context(app)).connected() for app in apps]
        started = time.monotonic()
        await asyncio.gather(*(store.resume_queue(apps[0].default_queue) for store in stores))
        await asyncio.to_thread(log.wait_for, wanted, started + CAP, alive)
        return time.monotonic() - started


async def _check_succeeded(urls: Sequence[str], n: int) -> str | None:
    for url in urls:
        counts = await _counts(url)
        if counts.get(JobState.SUCCEEDED, 0) != n:
            return f"the store {url} counts {counts.get(JobState.SUCCEEDED, 0)} succeeded of {n}"
    return None


async def _counts(url: str) -> dict[JobState, int]:
    app, _ = make_app(url)
    async with app:
        return (await (await app.connected()).counts()).get(app.default_queue, {})


def _cpu(processes: Sequence[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def enqueue(workload: str, side: Side, prefix: str, n: int) -> Cell:
    """n jobs into one store: one awaited call after another (SINGLE), or calls of 1,000."""
    side.flush()
    url = side.url(prefix)
    seconds, cpu, server = asyncio.run(_enqueue(workload, side, url, n))
    stored = asyncio.run(_counts(url)).get(JobState.QUEUED, 0) - WARM_UP
    problem = None if stored == n else f"the store holds {stored} of {n} jobs"
    return Cell(workload, side.name, min(stored, n), n, seconds, cpu, server, problem)


async def _enqueue(workload: str, side: Side, url: str, n: int) -> tuple[float, float, float]:
    """Wall seconds, this process's CPU seconds and the servers' CPU seconds of the calls."""
    app, job = make_app(url)
    now = time.time()
    async with app:
        for i in range(-WARM_UP, 0):  # connections open and scripts loaded before the clock
            await job.enqueue(i, now)
        server_before = side.server_cpu()
        wall, cpu = time.perf_counter(), time.process_time()
        if workload == SINGLE:
            for i in range(n):
                await job.enqueue(i, now)
        else:
            for first in range(0, n, BULK_BATCH):
                last = min(first + BULK_BATCH, n)
                await app.enqueue_many([job.s(i, now) for i in range(first, last)])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return wall, cpu, side.server_cpu() - server_before
