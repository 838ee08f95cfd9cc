"""Progress lines on stderr, one per cell as it finishes; kept for the results file too."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TypeVar

from benchmarks.measure import Drain, Latency, Rate

T = TypeVar("T")


class Progress:
    """Says each line at once and keeps it."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def say(self, message: str) -> None:
        self.lines.append(message)
        print(message, file=sys.stderr, flush=True)

    def timed(self, label: str, run: Callable[[], T], describe: Callable[[T], str]) -> T:
        start = time.monotonic()
        outcome = run()
        self.say(f"  {label}: {describe(outcome)} [{time.monotonic() - start:.1f} s]")
        return outcome


def show_rate(rate: Rate | None) -> str:
    if rate is None:
        return "n/a"
    mark = "" if rate.complete else f" PARTIAL {rate.done}/{rate.wanted}"
    return f"{rate.per_second:,.0f} jobs/s{mark}"


def show_drain(drain: Drain) -> str:
    text = f"{show_rate(drain.from_start)}, peak RSS {drain.peak_rss_bytes / 2**20:.0f} MB"
    return text + (f" PROBLEM {drain.problem}" if drain.problem else "")


def show_latency(run: Latency) -> str:
    if len(run.samples_ms) < 2:
        return f"no samples ({run.problem})"
    text = f"p50 {run.percentile(50):.1f} ms, p99 {run.percentile(99):.1f} ms"
    return text + ("" if run.complete else f" PARTIAL {len(run.samples_ms)}/{run.wanted}")
