"""What a benchmark cell holds: rates, drains and latencies, with their honesty checks."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence

WARMUP = 50  # calls each producer makes before its clock starts: connections and caches warm


@dataclasses.dataclass(frozen=True, slots=True)
class Rate:
    """`done` of `wanted` jobs in `seconds`; only a complete rate is reported as a figure."""

    done: int
    wanted: int
    seconds: float

    @property
    def complete(self) -> bool:
        return self.done >= self.wanted

    @property
    def per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0


@dataclasses.dataclass(frozen=True, slots=True)
class Drain:
    from_start: Rate  # from spawning the worker process until the last completion is seen
    after_first: Rate | None  # from the first job's start: leaves out interpreter start-up
    peak_rss_bytes: int
    cpu_seconds: float  # the worker's user + system time over its whole life
    problem: str | None = None  # the queue disagrees with the log, the worker failed, ...


@dataclasses.dataclass(frozen=True, slots=True)
class Latency:
    samples_ms: list[float]  # enqueue-to-start of each job, in ms
    wanted: int
    idle_cpu_fraction: float  # of one core, while the worker waited with nothing to do
    problem: str | None = None

    @property
    def complete(self) -> bool:
        return len(self.samples_ms) >= self.wanted

    def percentile(self, p: int) -> float:
        return percentile(self.samples_ms, p)


def percentile(samples: Sequence[float], p: int) -> float:
    """The p-th percentile (1..99), interpolated between the nearest samples."""
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]
