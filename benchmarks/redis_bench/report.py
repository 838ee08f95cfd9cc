"""The markdown report of a Redis run: one table, the best peer beside conveyor, the notes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from benchmarks.cells import DASH, NA, Cell, drain_rates, figure, latency_cell, rate_cell
from benchmarks.redis_bench.ceiling import Ceiling
from benchmarks.redis_bench.outcome import Outcome
from benchmarks.redis_bench.workloads import SETTLE, Enqueued, Sizes

US = "\u00b5s"  # written as an escape: the linter flags look-alike characters
HEADER = (
    "system",
    "enqueue, 1 per call (jobs/s)",
    "enqueue, bulk API (jobs/s)",
    "drain from worker start (jobs/s)",
    "drain after the first job (jobs/s)",
    "latency p50 / p95 / p99 (ms)",
    "worker peak RSS (MB)",
    f"worker CPU ({US}/job)",
    "Redis commands/job: enqueue / drain",
    f"Redis CPU ({US}/job): enqueue / drain",
    "idle worker: CPU, Redis cmds/s",
)


@dataclasses.dataclass
class Run:
    sizes: Sizes
    rounds: int
    outcomes: list[Outcome]
    ceilings: list[Ceiling]
    ceiling_error: str | None
    redis_version: str
    machine: str
    load: tuple[str, str]  # `uptime`'s load averages before and after
    seed: int


def _figure(values: Sequence[float], digits: int = 0) -> Cell:
    return figure(values, digits) if values else NA


def _cost(runs: Sequence[Enqueued], per_job: Callable[[Enqueued], float], digits: int) -> str:
    return _figure([per_job(r) for r in runs], digits).text


def row(o: Outcome) -> list[str]:
    if o.error is not None:
        return [o.name, f"**cannot run**: {_short(o.error)}", *[DASH] * (len(HEADER) - 2)]
    err = o.errors

    def failed(label: str, cell: Cell) -> str:
        return f"failed: {_short(err[label])}" if label in err and cell is NA else cell.text

    single = failed("enqueue", rate_cell([r.rate for r in o.single]))
    bulk = failed("bulk enqueue", rate_cell([r.rate for r in o.bulk])) if o.has_bulk else "no API"
    drains = [d.drain for d in o.drains]
    runs = [i.latency for i in o.idles]
    latency = NA.text
    if runs:
        latency = " / ".join(latency_cell(runs, p).text for p in (50, 95, 99))
    elif "latency" in err:
        latency = f"failed: {_short(err['latency'])}"
    problems = sorted(
        {d.problem for d in drains if d.problem} | {r.problem for r in runs if r.problem}
    )
    cmds = (
        f"{_cost(o.single, lambda r: r.cost.commands_per_job, 1)} / "
        f"{_figure([d.cost.commands_per_job for d in o.drains], 1).text}"
    )
    cpu = (
        f"{_cost(o.single, lambda r: r.cost.cpu_us_per_job, 0)} / "
        f"{_figure([d.cost.cpu_us_per_job for d in o.drains]).text}"
    )
    idle = (
        f"{_figure([i.latency.idle_cpu_fraction * 100 for i in o.idles], 1).text} %, "
        f"{_figure([i.redis_commands_per_second for i in o.idles]).text}"
    )
    return [
        o.name + (" (see problems)" if problems else ""),
        single,
        bulk,
        failed("drain", drain_rates(drains, after_first=False)),
        drain_rates(drains, after_first=True).text if drains else DASH,
        latency,
        _figure([d.peak_rss_bytes / 2**20 for d in drains]).text,
        _figure([d.worker_cpu_us_per_job for d in o.drains]).text,
        cmds,
        cpu,
        idle if o.idles else NA.text,
    ]


def ceiling_row(ceilings: Sequence[Ceiling], error: str | None) -> list[str]:
    if error is not None or not ceilings:
        return ["redis-benchmark", f"failed: {_short(error or 'not run')}", *[DASH] * 9]

    def show(test: str) -> str:
        return "; ".join(
            f"{test} {c.ops_per_second.get(test, 0):,.0f}/s (-P {c.pipeline})" for c in ceilings
        )

    return ["redis-benchmark (ceiling)", show("LPUSH"), show("SET"), show("LPOP"), *[DASH] * 7]


def summary(outcomes: Sequence[Outcome]) -> list[str]:
    """conveyor against the best peer on the drain rate and on p50 latency."""
    mine = next((o for o in outcomes if o.name == "conveyor"), None)
    peers = [o for o in outcomes if o.name != "conveyor"]
    if mine is None:
        return []

    def drain(o: Outcome) -> float | None:
        return drain_rates([d.drain for d in o.drains], after_first=True).value

    def p50(o: Outcome) -> float | None:
        return latency_cell([i.latency for i in o.idles], 50).value if o.idles else None

    lines = []
    for label, value, better in (("drain rate after the first job", drain, max),
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
    s = run.sizes
    lines = [
        "## conveyor and its peers on one Redis",
        "",
        f"One worker process per system at concurrency {s.concurrency} (or its nearest "
        f"equivalent, below); {run.rounds} round(s), systems in shuffled order (seed "
        f"{run.seed}); FLUSHALL before every cell. Enqueue: {s.single:,} jobs one call at a "
        f"time, {s.bulk:,} through the bulk API in calls of 1,000. Drain: {s.drain:,} no-op "
        f"jobs queued first, then one worker started; a rate is shown only when every one of "
        f"the N jobs ran (counted in a log outside Redis), else how far it got in "
        f"{s.cap:.0f} s. Latency: {s.latency} jobs sent {s.latency_interval * 1000:g} ms "
        f"apart to a worker idle for {SETTLE:g} s, enqueue to start. Redis commands count "
        "those run inside Lua scripts too.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(row(o)) + " |" for o in run.outcomes]
    lines.append("| " + " | ".join(ceiling_row(run.ceilings, run.ceiling_error)) + " |")
    lines += ["", *summary(run.outcomes), "", "How each system was set up:", ""]
    for o in run.outcomes:
        settings = o.described.get("settings", [])
        versions = ", ".join(f"{k} {v}" for k, v in o.described.get("versions", {}).items())
        lines.append(f"- **{o.name}** ({versions or 'not installed'}): " + "; ".join(settings))
    lines += ["", "What Redis ran per job in the drain (busiest commands):", ""]
    lines += [f"- {o.name}: {o.drains[-1].cost.top(6)}" for o in run.outcomes if o.drains]
    problems = [
        f"- {o.name}: {text}"
        for o in run.outcomes
        for text in [
            *(f"{cell}: {e}" for cell, e in o.errors.items()),
            *(d.drain.problem for d in o.drains if d.drain.problem),
            *(i.latency.problem for i in o.idles if i.latency.problem),
        ]
    ]
    if problems:
        lines += ["", "Problems:", "", *problems]
    ceiling = "; ".join(f"`{c.command}`" for c in run.ceilings) or "not run"
    lines += [
        "",
        f"Ceiling: {ceiling}. Redis {run.redis_version}, private server, no persistence.",
        "",
        f"Machine: {run.machine}; load average before {run.load[0]}, after {run.load[1]}.",
        "",
    ]
    return "\n".join(lines)


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split()).replace("|", "/")
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
