"""The markdown table: each variant's drain as a ratio to the same drain with no middleware."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import statistics
import sys
from collections.abc import Callable

from benchmarks.cells import DASH, TIMES, Cell, figure, rate_cell
from benchmarks.observability.drain import Cell as Drained
from benchmarks.observability.drain import Result, Sizes
from benchmarks.observability.jobs import Workload
from benchmarks.observability.variants import DESCRIPTIONS, VARIANTS, Variant

# the aims, as the least share of the no-middleware drain rate a variant keeps
AIMS: dict[Variant, float] = {"metrics": 0.90, "tracing": 0.75}
DISTRIBUTIONS = ("prometheus-client", "opentelemetry-api", "opentelemetry-sdk", "redis")


@dataclasses.dataclass
class Run:
    sizes: Sizes
    rounds: int
    groups: list[tuple[str, Workload]]  # (backend, workload), in the order they ran
    results: dict[Drained, list[Result]]
    machine: str
    load: tuple[str, str]  # load averages before and after
    redis_version: str | None
    skipped: list[str]  # what could not run here, and why


def paired_ratio(
    ours: list[Result], baseline: list[Result], value: Callable[[Result], float | None]
) -> Cell:
    """The median over rounds of ours / baseline, each pair measured side by side in one
    round: slow drift on a shared machine cancels out of a pair."""
    ratios = []
    for mine, base in zip(ours, baseline, strict=True):
        a, b = value(mine), value(base)
        if mine.counted and base.counted and a and b:
            ratios.append(a / b)
    if not ratios:
        return Cell(DASH, None)
    middle = statistics.median(ratios)
    spread = f" ({min(ratios):.2f}{DASH}{max(ratios):.2f})" if len(ratios) > 1 else ""
    return Cell(f"{middle:.2f}{TIMES}{spread}", middle)


def rate(result: Result) -> float | None:
    return result.rate.per_second


def cpu(result: Result) -> float | None:
    return result.cpu_per_job


def cpu_cell(results: list[Result]) -> Cell:
    values = [r.cpu_per_job * 1e6 for r in results if r.counted and r.cpu_per_job]
    return figure(values) if values else Cell(DASH, None)


def verdict(variant: Variant, kept: Cell) -> str:
    aim = AIMS.get(variant)
    if aim is None or kept.value is None:
        return ""
    cost = f"costs {1 - kept.value:.1%}" if kept.value < 1 else "costs nothing measurable"
    return f"{cost}: {'within' if kept.value >= aim else 'OVER'} the aim (<{1 - aim:.0%})"


def table(run: Run) -> list[str]:
    lines = [
        "| backend | job | middleware | drain (jobs/s) | rate vs none | worker CPU/job (µs) "
        "| CPU vs none | against the aim |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for backend, workload in run.groups:
        baseline = run.results[Drained(backend, workload, "off")]
        for variant in VARIANTS:
            results = run.results[Drained(backend, workload, variant)]
            if variant == "off":
                kept, cpu_ratio = Cell("1", 1.0), Cell("1", 1.0)
            else:
                kept = paired_ratio(results, baseline, rate)
                cpu_ratio = paired_ratio(results, baseline, cpu)
            drain = rate_cell([r.rate if r.problem is None else None for r in results])
            problems = sorted({r.problem for r in results if r.problem})
            if problems:
                drain = Cell(f"{drain.text}; PROBLEM: {' / '.join(problems)}", None)
            lines.append(
                f"| {backend} | {workload} | {variant} | {drain.text} | {kept.text} "
                f"| {cpu_cell(results).text} | {cpu_ratio.text} | {verdict(variant, kept)} |"
            )
    return lines


def versions() -> str:
    found = []
    for name in DISTRIBUTIONS:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} not installed")
    return f"python {sys.version.split()[0]}, " + ", ".join(found)


def render(run: Run) -> str:
    sizes = run.sizes
    notes = [
        f"One worker process (`Worker(app, concurrency={sizes.concurrency})`) drains "
        f"{sizes.n:,} queued jobs per cell; {run.rounds} round(s), the four variants of each "
        "row group side by side, in alternating order from round to round.",
        "drain: jobs/s from the first job's start to the last's (interpreter start-up and "
        f"imports left out), median (min{DASH}max) over rounds. CPU/job: the worker's user + "
        "system time over the same span. `vs none`: the median of the per-round ratios to "
        "the no-middleware drain of the same round.",
        "Every job verified: each of the N ran exactly once by the completion log kept "
        "outside the queue, the queue's own counts agree (N succeeded, nothing else), and "
        "in `one-call` the Redis counter equals the runs. A cell with a problem is shown "
        "with it and left out of the ratios.",
        "Jobs: `noop` records that it ran; `one-call` first makes one Redis `INCR` (one "
        "round trip of its own, as a job that does something).",
        "SQLite: `sqlite:///` in a fresh temporary file (WAL, synchronous=FULL). Redis: a "
        "private redis-server"
        + (f" {run.redis_version}" if run.redis_version else "")
        + " with persistence off, flushed before each cell.",
        "Jobs are enqueued through the variant's middleware (not timed), so with tracing "
        "each carries the trace context of its PRODUCER span. Nothing scrapes /metrics "
        "during the drain.",
        *(f"{name}: {DESCRIPTIONS[name]}." for name in VARIANTS),
        f"Aims (issue 11): metrics under {1 - AIMS['metrics']:.0%} of the drain rate, "
        f"tracing under {1 - AIMS['tracing']:.0%}.",
        f"{run.machine}; load average before {run.load[0]}, after {run.load[1]}.",
        versions() + ".",
        *run.skipped,
    ]
    return "\n".join(
        [
            "## What metrics and tracing cost a drain",
            "",
            *table(run),
            "",
            *(f"- {note}" for note in notes),
            "",
        ]
    )
