"""One cell: N jobs queued with a variant's middleware, one worker process drains them.

Every job is verified: the completion log (outside the queue) must hold each of the N
once, the queue's own counts must agree, and in the `one-call` workload the Redis counter
must equal the runs. A rate is reported only for a complete, verified drain.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import time
from pathlib import Path

from benchmarks.completions import CompletionLog, Tally
from benchmarks.measure import Rate
from benchmarks.observability.jobs import CALLS_KEY, Workload, check_drained, make_app, prefill
from benchmarks.observability.variants import Variant, observability
from benchmarks.processes import WorkerProcess
from benchmarks.redis_bench.server import RedisServer

WORKER_MODULE = "benchmarks.observability.worker"
BOOT_CAP = 60.0  # seconds for the worker to run its first job


@dataclasses.dataclass(frozen=True, slots=True)
class Sizes:
    n: int = 30000
    concurrency: int = 50
    cap: float = 120.0  # seconds per drain at most


@dataclasses.dataclass(frozen=True, slots=True)
class Cell:
    backend: str  # "sqlite" or "redis"
    workload: Workload
    variant: Variant


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    rate: Rate  # from the first job's start to the last job's: interpreter start-up left out
    cpu_per_job: float | None  # the worker's CPU seconds over the same span, per job
    problem: str | None

    @property
    def counted(self) -> bool:
        return self.problem is None and self.rate.complete


def store_url(cell: Cell, folder: Path, redis_server: RedisServer | None) -> str:
    if cell.backend == "sqlite":
        return f"sqlite:///{folder / 'jobs.db'}"
    assert redis_server is not None, "the redis backend needs the private server"
    return redis_server.url


def drain(cell: Cell, sizes: Sizes, folder: Path, redis_server: RedisServer | None) -> Result:
    """Run one cell in `folder` (fresh, empty); the private Redis is flushed first."""
    if redis_server is not None:
        redis_server.flushall()
    url = store_url(cell, folder, redis_server)
    _prefill(url, cell.variant, sizes.n)
    counter_url = None
    if cell.workload == "one-call":
        assert redis_server is not None, "the one-call workload needs the private Redis"
        counter_url = redis_server.url
    log = CompletionLog(folder / "done.log")
    args = [url, str(log.path), str(sizes.concurrency), cell.variant]
    worker = WorkerProcess(
        WORKER_MODULE,
        [*args, counter_url] if counter_url else args,
        folder / "worker.stderr",
        signal.SIGTERM,  # graceful: finish, flush acknowledgements and spans
    )
    if log.wait_for(1, worker.started + BOOT_CAP, worker.alive) < 1:
        worker.stop()
        return Result(Rate(0, sizes.n, 0.0), None, f"no job ran: {worker.stderr_tail()}")
    cpu_at_first = worker.cpu_seconds()
    log.wait_for(sizes.n, time.monotonic() + sizes.cap, worker.alive)
    finished_wall = time.time()
    cpu = worker.cpu_seconds() - cpu_at_first
    usage = worker.stop()
    runs = log.read()
    tally = Tally.of(runs, sizes.n)
    problems = []
    if usage.exit_code != 0:
        problems.append(f"worker exited with {usage.exit_code}: {worker.stderr_tail()}")
    problems += _verify(url, tally, len(runs), sizes.n, redis_server if counter_url else None)
    assert tally.first_started is not None  # the first job ran
    done = max(0, tally.distinct - 1)
    rate = Rate(done, sizes.n - 1, finished_wall - tally.first_started)
    return Result(rate, cpu / done if done else None, "; ".join(problems) or None)


def _verify(url: str, tally: Tally, runs: int, n: int, counter: RedisServer | None) -> list[str]:
    """What disagrees with every one of the N jobs having run exactly once."""
    problems = []
    if tally.duplicates:
        problems.append(f"{tally.duplicates} duplicate runs")
    if tally.distinct == n and (disagreement := _check_queue(url, n)):
        problems.append(disagreement)
    if counter is not None and (calls := int(counter.client.get(CALLS_KEY) or 0)) != runs:
        problems.append(f"{calls} Redis calls for {runs} runs")
    return problems


def _prefill(url: str, variant: Variant, n: int) -> None:
    """Enqueued through the variant's middleware: with tracing, each job carries the
    trace context of its PRODUCER span, so the worker extracts it as it would in use."""
    installed = observability(variant)
    try:
        app, job = make_app(url, installed.middleware)
        asyncio.run(prefill(app, job, n))
    finally:
        installed.shutdown()


def _check_queue(url: str, n: int) -> str | None:
    app, _ = make_app(url, [])
    return asyncio.run(check_drained(app, n))
