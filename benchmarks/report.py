"""The markdown report: one table with ratios, the notes that qualify it, and the versions."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import platform
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks.cells import (
    DASH,
    NA,
    Cell,
    drain_figure,
    drain_rates,
    figure,
    latency_cell,
    rate_cell,
    ratio,
)
from benchmarks.machine import filesystem, machine
from benchmarks.measure import WARMUP, Drain, Latency, Rate
from benchmarks.runner import SETTLE, Sizes

SYSTEMS = ("conveyor", "huey")


@dataclasses.dataclass
class Results:
    sizes: Sizes
    rounds: int
    settings: dict[str, list[str]]
    synchronous: dict[str, str]
    single: dict[str, list[Rate]] = dataclasses.field(default_factory=dict)
    concurrent: dict[str, list[Rate | None]] = dataclasses.field(default_factory=dict)
    bulk: dict[str, list[Rate]] = dataclasses.field(default_factory=dict)
    drain: dict[str, list[Drain]] = dataclasses.field(default_factory=dict)
    latency: dict[str, list[Latency]] = dataclasses.field(default_factory=dict)


def rows(results: Results) -> list[tuple[str, Cell, Cell, str]]:
    n = results.sizes.drain
    table: list[tuple[str, Cell, Cell, str]] = []

    def add(
        label: str, cells: dict[str, Cell], against: Cell | None = None, note: str = ""
    ) -> None:
        ours, theirs = cells["conveyor"], cells["huey"]
        table.append((label, ours, theirs, ratio(ours, against or theirs, note)))

    def each(make: Callable[[str], Cell]) -> dict[str, Cell]:
        return {name: make(name) for name in SYSTEMS}

    single = each(lambda s: rate_cell(results.single.get(s, [])))
    add("enqueue, single (jobs/s)", single)
    concurrent = each(lambda s: rate_cell(results.concurrent.get(s, [])))
    concurrent["huey"] = Cell("n/a (no async API)", None)
    add(
        f"enqueue, single, {results.sizes.concurrent_producers} concurrent producers (jobs/s)",
        concurrent,
        against=single["huey"],
        note=" vs huey single",
    )
    add(
        "enqueue, bulk API (jobs/s; huey: task.map)",
        each(lambda s: rate_cell(results.bulk.get(s, []))),
    )
    drains = {s: results.drain.get(s, []) for s in SYSTEMS}
    add("drain, from worker start (jobs/s)", each(lambda s: drain_rates(drains[s], False)))
    add("drain, after the first job (jobs/s)", each(lambda s: drain_rates(drains[s], True)))
    lat = {s: results.latency.get(s, []) for s in SYSTEMS}
    for p in (50, 95, 99):
        add(
            f"latency p{p}, enqueue to start (ms)",
            {s: latency_cell(lat[s], p) for s in SYSTEMS},
        )
    add(
        "worker peak RSS during the drain (MB)",
        each(lambda s: drain_figure(drains[s], lambda d: d.peak_rss_bytes / 2**20, 1)),
    )
    add(
        "worker CPU per drained job (µs)",
        each(lambda s: drain_figure(drains[s], lambda d: d.cpu_seconds / n * 1e6, 0)),
    )
    add(
        "idle worker CPU (% of one core)",
        each(lambda s: figure([r.idle_cpu_fraction * 100 for r in lat[s]], 1) if lat[s] else NA),
    )
    return table


def table(results: Results, versions: dict[str, str]) -> str:
    header = (
        f"| workload | conveyor {versions['conveyor']} | huey {versions['huey']} "
        "| conveyor ÷ huey |\n|---|---:|---:|---:|\n"
    )
    body = "".join(
        f"| {label} | {ours.text} | {theirs.text} | {r} |\n"
        for label, ours, theirs, r in rows(results)
    )
    return header + body


def notes(results: Results) -> list[str]:
    sizes = results.sizes
    spread = (
        f"median of {results.rounds} rounds, (min{DASH}max) beside it; the systems swap order "
        "every round"
        if results.rounds > 1
        else "one round"
    )
    items = [
        f"Sizes: enqueue single {sizes.single:,} jobs, bulk {sizes.bulk:,}, drain "
        f"{sizes.drain:,}, latency {sizes.latency:,} samples per round "
        f"{sizes.latency_interval * 1000:g} ms apart; each cell capped at {sizes.cap:g} s. "
        f"Figures: {spread}. Every cell uses a fresh database in a new temporary folder.",
        "Ratio = conveyor ÷ huey: above 1 favours conveyor on jobs/s rows, below 1 on "
        "ms, MB, µs and % rows.",
        "Durability: conveyor synchronous="
        f"{results.synchronous.get('conveyor', '?')}; huey's connection reports "
        f"synchronous={results.synchronous.get('huey', '?')}. Both in WAL mode.",
    ]
    for name in SYSTEMS:
        items += [f"{name}: {line}" for line in results.settings.get(name, [])]
    items += [
        "Enqueue rows: producers in the benchmark's own process, no worker running; "
        f"{WARMUP} warm-up enqueues first. conveyor awaits `task.enqueue(...)` one at a time; "
        "huey calls `task(...)`. The concurrent row runs that many coroutines on one loop "
        "(conveyor shares commits between them); huey has no async API, so its ratio is "
        "taken against huey's single figure.",
        "Bulk row: conveyor `app.enqueue_many` in batches of 1,000 (one transaction each); "
        "huey has no bulk enqueue, and `task.map`, measured here, enqueues one job per "
        "transaction.",
        "Drain: jobs queued beforehand; one worker process started with subprocess; the "
        "clock runs from spawning it (Python start-up and imports included) until the parent "
        "sees the last completion. Each job appends a record to a separate file (not the "
        "queue); a rate is printed only when all N distinct jobs ran. After the stop, "
        "conveyor's own counts must show N succeeded and huey's queue must be empty.",
        "Latency: one warm-up job proves the worker is up, then it sits idle "
        f"{SETTLE:g} s (the idle CPU row) before jobs are sent one at a time. The job carries "
        "`time.time()` taken just before the enqueue call (so its commit is included); the "
        "task subtracts it from its own start time. Percentiles pool all rounds. A longer "
        "idle period would let huey's polling back off further (to 10 s per thread).",
        "Memory and CPU: the drain worker's peak RSS is the kernel's high-water mark "
        "(`VmHWM`) read when the last job is seen (`ru_maxrss` would report the parent's RSS "
        "at fork); its CPU is user+system time from `wait4`, start-up included, divided by N.",
        "Logging: no handlers are configured in either worker, so per-job log records are "
        "dropped (Python shows warnings only).",
    ]
    problems = [
        f"{name} {workload} round {k + 1}: {problem}"
        for name in SYSTEMS
        for workload, seen in (
            ("drain", [d.problem for d in results.drain.get(name, [])]),
            ("latency", [run.problem for run in results.latency.get(name, [])]),
        )
        for k, problem in enumerate(seen)
        if problem
    ]
    items += [f"**Problem** {p}" for p in problems]
    return items


def versions() -> dict[str, str]:
    found = {name: importlib.metadata.version(name) for name in ("conveyor", "huey", "psutil")}
    found["python"] = platform.python_version()
    found["sqlite"] = sqlite3.sqlite_version
    return found


def render(results: Results, folder: Path) -> str:
    found = versions()
    lines = [
        "## conveyor vs Huey on SQLite",
        "",
        table(results, found),
        *[f"- {item}" for item in notes(results)],
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in found.items()) + f"; {sys.executable}",
        "",
        f"Machine: {machine()}; databases on {filesystem(folder)}",
        "",
    ]
    return "\n".join(lines)
