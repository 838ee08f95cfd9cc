"""The history curve as a Markdown table: each figure of the grown store against the same
figure of an empty store measured in turn with it."""

from __future__ import annotations

import dataclasses

from benchmarks.history.workloads import Figures, Load

ROWS = (  # field, label, whether it is a rate (jobs/s: more is better) or a read (ms)
    ("drain", "drain", True),
    ("single", "single enqueue", True),
    ("bulk", "bulk enqueue", True),
    ("stats_ms", "stats (counts)", False),
    ("list_ms", "listing, first page", False),
)


@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    size: int  # finished jobs loaded into the grown store
    empty: Figures  # a new empty store's, measured in turn with the grown one
    grown: Figures

    def speed(self, field: str, rate: bool) -> float:
        """The grown store's speed against the empty one's: 0.5 is half as fast."""
        grown, empty = getattr(self.grown, field), getattr(self.empty, field)
        return float(grown / empty if rate else empty / grown)

    def describe(self) -> str:
        return ", ".join(
            f"{label} {self.speed(field, rate):.2f}x ({_figure(self.grown, field, rate)})"
            for field, label, rate in ROWS
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Curve:
    backend: str
    server: str
    points: list[Point]
    problem: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Run:
    command: str
    load: Load
    repeat: int
    curves: list[Curve]
    machine: str
    load_average: tuple[str, str]
    seconds: float


def render(run: Run) -> str:
    sizes = sorted({point.size for curve in run.curves for point in curve.points})
    head = ["backend", "workload", "empty store", *(_size(size) for size in sizes)]
    lines = [
        "# History curve: costs as finished jobs pile up",
        "",
        f"`{run.command}`: at each size, the store holding that many finished jobs against "
        "a new empty store on the same server, the two measured in turn: its speed as a "
        "ratio (1.00x: as fast; 0.50x: half as fast; the `0` column shows the noise, two "
        "empty stores), then its own figure. Enqueues and the drain in jobs/s, reads as the "
        "median call in ms; `empty store` is the first empty store's figure.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for curve in run.curves:
        if curve.problem or not curve.points:
            lines.append(f"| {curve.backend} | {curve.problem} |" + " |" * (len(sizes) + 1))
            continue
        by_size = {point.size: point for point in curve.points}
        for field, label, rate in ROWS:
            cells = [_figure(curve.points[0].empty, field, rate)]
            for size in sizes:
                point = by_size.get(size)
                cells.append(
                    f"{point.speed(field, rate):.2f}x ({_figure(point.grown, field, rate)})"
                    if point
                    else ""
                )
            lines.append(f"| {curve.backend} | {label} | " + " | ".join(cells) + " |")
    reruns = [
        f"{curve.backend} at {_size(point.size)}: {figures.repeated:,.0f} ({which})"
        for curve in run.curves
        for point in curve.points
        for figures, which in ((point.empty, "empty store"), (point.grown, "grown store"))
        if figures.repeated
    ]
    if reruns:
        lines += [
            "",
            "Jobs run more than once in a drain (their lease lapsed before the outcome was "
            "written, so the job was run again; median): " + "; ".join(reruns) + ".",
        ]
    lines += [
        "",
        f"Each measurement: {run.load.single:,} jobs enqueued one call each, "
        f"{run.load.bulk:,} in calls of 1,000, then drained by one worker in this process "
        "(concurrency 100, every job counted outside the store); `counts()` and the first "
        f"page of 50 jobs, median of 20 calls. Median of {run.repeat} measurements of each "
        "store. The history is loaded through the store's own enqueue, claim and ack (1% "
        "failed, 0.1% cancelled) and grows by the measured jobs as the run goes.",
        "",
        *(f"- {curve.backend}: {curve.server}" for curve in run.curves),
        f"- {run.machine}; load average {run.load_average[0]} before, {run.load_average[1]} "
        f"after; {run.seconds / 60:.1f} minutes in all.",
        "",
    ]
    return "\n".join(lines)


def _figure(figures: Figures, field: str, rate: bool) -> str:
    value = getattr(figures, field)
    return f"{value:,.0f}/s" if rate else f"{value:.2f} ms"


def _size(size: int) -> str:
    if size == 0:
        return "0"
    if size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    return f"{size // 1000}k" if size % 1000 == 0 else f"{size:,}"
