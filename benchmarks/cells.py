"""Table cells shared by the reports: medians with their spread, and no rate unless complete."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Sequence

from benchmarks.measure import Drain, Latency, Rate, percentile

DASH, TIMES = "\u2013", "\u00d7"  # written as escapes: the linter flags look-alike characters


@dataclasses.dataclass(frozen=True, slots=True)
class Cell:
    text: str
    value: float | None  # the figure a ratio uses; None when there is none to compare


NA = Cell("n/a", None)


def figure(values: Sequence[float], digits: int = 0) -> Cell:
    """The median, with the spread over rounds when there was more than one."""
    middle = statistics.median(values)
    text = f"{middle:,.{digits}f}"
    if len(values) > 1:
        text += f" ({min(values):,.{digits}f}{DASH}{max(values):,.{digits}f})"
    return Cell(text, middle)


def rate_cell(rates: Sequence[Rate | None]) -> Cell:
    measured = [r for r in rates if r is not None]
    if not measured:
        return NA
    partial = [r for r in measured if not r.complete]
    if partial:  # never a rate unless every job ran: say how far it got instead
        worst = min(partial, key=lambda r: r.done / max(r.wanted, 1))
        return Cell(
            f"partial: {worst.done:,}/{worst.wanted:,} in {worst.seconds:.0f} s "
            f"({worst.per_second:,.0f}/s)",
            None,
        )
    return figure([r.per_second for r in measured])


def drain_rates(drains: Sequence[Drain], after_first: bool) -> Cell:
    return rate_cell([d.after_first if after_first else d.from_start for d in drains])


def drain_figure(drains: Sequence[Drain], value: Callable[[Drain], float], digits: int) -> Cell:
    return figure([value(d) for d in drains], digits) if drains else NA


def latency_cell(runs: Sequence[Latency], p: int) -> Cell:
    """A percentile of all rounds' samples pooled; none unless every job ran."""
    if not runs:
        return NA
    samples = [s for run in runs for s in run.samples_ms]
    wanted = sum(run.wanted for run in runs)
    if len(samples) < max(wanted, 2):
        return Cell(f"partial: {len(samples)}/{wanted} samples", None)
    middle = percentile(samples, p)
    return Cell(f"{middle:,.1f}", middle)


def ratio(ours: Cell, theirs: Cell, suffix: str = "") -> str:
    if ours.value is None or theirs.value is None or theirs.value == 0:
        return DASH
    return f"{ours.value / theirs.value:.2f}{TIMES}{suffix}"
