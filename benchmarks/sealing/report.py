"""The markdown table: each variant's enqueue and drain, per job, and as ratios to no keys."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import statistics
import sys
from collections.abc import Callable

from benchmarks.cells import DASH, TIMES, Cell, figure
from benchmarks.sealing.cell import DESCRIPTIONS, VARIANTS, Result, Sizes, Variant


@dataclasses.dataclass
class Run:
    sizes: Sizes
    rounds: int
    backends: list[str]  # in the order they ran
    results: dict[tuple[str, Variant], list[Result]]
    machine: str
    load: tuple[str, str]  # load averages before and after
    servers: list[str]  # the versions of the servers used
    skipped: list[str]  # what could not run here, and why


def per_job(value: Callable[[Result], float], n: int) -> Callable[[Result], float]:
    """A half's seconds as microseconds per job."""
    return lambda result: value(result) / n * 1e6


def figures(results: list[Result], value: Callable[[Result], float]) -> Cell:
    values = [value(r) for r in results if r.problem is None]
    return figure(values, 1) if values else Cell(DASH, None)


def paired_ratio(
    ours: list[Result], baseline: list[Result], value: Callable[[Result], float]
) -> Cell:
    """The median over rounds of ours / baseline, each pair measured side by side in one
    round: slow drift on a shared machine cancels out of a pair."""
    ratios = [
        value(mine) / value(base)
        for mine, base in zip(ours, baseline, strict=True)
        if mine.problem is None and base.problem is None and value(base) > 0
    ]
    if not ratios:
        return Cell(DASH, None)
    middle = statistics.median(ratios)
    spread = f" ({min(ratios):.2f}{DASH}{max(ratios):.2f})" if len(ratios) > 1 else ""
    return Cell(f"{middle:.2f}{TIMES}{spread}", middle)


def table(run: Run) -> list[str]:
    n = run.sizes.n
    columns: list[tuple[str, Callable[[Result], float]]] = [
        ("enqueue wall", per_job(lambda r: r.enqueue.seconds, n)),
        ("enqueue CPU", per_job(lambda r: r.enqueue.cpu_seconds, n)),
        ("drain wall", per_job(lambda r: r.drain.seconds, n)),
        ("drain CPU", per_job(lambda r: r.drain.cpu_seconds, n)),
    ]
    header = "| backend | keys | " + " | ".join(f"{name} (µs/job)" for name, _ in columns)
    header += " | " + " | ".join(f"{name} vs none" for name, _ in columns) + " |"
    lines = [header, "|---|---|" + "---|" * (2 * len(columns))]
    for backend in run.backends:
        baseline = run.results[(backend, "off")]
        for variant in VARIANTS:
            results = run.results[(backend, variant)]
            cells = [figures(results, value).text for _, value in columns]
            if variant == "off":
                ratios = ["1"] * len(columns)
            else:
                ratios = [paired_ratio(results, baseline, value).text for _, value in columns]
            problems = sorted({r.problem for r in results if r.problem})
            if problems:
                cells[0] += f"; PROBLEM: {' / '.join(problems)}"
            lines.append(f"| {backend} | {variant} | " + " | ".join(cells + ratios) + " |")
    return lines


def versions() -> str:
    found = []
    for name in ("cryptography", "redis", "psycopg"):
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} not installed")
    return f"python {sys.version.split()[0]}, " + ", ".join(found)


def render(run: Run) -> str:
    sizes = run.sizes
    notes = [
        f"Per cell, one process enqueues {sizes.n:,} jobs (`enqueue_many`, 1,000 a call) "
        f"into a fresh, empty store, then drains them with a burst "
        f"`Worker(app, concurrency={sizes.concurrency})`; {run.rounds} round(s), the four "
        "variants of each backend side by side, in alternating order from round to round.",
        "Each job's arguments are an order of about 300 bytes of JSON; its result a small "
        "object. wall: seconds per job of the enqueue, then of the drain; CPU: this "
        "process's user + system time over the same span (the store's own CPU is not in "
        f"it). Median (min{DASH}max) over rounds; `vs none`: the median of the per-round "
        "ratios to no keys.",
        "Every job verified: the queue's own counts say N succeeded and nothing else, and "
        "one job in a hundred has its result read back (decrypted) and compared.",
        "SQLite: `sqlite:///` in a fresh temporary file (WAL, synchronous=FULL). Redis: a "
        "private redis-server, flushed before each cell. PostgreSQL: a private cluster, a "
        "new database per cell.",
        *(f"{name}: {DESCRIPTIONS[name]}." for name in VARIANTS),
        f"{run.machine}; load average before {run.load[0]}, after {run.load[1]}.",
        versions() + (f"; {', '.join(run.servers)}" if run.servers else "") + ".",
        *run.skipped,
    ]
    return "\n".join(
        [
            "## What signing and encrypting jobs cost",
            "",
            *table(run),
            "",
            *(f"- {note}" for note in notes),
            "",
        ]
    )
