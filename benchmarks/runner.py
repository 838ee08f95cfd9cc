"""The workloads, run the same way for every system, each in a fresh temporary database."""

from __future__ import annotations

import dataclasses
import signal
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

from benchmarks.completions import CompletionLog, Tally, first_latencies_ms
from benchmarks.measure import Drain, Latency, Rate
from benchmarks.processes import WorkerProcess

T = TypeVar("T")
SETTLE = 1.0  # seconds an idle worker waits before the latency jobs start
WORKER_BOOT_CAP = 30.0


class System(Protocol):
    """What each system module provides; the workloads below are written once against it."""

    name: str
    worker_module: str  # run as `python -m <worker_module> DB LOG CONCURRENCY`
    stop_signal: signal.Signals

    def settings(self, concurrency: int) -> list[str]: ...
    def enqueue_single(self, db: Path, n: int, deadline: float) -> Rate: ...
    def enqueue_concurrent(
        self, db: Path, n: int, producers: int, deadline: float
    ) -> Rate | None: ...
    def enqueue_bulk(self, db: Path, n: int, deadline: float) -> Rate: ...
    def prefill(self, db: Path, n: int) -> None: ...
    def send(self, db: Path, indices: Sequence[int], interval: float) -> None: ...
    def check_drained(self, db: Path, n: int) -> str | None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Sizes:
    single: int = 5000
    concurrent_producers: int = 50
    bulk: int = 20000
    drain: int = 20000
    latency: int = 300
    latency_interval: float = 0.005
    concurrency: int = 50
    cap: float = 120.0  # seconds per cell at most


@contextmanager
def scratch(system: System) -> Iterator[Path]:
    """A fresh folder per cell (the report names its filesystem: fsync is free on tmpfs)."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{system.name}-") as folder:
        yield Path(folder)


def in_fresh_db(system: System, run: Callable[[Path], T]) -> T:
    with scratch(system) as folder:
        return run(folder / "jobs.db")


def enqueue_single(system: System, sizes: Sizes) -> Rate:
    deadline = time.monotonic() + sizes.cap
    return in_fresh_db(system, lambda db: system.enqueue_single(db, sizes.single, deadline))


def enqueue_concurrent(system: System, sizes: Sizes) -> Rate | None:
    deadline = time.monotonic() + sizes.cap
    producers = sizes.concurrent_producers
    return in_fresh_db(
        system, lambda db: system.enqueue_concurrent(db, sizes.single, producers, deadline)
    )


def enqueue_bulk(system: System, sizes: Sizes) -> Rate:
    deadline = time.monotonic() + sizes.cap
    return in_fresh_db(system, lambda db: system.enqueue_bulk(db, sizes.bulk, deadline))


def start_worker(system: System, folder: Path, log: CompletionLog, sizes: Sizes) -> WorkerProcess:
    args = [str(folder / "jobs.db"), str(log.path), str(sizes.concurrency)]
    return WorkerProcess(system.worker_module, args, folder / "worker.stderr", system.stop_signal)


def drain(system: System, sizes: Sizes) -> Drain:
    """N no-op jobs already queued; one worker process started; until all N have run."""
    n = sizes.drain
    with scratch(system) as folder:
        db = folder / "jobs.db"
        log = CompletionLog(folder / "done.log")
        system.prefill(db, n)
        worker = start_worker(system, folder, log, sizes)
        seen = log.wait_for(n, worker.started + sizes.cap, worker.alive)
        finished, finished_wall = time.monotonic(), time.time()
        usage = worker.stop()
        tally = Tally.of(log.read(), n)
        problems = []
        if usage.exit_code != 0:
            problems.append(f"worker exited with {usage.exit_code}: {worker.stderr_tail()}")
        if tally.duplicates:
            problems.append(f"{tally.duplicates} duplicate runs")
        if tally.distinct == n:
            problems.append(system.check_drained(db, n) or "")
        from_start = Rate(min(tally.distinct, seen), n, finished - worker.started)
        after_first = None
        if tally.first_started is not None:
            after_first = Rate(
                max(0, tally.distinct - 1), n - 1, finished_wall - tally.first_started
            )
        return Drain(
            from_start=from_start,
            after_first=after_first,
            peak_rss_bytes=usage.peak_rss_bytes,
            cpu_seconds=usage.cpu_seconds,
            problem="; ".join(p for p in problems if p) or None,
        )


def latency(system: System, sizes: Sizes) -> Latency:
    """An idle worker; jobs sent one at a time, a few ms apart; enqueue-to-start times."""
    n = sizes.latency
    with scratch(system) as folder:
        db = folder / "jobs.db"
        log = CompletionLog(folder / "done.log")
        system.send(db, [], 0.0)  # create the schema before the worker opens the file
        worker = start_worker(system, folder, log, sizes)
        try:
            system.send(db, [-1], 0.0)  # one job to know the worker is up
            if log.wait_for(1, worker.started + WORKER_BOOT_CAP, worker.alive) < 1:
                return Latency([], n, 0.0, f"the worker did not start: {worker.stderr_tail()}")
            cpu = worker.cpu_seconds()
            time.sleep(SETTLE)
            idle = (worker.cpu_seconds() - cpu) / SETTLE
            system.send(db, range(n), sizes.latency_interval)
            log.wait_for(n + 1, time.monotonic() + sizes.cap, worker.alive)
        finally:
            usage = worker.stop()
        problem = None
        if usage.exit_code != 0:
            problem = f"worker exited with {usage.exit_code}: {worker.stderr_tail()}"
        return Latency(first_latencies_ms(log.read()), n, idle, problem)
