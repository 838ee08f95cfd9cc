"""One system's cells over the rounds; a cell that fails keeps its error and the run goes on."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.versus.venvs import SetupFailed, interpreter
from benchmarks.versus.workloads import (
    Drained,
    Enqueued,
    Idle,
    PeerFailed,
    Server,
    Sizes,
    System,
)

T = TypeVar("T")
Say = Callable[[str], None]


@dataclasses.dataclass
class Outcome:
    name: str
    described: dict[str, Any] = dataclasses.field(default_factory=dict)
    error: str | None = None  # it could not be set up: no cell ran
    single: list[Enqueued] = dataclasses.field(default_factory=list)
    bulk: list[Enqueued] = dataclasses.field(default_factory=list)
    drains: list[Drained] = dataclasses.field(default_factory=list)
    one_calls: list[Drained] = dataclasses.field(default_factory=list)  # drains, 1 call per job
    idles: list[Idle] = dataclasses.field(default_factory=list)
    errors: dict[str, str] = dataclasses.field(default_factory=dict)  # cell -> the last error

    @property
    def has_bulk(self) -> bool:
        return bool(self.described.get("bulk_api"))


def prepare(
    name: str, server: Server, folder: Path, sizes: Sizes, say: Say
) -> tuple[System | None, Outcome]:
    """Its virtualenv, then `describe`: versions, settings and proof that it can connect.

    `describe` also installs what the system needs in the server (its schema, on PostgreSQL),
    and the server keeps that state as where each of the system's cells starts from.
    """
    outcome = Outcome(name)
    try:
        system = System(name, interpreter(name, say), server, folder)
        server.reset(name)
        outcome.described = system.describe(sizes)
        server.installed(name)
    except (SetupFailed, PeerFailed) as exc:
        outcome.error = str(exc)
        say(f"  {name}: cannot run: {exc}")
        return None, outcome
    return system, outcome


def run_round(system: System, sizes: Sizes, outcome: Outcome, say: Say) -> None:
    """Every workload the sizes select, once, in the same order for every system."""
    name, selected = system.name, sizes.workloads

    def cell(label: str, run: Callable[[], T], describe: Callable[[T], str]) -> T | None:
        start = time.monotonic()
        try:
            result = run()
        except Exception as exc:  # a broken peer shows its error in the table, the run goes on
            outcome.errors[label] = str(exc) or type(exc).__name__
            say(f"  {name} {label}: FAILED {exc} [{time.monotonic() - start:.1f} s]")
            return None
        say(f"  {name} {label}: {describe(result)} [{time.monotonic() - start:.1f} s]")
        return result

    if "enqueue" in selected:
        single = cell("enqueue", lambda: system.enqueue(sizes, bulk=False), _show_enqueued)
        if single is not None:
            outcome.single.append(single)
    if "bulk" in selected and outcome.has_bulk:
        bulk = cell("bulk enqueue", lambda: system.enqueue(sizes, bulk=True), _show_enqueued)
        if bulk is not None:
            outcome.bulk.append(bulk)
    if "drain" in selected:
        drained = cell("drain", lambda: system.drain(sizes), _show_drained)
        if drained is not None:
            outcome.drains.append(drained)
    if "latency" in selected:
        idle = cell("latency", lambda: system.latency(sizes), _show_idle)
        if idle is not None:
            outcome.idles.append(idle)
    if "one-call" in selected:
        called = cell("one call", lambda: system.drain(sizes, one_call=True), _show_drained)
        if called is not None:
            outcome.one_calls.append(called)


def _show_enqueued(result: Enqueued) -> str:
    rate = result.rate
    mark = "" if rate.complete else f" PARTIAL {rate.done}/{rate.wanted}"
    return (
        f"{rate.per_second:,.0f} jobs/s{mark}; server {result.cost.calls_per_job:.2f} "
        f"calls/job ({result.cost.top()})"
    )


def _show_drained(result: Drained) -> str:
    drain, rate = result.drain, result.drain.from_start
    mark = "" if rate.complete else f" PARTIAL {rate.done}/{rate.wanted}"
    after = drain.after_first.per_second if drain.after_first else 0.0
    text = (
        f"{rate.per_second:,.0f} jobs/s{mark} ({after:,.0f} after the first job), "
        f"peak RSS {drain.peak_rss_bytes / 2**20:.0f} MB; server "
        f"{result.cost.calls_per_job:.2f} calls/job ({result.cost.top()})"
    )
    return text + (f" PROBLEM {drain.problem}" if drain.problem else "")


def _show_idle(result: Idle) -> str:
    run = result.latency
    if len(run.samples_ms) < 2:
        return f"no samples ({run.problem})"
    text = f"p50 {run.percentile(50):.1f} ms, p99 {run.percentile(99):.1f} ms"
    text += "" if run.complete else f" PARTIAL {len(run.samples_ms)}/{run.wanted}"
    return text + (f" PROBLEM {run.problem}" if run.problem else "")
