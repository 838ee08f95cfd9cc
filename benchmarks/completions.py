"""A completion log kept outside the queues under test.

Every benchmark job appends one fixed-size record (its index, when it started, and how long
after its enqueue it started) to a plain file opened with O_APPEND. A single small `write`
on a local file is atomic, so worker threads and processes can share the file without a lock,
and the parent counts completions from the file's size without asking either queue.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import time
from collections.abc import Callable, Sequence
from pathlib import Path

RECORD = struct.Struct("<qdd")  # index, started (epoch s), started - enqueued (s)

_fd: int | None = None


def open_for_writing(path: Path) -> None:
    """Called once in a worker process, before any job runs."""
    global _fd
    _fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def record(index: int, sent: float) -> None:
    """The body of every benchmark job: note that job `index` ran, and when."""
    assert _fd is not None, "open_for_writing() was not called in this process"
    started = time.time()
    os.write(_fd, RECORD.pack(index, started, started - sent))


@dataclasses.dataclass(frozen=True, slots=True)
class Completion:
    index: int
    started: float
    latency: float


class CompletionLog:
    """The reading side, in the benchmark's own process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()

    def count(self) -> int:
        """Completions so far (duplicates included), from the file size alone."""
        return self.path.stat().st_size // RECORD.size

    def read(self) -> list[Completion]:
        data = self.path.read_bytes()
        usable = len(data) - len(data) % RECORD.size
        return [Completion(*fields) for fields in RECORD.iter_unpack(data[:usable])]

    def wait_for(
        self, total: int, deadline: float, alive: Callable[[], bool], poll: float = 0.002
    ) -> int:
        """Poll until `total` completions are in, the worker dies or the deadline passes."""
        while self.count() < total and time.monotonic() < deadline and alive():
            time.sleep(poll)
        return self.count()


@dataclasses.dataclass(frozen=True, slots=True)
class Tally:
    """What a log says about jobs 0..n-1; warm-up jobs (negative indices) are left out."""

    distinct: int  # how many of the n jobs ran at least once
    duplicates: int  # runs beyond the first of the same job
    first_started: float | None  # epoch seconds when the earliest of them started

    @staticmethod
    def of(runs: Sequence[Completion], n: int) -> Tally:
        counted = [c for c in runs if 0 <= c.index < n]
        distinct = len({c.index for c in counted})
        first = min((c.started for c in counted), default=None)
        return Tally(distinct, len(counted) - distinct, first)


def first_latencies_ms(runs: Sequence[Completion]) -> list[float]:
    """Enqueue-to-start of each job's first run, in ms (warm-up jobs left out)."""
    first: dict[int, float] = {}
    for c in runs:
        if c.index >= 0:
            first.setdefault(c.index, c.latency * 1000)
    return list(first.values())
