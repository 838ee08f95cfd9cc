"""What a server did between two snapshots: its calls by name, its CPU, and other counters.

A call is a Redis command or a PostgreSQL statement; the other counters (commits, rows
written, WAL bytes...) are whatever the server reports beside them, per job in the table.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True)
class Snapshot:
    calls: dict[str, int]  # call name -> times run since the server started (or was reset)
    cpu_seconds: float  # the server's user + system time
    totals: dict[str, float] = dataclasses.field(default_factory=dict)  # counters, by name

    def since(self, before: Snapshot, jobs: int) -> Cost:
        delta = {name: calls - before.calls.get(name, 0) for name, calls in self.calls.items()}
        totals = {name: value - before.totals.get(name, 0) for name, value in self.totals.items()}
        return Cost(
            jobs, {k: v for k, v in delta.items() if v}, self.cpu_seconds - before.cpu_seconds,
            totals,
        )  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class Cost:
    """What the server did for `jobs` jobs."""

    jobs: int
    calls: dict[str, int]
    cpu_seconds: float
    totals: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def calls_per_job(self) -> float:
        return sum(self.calls.values()) / max(self.jobs, 1)

    @property
    def cpu_us_per_job(self) -> float:
        return self.cpu_seconds * 1e6 / max(self.jobs, 1)

    def per_job(self, total: str) -> float:
        return self.totals.get(total, 0.0) / max(self.jobs, 1)

    def top(self, count: int = 4) -> str:
        """The busiest calls per job, e.g. `hset 2.00; evalsha 1.00` (statements hold commas)."""
        ranked = sorted(self.calls.items(), key=lambda kv: -kv[1])[:count]
        return "; ".join(f"{name} {calls / max(self.jobs, 1):.2f}" for name, calls in ranked)
