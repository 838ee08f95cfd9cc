"""The dashboard benchmark's table: p50 / p95 / max per call and backend, in milliseconds,
with the calls over the 300 ms budget (at p95) flagged."""

from __future__ import annotations

import dataclasses

from benchmarks.dashboard.fill import (
    EVERY_KIND,
    PAUSED_QUEUE,
    QUEUES,
    SCHEDULES,
    WORKFLOW_SIZE,
    Landmarks,
    Sizes,
)
from benchmarks.dashboard.timing import Timing
from conveyor.job import JobState

BUDGET_MS = 300.0


@dataclasses.dataclass(frozen=True, slots=True)
class BackendRun:
    backend: str
    server: str
    marks: Landmarks | None
    timings: list[Timing]
    notes: dict[str, str] = dataclasses.field(default_factory=dict)  # call -> what it showed
    problem: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Run:
    command: str
    sizes: Sizes
    requests: int
    cap: float
    backends: list[BackendRun]
    machine: str
    load: tuple[str, str]
    seconds: float


def render(run: Run) -> str:
    sizes = run.sizes
    lines = [
        "# The dashboard with a large history",
        "",
        f"`{run.command}`: "
        f"{sizes.succeeded:,} succeeded, {sizes.failed:,} failed and {sizes.cancelled:,} "
        f"cancelled jobs kept; {sizes.queued:,} enqueued of which "
        f"{sizes.workers * sizes.active_per_worker:,} are held by {sizes.workers} registered "
        f"workers; {sizes.scheduled:,} scheduled; a group of {WORKFLOW_SIZE} queued; queue "
        f"`{PAUSED_QUEUE}` paused; per-minute outcome counters for the last day. "
        f"{len(QUEUES)} queues, {len(EVERY_KIND)} tasks, {len(SCHEDULES)} schedules.",
        "",
        "The dashboard (`dashboard_app(app, open_access=True, refresh=0.001)`) is served "
        "in-process through httpx's `ASGITransport` (no socket, no server: the time is the "
        "app's and the store's). `refresh=0.001` keeps the charts' shared read from being "
        "reused, so each chart call reads the store (by default one read serves every viewer "
        f"for 3 s). After one warm-up round, {run.requests} rounds, each call once per round "
        f"in a shuffled order, each call at most {run.cap:.0f} s in all (`n=` says how many "
        f"it got when fewer). p50 / p95 / max in ms; **bold ⚠** is over {BUDGET_MS:.0f} ms "
        "at p95.",
        "",
        f"Machine: {run.machine}; load average {run.load[0]} before, {run.load[1]} after; "
        f"{run.seconds:.0f} s in all.",
        "",
    ]
    for backend in run.backends:
        lines.append(f"- **{backend.backend}**: {backend.server}. {_stored(backend)}")
    lines += ["", _table(run.backends), ""]
    over = [
        f"- {b.backend}: {t.name}: p95 {t.percentile(95):,.0f} ms"
        for b in run.backends
        for t in b.timings
        if t.ms and t.percentile(95) > BUDGET_MS
    ]
    failed = [
        f"- {b.backend}: {t.name}: {t.error}" for b in run.backends for t in b.timings if t.error
    ]
    failed += [f"- {b.backend}: {b.problem}" for b in run.backends if b.problem]
    notes = [
        f"- {b.backend}: {name}: {note}" for b in run.backends for name, note in b.notes.items()
    ]
    if notes:
        lines += ["What the pages showed:", *notes, ""]
    lines.append(f"Over {BUDGET_MS:.0f} ms at p95:")
    lines += [*(over or ["- none"]), ""]
    if failed:
        lines += ["Calls that did not answer as they should:", *failed, ""]
    return "\n".join(lines)


def _stored(backend: BackendRun) -> str:
    marks = backend.marks
    if marks is None:
        return "not loaded."
    states = ", ".join(
        f"{marks.total(state):,} {state.value}" for state in JobState if marks.total(state)
    )
    history = sum(marks.total(s) for s in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED))
    rate = history / marks.load_seconds if marks.load_seconds else 0.0
    return (
        f"Holds {states} (`counts()`); {marks.outcome_counts:,} outcome counters in the last "
        f"day. History loaded through enqueue, claim and ack in {marks.load_seconds:.0f} s "
        f"({rate:,.0f} jobs/s)."
    )


def _table(backends: list[BackendRun]) -> str:
    names: list[str] = []
    for backend in backends:
        names += [t.name for t in backend.timings if t.name not in names]
    header = "| call | " + " | ".join(b.backend for b in backends) + " |"
    rule = "|---|" + "---:|" * len(backends)
    rows = [header, rule]
    for name in names:
        cells = []
        for backend in backends:
            timing = next((t for t in backend.timings if t.name == name), None)
            cells.append(_cell(timing))
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _cell(timing: Timing | None) -> str:
    if timing is None:
        return "not run"
    if timing.error is not None and not timing.ms:
        return "error"
    if not timing.ms:
        return "no sample"
    text = " / ".join(_ms(timing.percentile(p)) for p in (50, 95, 100))
    if timing.percentile(95) > BUDGET_MS:
        text = f"**{text}** ⚠"
    if not timing.complete:
        text += f" (n={len(timing.ms)})"
    if timing.error is not None:
        text += " error"
    return text


def _ms(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"
