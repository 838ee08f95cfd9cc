"""Huey with its SQLite storage (`huey.SqliteHuey`): the producer side of each workload.

Huey's defaults are kept: WAL, SQLite's default synchronous level (FULL in this build; the
run prints what the connection reports), results stored, pickle serializer.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from huey import SqliteHuey

from benchmarks import completions
from benchmarks.measure import WARMUP, Rate

TASK_NAME = "bench.record"
MAP_BATCH = 1000


def record(index: int, sent: float) -> None:
    """A no-op job that only notes, outside the queue, that it ran."""
    completions.record(index, sent)


def make_huey(db: Path, fsync: bool | None = None) -> tuple[Any, Any]:
    """A SqliteHuey on `db` and its task; `fsync=None` leaves SQLite's default in place."""
    huey = SqliteHuey(name="bench", filename=str(db), fsync=fsync)
    return huey, huey.task(name=TASK_NAME)(record)


def synchronous_level(db: Path) -> str:
    """What `PRAGMA synchronous` says on a connection Huey opened with its defaults."""
    huey, _ = make_huey(db)
    try:
        (level,) = huey.storage.sql("PRAGMA synchronous", results=True)[0]
    finally:
        huey.storage.close()
    return {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(level, str(level))


class HueySQLite:
    name = "huey"
    worker_module = "benchmarks.huey_worker"
    stop_signal = signal.SIGINT  # Huey's graceful stop

    def settings(self, concurrency: int) -> list[str]:
        return [
            "`SqliteHuey(filename=…)`: WAL, SQLite's default synchronous level; its consumer "
            f"with `workers={concurrency}, worker_type='thread'`, other options at their "
            "defaults; the task is a plain function run by a worker thread; the threads share "
            "one SQLite connection behind a lock and take one job per transaction",
            "removes a job from the queue before running it (at-most-once: a crash loses the "
            "running job); each worker thread polls an empty queue, waiting 0.1 s at first, "
            "then x1.15 per empty poll up to 10 s (its defaults)",
        ]

    def enqueue_single(self, db: Path, n: int, deadline: float) -> Rate:
        huey, task = make_huey(db)
        try:
            for _ in range(WARMUP):
                task(-1, time.time())
            done = 0
            start = time.perf_counter()
            for i in range(n):
                task(i, time.time())
                done += 1
                if time.monotonic() > deadline:
                    break
            return Rate(done, n, time.perf_counter() - start)
        finally:
            huey.storage.close()

    def enqueue_concurrent(self, db: Path, n: int, producers: int, deadline: float) -> None:
        return None  # no async API to run concurrent producers on one loop

    def enqueue_bulk(self, db: Path, n: int, deadline: float) -> Rate:
        """`task.map`, the nearest Huey has to a bulk API: it enqueues one job at a time."""
        huey, task = make_huey(db)
        try:
            task.map([(-1, time.time()) for _ in range(WARMUP)])
            done = 0
            start = time.perf_counter()
            for first in range(0, n, MAP_BATCH):
                batch = range(first, min(first + MAP_BATCH, n))
                task.map([(i, time.time()) for i in batch])
                done += len(batch)
                if time.monotonic() > deadline:
                    break
            return Rate(done, n, time.perf_counter() - start)
        finally:
            huey.storage.close()

    def prefill(self, db: Path, n: int) -> None:
        # Setup only, not timed: synchronous=OFF on this producer connection alone keeps it
        # quick (the setting is per connection; the worker opens its own with the default).
        huey, task = make_huey(db, fsync=False)
        try:
            for i in range(n):
                task(i, time.time())
        finally:
            huey.storage.close()

    def send(self, db: Path, indices: Sequence[int], interval: float) -> None:
        huey, task = make_huey(db)
        try:
            start = time.monotonic()
            for k, i in enumerate(indices):
                time.sleep(max(0.0, start + k * interval - time.monotonic()))
                task(i, time.time())
        finally:
            huey.storage.close()

    def check_drained(self, db: Path, n: int) -> str | None:
        huey, _ = make_huey(db)
        try:
            left = int(huey.storage.queue_size())
        finally:
            huey.storage.close()
        return None if left == 0 else f"huey still holds {left} queued jobs"
