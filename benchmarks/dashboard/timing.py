"""Timing the calls: one warm-up round, then rounds in a shuffled order, each call at most
`cap` seconds in all (a slow call reports the requests it made, not the whole budget)."""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections.abc import Sequence

from benchmarks.dashboard.calls import Call


@dataclasses.dataclass(slots=True)
class Timing:
    name: str
    kind: str
    wanted: int
    ms: list[float] = dataclasses.field(default_factory=list)
    error: str | None = None

    @property
    def complete(self) -> bool:
        return len(self.ms) >= self.wanted

    def percentile(self, p: float) -> float:
        """Nearest rank: the smallest sample with at least p% of them at or below it."""
        ordered = sorted(self.ms)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


async def time_calls(
    calls: Sequence[Call], requests: int, cap: float, rng: random.Random
) -> list[Timing]:
    timings = {call.name: Timing(call.name, call.kind, requests) for call in calls}
    spent = dict.fromkeys(timings, 0.0)
    for call in calls:  # the warm-up: templates compiled, connections made, caches filled
        try:
            await call.run()
        except Exception as exc:
            timings[call.name].error = f"{type(exc).__name__}: {exc}"[:300]
    for _ in range(requests):
        order = list(calls)
        rng.shuffle(order)
        for call in order:
            timing = timings[call.name]
            if timing.error is not None or spent[call.name] > cap:
                continue
            start = time.perf_counter()
            try:
                await call.run()
            except Exception as exc:
                timing.error = f"{type(exc).__name__}: {exc}"[:300]
                continue
            elapsed = time.perf_counter() - start
            spent[call.name] += elapsed
            timing.ms.append(elapsed * 1000)
    return list(timings.values())
