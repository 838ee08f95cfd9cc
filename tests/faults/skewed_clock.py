"""`python -m faults.skewed_clock ARGS...`: the `conveyor` command on a machine whose clock is off.

A worker's machine may keep a wall clock minutes away from the store's. This process adds
FAULTS_CLOCK_SKEW seconds to `time.time()` and `time.time_ns()` before conveyor is imported,
so every wall-clock reading conveyor takes here is off by that much, and only here. The
monotonic clock (its timeouts and naps, the oracle log) is left alone, as on such a machine.
"""

from __future__ import annotations

import os
import time

SKEW_ENV = "FAULTS_CLOCK_SKEW"


def skew_the_clock(seconds: float) -> None:
    real_time, real_time_ns = time.time, time.time_ns

    def skewed_time() -> float:
        return real_time() + seconds

    def skewed_time_ns() -> int:
        return real_time_ns() + round(seconds * 1e9)

    time.time, time.time_ns = skewed_time, skewed_time_ns


if __name__ == "__main__":
    skew_the_clock(float(os.environ[SKEW_ENV]))
    from conveyor.cli import main

    main()
