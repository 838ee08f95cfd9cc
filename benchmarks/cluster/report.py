"""The comparison as a Markdown table: each workload's rate on both sides, the ratio of the
cluster to the single server, and where the CPU went."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence

from benchmarks.cluster.workloads import BULK, DRAIN, SINGLE, SPREAD, Cell

SIDES = ("single Redis", "Redis Cluster")
WORKLOADS = (DRAIN, SINGLE, BULK, SPREAD)


@dataclasses.dataclass(frozen=True, slots=True)
class Sizes:
    drain: int  # jobs drained from one store by one worker process
    single: int  # jobs enqueued one call at a time
    bulk: int  # jobs enqueued in calls of 1,000
    spread: int  # jobs per store in the drain of three stores at once
    rounds: int


@dataclasses.dataclass(frozen=True, slots=True)
class Run:
    command: str
    sizes: Sizes
    prefixes: list[str]
    cells: list[Cell]
    servers: list[str]  # each side's servers, described
    machine: str
    load_average: tuple[str, str]
    seconds: float


def labels(sizes: Sizes, stores: int) -> dict[str, str]:
    return {
        DRAIN: f"drain: {sizes.drain:,} jobs, one store, one worker process",
        SINGLE: f"single enqueue: {sizes.single:,} calls, one store",
        BULK: f"bulk enqueue: {sizes.bulk:,} jobs in calls of 1,000, one store",
        SPREAD: f"drain: {stores} stores of {sizes.spread:,} jobs, a worker process each (total)",
    }


def render(run: Run) -> str:
    named = labels(run.sizes, len(run.prefixes))
    lines = [
        "# Redis Cluster against a single Redis",
        "",
        f"`{run.command}`: each workload on one redis-server and on a Redis Cluster of "
        f"{len(run.prefixes)} masters, on loopback; cluster/single is the median of each "
        "round's ratio (1.00x: as fast), rates are medians in jobs/s. CPU per job: the "
        "worker processes' (this process's, for enqueues) / every redis-server's of the side.",
        "",
        "| workload | single Redis | Redis Cluster | cluster/single "
        "| CPU/job, single | CPU/job, cluster |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for workload in WORKLOADS:
        mine = [cell for cell in run.cells if cell.workload == workload]
        sides = [[cell for cell in mine if cell.side == side] for side in SIDES]
        rates = [_rate(cells) for cells in sides]
        cpus = [_cpu(cells) for cells in sides]
        lines.append(
            f"| {named[workload]} | {rates[0]} | {rates[1]} | {_ratio(mine)} "
            f"| {cpus[0]} | {cpus[1]} |"
        )
    lines += [
        "",
        "Drains: the jobs enqueued in bulk with their queue paused, `conveyor worker "
        "--concurrency 100` started per store, the queues resumed once every worker is up; the "
        "rate runs from the resume to the last completion. Every job is counted in a log "
        "outside the store, and the store must count every one succeeded, before a rate is "
        "shown. Enqueues: from this process after 100 warm-up calls; the store must then hold "
        "every job.",
        f"Stores: prefixes {', '.join(f'`{p}`' for p in run.prefixes)}, whose hash tags fall "
        "on different masters of the cluster; the one-store workloads use the first. On the "
        "single Redis they share the one server. Every server is emptied before each cell; "
        f"{run.sizes.rounds} round(s), the side that goes first alternating.",
        *_duplicates(run.cells),
        "",
        *(f"- {server}" for server in run.servers),
        f"- {run.machine}; load average {run.load_average[0]} before, {run.load_average[1]} "
        f"after; {run.seconds / 60:.1f} minutes in all.",
        "",
    ]
    return "\n".join(lines)


def _duplicates(cells: Sequence[Cell]) -> list[str]:
    twice = [cell for cell in cells if cell.duplicates]
    return [
        f"Jobs run twice (at-least-once): {cell.duplicates} in a {cell.workload} on the "
        f"{cell.side}."
        for cell in twice
    ]


def _rate(cells: Sequence[Cell]) -> str:
    failed = next((cell for cell in cells if not cell.complete), None)
    if failed is not None:
        return describe(failed)
    if not cells:
        return "not measured"
    return f"{statistics.median(cell.rate for cell in cells):,.0f}"


def _ratio(cells: Sequence[Cell]) -> str:
    """The median of each round's cluster/single, only if every cell of the row ran in full."""
    if not cells or not all(cell.complete for cell in cells):
        return ""
    single = [cell.rate for cell in cells if cell.side == SIDES[0]]
    cluster = [cell.rate for cell in cells if cell.side == SIDES[1]]
    ratios = [mine / theirs for mine, theirs in zip(cluster, single, strict=True)]
    return f"{statistics.median(ratios):.2f}x"


def _cpu(cells: Sequence[Cell]) -> str:
    good = [cell for cell in cells if cell.complete]
    if not good:
        return ""
    client = statistics.median(cell.client_cpu / cell.done for cell in good) * 1e6
    server = statistics.median(cell.server_cpu / cell.done for cell in good) * 1e6
    return f"{client:,.0f} / {server:,.0f} µs"


def describe(cell: Cell) -> str:
    if cell.problem:
        return f"not measured: {cell.problem}"
    partial = "" if cell.done == cell.wanted else f" (PARTIAL: {cell.done:,} of {cell.wanted:,})"
    return f"{cell.rate:,.0f}{partial}"
