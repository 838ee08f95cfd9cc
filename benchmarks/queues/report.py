"""The queues curve as a Markdown table: each drain as a speed against one queue."""

from __future__ import annotations

import dataclasses

QUEUES = (1, 100, 1_000)


@dataclasses.dataclass(frozen=True, slots=True)
class Curve:
    backend: str
    server: str
    points: dict[int, float]  # queues -> drain, jobs/s
    problem: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Run:
    command: str
    jobs: int
    repeat: int
    curves: list[Curve]
    machine: str
    load_average: tuple[str, str]
    seconds: float


def render(run: Run) -> str:
    head = ["backend", *(f"{queues:,} queue{'s' if queues > 1 else ''}" for queues in QUEUES)]
    lines = [
        "# Queues curve: a drain spread over many queues",
        "",
        f"`{run.command}`: each cell is the drain over that many queues against one queue "
        "(1.00x: as fast; 0.50x: half as fast), then the drain itself in jobs/s.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for curve in run.curves:
        if curve.problem:
            lines.append(f"| {curve.backend} | {curve.problem} |" + " |" * (len(QUEUES) - 1))
            continue
        one = curve.points.get(1)
        cells = [_cell(curve.points.get(queues), one) for queues in QUEUES]
        lines.append(f"| {curve.backend} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Each point: {run.jobs:,} no-op jobs enqueued in calls of 1,000, spread evenly over "
        "the queues, then drained by one burst worker in this process working every queue "
        f"(concurrency 100, every job counted outside the store); median of {run.repeat} "
        "repetition(s), the order of the points alternating between repetitions.",
        "",
        *(f"- {curve.backend}: {curve.server}" for curve in run.curves),
        f"- {run.machine}; load average {run.load_average[0]} before, {run.load_average[1]} "
        f"after; {run.seconds / 60:.1f} minutes in all.",
        "",
    ]
    return "\n".join(lines)


def _cell(rate: float | None, one: float | None) -> str:
    if rate is None:
        return ""
    if one is None or rate is one:
        return f"{rate:,.0f}/s"
    return f"{rate / one:.2f}x ({rate:,.0f}/s)"
