"""What the Redis run adds to the shared table: its kind, the ceiling row and the notes."""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.cells import DASH
from benchmarks.redis_bench.ceiling import Ceiling
from benchmarks.versus.report import Kind, short

KIND = Kind(
    server="Redis",
    calls="commands",
    reset="FLUSHALL before every cell; Redis commands count those run inside Lua scripts too",
)


def ceiling_row(ceilings: Sequence[Ceiling], error: str | None, width: int) -> list[str]:
    if error is not None or not ceilings:
        return ["redis-benchmark", f"failed: {short(error or 'not run')}", *[DASH] * (width - 2)]

    def show(test: str) -> str:
        return "; ".join(
            f"{test} {c.ops_per_second.get(test, 0):,.0f}/s (-P {c.pipeline})" for c in ceilings
        )

    tests = ["redis-benchmark (ceiling)", show("LPUSH"), show("SET"), show("LPOP")]
    return [*tests, *[DASH] * (width - len(tests))]


def notes(ceilings: Sequence[Ceiling], redis_version: str) -> list[str]:
    ceiling = "; ".join(f"`{c.command}`" for c in ceilings) or "not run"
    return [f"Ceiling: {ceiling}. Redis {redis_version}, private server, no persistence."]
