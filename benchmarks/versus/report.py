"""The markdown report of a peer comparison: one table, the best peer beside conveyor, the notes.

What differs between servers is said by a `Kind`: the server's name, what its calls are called,
and the extra per-job counters worth a column (PostgreSQL's commits, for one). The Redis run
adds its ceiling as a row; each run adds its own notes under the table.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Sequence

from benchmarks.cells import DASH, NA, Cell, drain_rates, figure, latency_cell, rate_cell
from benchmarks.versus.costs import Cost
from benchmarks.versus.outcome import Outcome
from benchmarks.versus.workloads import SETTLE, WORKLOADS, Sizes

US = "\u00b5s"  # written as an escape: the linter flags look-alike characters
# a one-call job's call, by server
OWN_CALL = {"Redis": "redis-py's `incr`, an `INCRBY`", "PostgreSQL": "`SELECT 1`, autocommit"}


@dataclasses.dataclass(frozen=True, slots=True)
class Kind:
    server: str  # "Redis"
    calls: str  # what one call is, plural: "commands", "statements"
    reset: str  # how each cell starts fresh, in words: "FLUSHALL before every cell"
    totals: tuple[tuple[str, str, int], ...] = ()  # (column, counter, digits) per job


@dataclasses.dataclass
class Run:
    kind: Kind
    sizes: Sizes
    rounds: int
    outcomes: list[Outcome]
    machine: str
    load: tuple[str, str]  # `uptime`'s load averages before and after
    seed: int
    extra_rows: list[list[str]] = dataclasses.field(default_factory=list)  # e.g. a ceiling
    notes: list[str] = dataclasses.field(default_factory=list)  # paragraphs under the table


def header(kind: Kind) -> list[str]:
    return [
        "system",
        "enqueue, 1 per call (jobs/s)",
        "enqueue, bulk API (jobs/s)",
        "drain from worker start (jobs/s)",
        "drain after the first job (jobs/s)",
        "one call: drain from worker start (jobs/s)",
        "one call: drain after the first job (jobs/s)",
        "latency p50 / p95 / p99 (ms)",
        "worker peak RSS (MB)",
        f"worker CPU ({US}/job)",
        f"{kind.server} {kind.calls}/job: enqueue / drain",
        *(f"{column}/job: enqueue / drain" for column, _, _ in kind.totals),
        f"{kind.server} CPU ({US}/job): enqueue / drain",
        f"idle worker: CPU, {kind.server} {kind.calls}/s",
    ]


def _figure(values: Sequence[float], digits: int = 0) -> Cell:
    """The median alone: the spread over rounds is shown for the rates, not for every cost."""
    return figure([statistics.median(values)], digits) if values else NA


def _pair(o: Outcome, per_job: Callable[[Cost], float], digits: int) -> str:
    """Enqueue (one per call) / drain, per job."""
    enqueue = _figure([per_job(r.cost) for r in o.single], digits).text
    return f"{enqueue} / {_figure([per_job(d.cost) for d in o.drains], digits).text}"


def _counter(name: str) -> Callable[[Cost], float]:
    return lambda cost: cost.per_job(name)


def row(kind: Kind, o: Outcome) -> list[str]:
    width = len(header(kind))
    if o.error is not None:
        return [o.name, f"**cannot run**: {short(o.error)}", *[DASH] * (width - 2)]
    err = o.errors

    def failed(label: str, cell: Cell) -> str:
        return f"failed: {short(err[label])}" if label in err and cell is NA else cell.text

    single = failed("enqueue", rate_cell([r.rate for r in o.single]))
    bulk = failed("bulk enqueue", rate_cell([r.rate for r in o.bulk])) if o.has_bulk else "no API"
    drains = [d.drain for d in o.drains]
    called = [d.drain for d in o.one_calls]
    runs = [i.latency for i in o.idles]
    latency = NA.text
    if runs:
        latency = " / ".join(latency_cell(runs, p).text for p in (50, 95, 99))
    elif "latency" in err:
        latency = f"failed: {short(err['latency'])}"
    problems = sorted(
        {d.problem for d in [*drains, *called] if d.problem}
        | {r.problem for r in runs if r.problem}
    )
    idle = (
        f"{_figure([i.latency.idle_cpu_fraction * 100 for i in o.idles], 1).text} %, "
        f"{_figure([i.server_calls_per_second for i in o.idles]).text}"
    )
    return [
        o.name + (" (see problems)" if problems else ""),
        single,
        bulk,
        failed("drain", drain_rates(drains, after_first=False)),
        drain_rates(drains, after_first=True).text if drains else DASH,
        failed("one call", drain_rates(called, after_first=False)),
        drain_rates(called, after_first=True).text if called else DASH,
        latency,
        _figure([d.peak_rss_bytes / 2**20 for d in drains]).text,
        _figure([d.worker_cpu_us_per_job for d in o.drains]).text,
        _pair(o, lambda c: c.calls_per_job, 2),
        *(_pair(o, _counter(name), digits) for _, name, digits in kind.totals),
        _pair(o, lambda c: c.cpu_us_per_job, 0),
        idle if o.idles else NA.text,
    ]


def summary(outcomes: Sequence[Outcome]) -> list[str]:
    """conveyor against the best peer on the drain rates (no-op, one call) and p50 latency."""
    mine = next((o for o in outcomes if o.name == "conveyor"), None)
    peers = [o for o in outcomes if o.name != "conveyor"]
    if mine is None:
        return []

    def drain(o: Outcome) -> float | None:
        return drain_rates([d.drain for d in o.drains], after_first=True).value

    def one_call(o: Outcome) -> float | None:
        return drain_rates([d.drain for d in o.one_calls], after_first=True).value

    def p50(o: Outcome) -> float | None:
        return latency_cell([i.latency for i in o.idles], 50).value if o.idles else None

    lines = []
    for label, value, better in (("drain rate after the first job", drain, max),
                                 ("one-call drain rate after the first job", one_call, max),
                                 ("p50 latency", p50, min)):  # fmt: skip
        ours = value(mine)
        scored = [(v, o.name) for o in peers if (v := value(o)) is not None]
        if ours is None or not scored:
            lines.append(f"- {label}: no complete figure to compare")
            continue
        best, name = better(scored)
        verdict = "best of all" if better(ours, best) == ours else f"behind {name}"
        lines.append(
            f"- {label}: conveyor {ours:,.1f}, best peer {name} {best:,.1f}; conveyor's is "
            f"**{ours / best:.2f}\u00d7** the best peer's ({verdict})"
        )
    return lines


def render(run: Run) -> str:
    s, kind = run.sizes, run.kind
    columns = header(kind)
    lines = [
        f"## conveyor and its peers on one {kind.server}",
        "",
        f"One worker process per system at concurrency {s.concurrency} (or its nearest "
        f"equivalent, below); {run.rounds} round(s), systems in shuffled order (seed "
        f"{run.seed}); {kind.reset}. Enqueue: {s.single:,} jobs one call at a "
        f"time, {s.bulk:,} through the bulk API in calls of 1,000. Drain: {s.drain:,} no-op "
        f"jobs queued first, then one worker started; a rate is shown only when every one of "
        f"the N jobs ran (counted in a log outside {kind.server}), else how far it got in "
        f"{s.cap:.0f} s. One call: the drain again, each job first making one round trip of "
        f"its own ({OWN_CALL[kind.server]}, on a client its worker process made once, as its "
        "framework has it: below) and recording itself once that call returned. Latency: "
        f"{s.latency} jobs sent {s.latency_interval * 1000:g} ms "
        f"apart to a worker idle for {SETTLE:g} s, enqueue to start. Rates are medians over "
        "the rounds (min\u2013max beside them), latency percentiles pool every round's "
        "samples, the other figures are medians."
        + ("" if s.workloads == WORKLOADS else f" Only {', '.join(s.workloads)} ran here."),
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join(row(kind, o)) + " |" for o in run.outcomes]
    lines += ["| " + " | ".join(extra) + " |" for extra in run.extra_rows]
    lines += ["", *summary(run.outcomes), "", "How each system was set up:", ""]
    for o in run.outcomes:
        settings = o.described.get("settings", [])
        versions = ", ".join(f"{k} {v}" for k, v in o.described.get("versions", {}).items())
        lines.append(f"- **{o.name}** ({versions or 'not installed'}): " + "; ".join(settings))
    lines += ["", f"What {kind.server} ran per job in the drain (busiest {kind.calls}):", ""]
    lines += [f"- {o.name}: {o.drains[-1].cost.top(6)}" for o in run.outcomes if o.drains]
    if any(o.one_calls for o in run.outcomes):
        lines += ["", f"What {kind.server} ran per job in the one-call drain:", ""]
        lines += [f"- {o.name}: {o.one_calls[-1].cost.top(6)}" for o in run.outcomes if o.one_calls]
    problems = [
        f"- {o.name}: {text}"
        for o in run.outcomes
        for text in [
            *(f"{cell}: {e}" for cell, e in o.errors.items()),
            *(d.drain.problem for d in [*o.drains, *o.one_calls] if d.drain.problem),
            *(i.latency.problem for i in o.idles if i.latency.problem),
        ]
    ]
    if problems:
        lines += ["", "Problems:", "", *problems]
    for note in run.notes:
        lines += ["", note]
    lines += [
        "",
        f"Machine: {run.machine}; load average before {run.load[0]}, after {run.load[1]}.",
        "",
    ]
    return "\n".join(lines)


def short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split()).replace("|", "/")
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
