"""The overview's charts: jobs ended per minute, by outcome, from the store's counters.

The counters (`Backend.outcome_counts`) are per minute, queue and task; a chart sums them
per minute into one series per outcome, with a zero for each quiet minute, as the columns
uPlot draws: `{"t": [minute, ...], "succeeded": [n, ...], ...}`. Reads are shared by the
requests of a few seconds (every open overview polls), so many viewers cost the store one
read per window.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from conveyor.backends.base import OutcomeCount, minute_of

WINDOWS = {"hour": 3600.0, "day": 86400.0}
SHOWN = ("succeeded", "failed", "retried", "cancelled")
Series = dict[str, list[float]]


def series(counts: list[OutcomeCount], now: float, window: float) -> Series:
    """One column per outcome in SHOWN, per minute of the window ending at `now`."""
    last = minute_of(now)
    first = last - window + 60.0
    minutes = int((last - first) // 60) + 1
    columns: Series = {"t": [first + 60.0 * i for i in range(minutes)]}
    for outcome in SHOWN:
        columns[outcome] = [0.0] * minutes
    for count in counts:
        if count.outcome in SHOWN and first <= count.minute <= last:
            columns[count.outcome][int((count.minute - first) // 60)] += count.count
    return columns


class SharedReads:
    """Reads of the counters, each kept `fresh_for` seconds and shared while it lasts."""

    def __init__(self, fresh_for: float) -> None:
        self.fresh_for = fresh_for
        self._kept: dict[str, tuple[float, Series]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, window: str, read: Callable[[], Awaitable[Series]]) -> Series:
        kept = self._kept.get(window)
        if kept is not None and time.monotonic() - kept[0] < self.fresh_for:
            return kept[1]
        lock = self._locks.setdefault(window, asyncio.Lock())
        async with lock:
            kept = self._kept.get(window)
            if kept is not None and time.monotonic() - kept[0] < self.fresh_for:
                return kept[1]
            value = await read()
            self._kept[window] = (time.monotonic(), value)
            return value

    def totals(self, window: str) -> dict[str, int] | None:
        """The sums of the last read of `window`, if any."""
        kept = self._kept.get(window)
        if kept is None:
            return None
        return {outcome: int(sum(kept[1][outcome])) for outcome in SHOWN}
