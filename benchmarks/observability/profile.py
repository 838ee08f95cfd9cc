"""`python -m benchmarks observability --profile`: where each variant's time goes.

For each variant, N queued no-op jobs on SQLite are drained by a worker in this process
under cProfile, on the event loop's thread (where every middleware hook runs). Printed per
job: the thread's time, split by where the code lives (a C function's time is charged to
its caller); what each middleware hook costs (its inclusive time less the job it wraps);
and the functions whose own time grew most against no middleware. cProfile slows many
small Python calls more than a few big ones, so the middleware's shares read high: compare
them with the unprofiled ratios of the timed run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import pstats
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from benchmarks import completions
from benchmarks.cells import TIMES
from benchmarks.completions import CompletionLog
from benchmarks.observability.jobs import make_app, prefill
from benchmarks.observability.variants import VARIANTS, Variant, observability
from conveyor.worker import Worker

# where a function lives -> the area it is charged to; the first match wins
AREAS = (
    ("conveyor/middleware/tracing", "conveyor TracingMiddleware"),
    ("conveyor/middleware/prometheus", "conveyor PrometheusMiddleware"),
    ("conveyor/middleware/", "conveyor middleware seam"),
    ("opentelemetry/sdk", "opentelemetry-sdk"),
    ("opentelemetry/", "opentelemetry-api"),
    ("prometheus_client/", "prometheus_client"),
    ("conveyor/", "conveyor (worker, backend)"),
    ("asyncio/", "asyncio"),
)
OTHER = "other (stdlib, sqlite3 calls, the job)"
HOOK_MODULES = ("conveyor/middleware/tracing.py", "conveyor/middleware/prometheus.py")
HOOKS = ("enqueue", "execute", "job_ended")
WRAPPED = ("chain.py", "_execute_from")  # what `call_next()` runs: the rest of the onion

Func = tuple[str, int, str]  # pstats' key: file, line, function name
Timing = tuple[int, int, float, float]  # primitive calls, calls, own s, inclusive s
Table = dict[Func, tuple[int, int, float, float, dict[Func, Timing]]]


@dataclasses.dataclass(frozen=True, slots=True)
class Profile:
    table: Table
    jobs: int
    seconds: float  # wall time of the drain, profiled

    def per_job(self, seconds: float) -> float:
        """In µs."""
        return seconds / self.jobs * 1e6

    def areas(self) -> dict[str, float]:
        """Own seconds per area; a C function's is split among its callers' areas."""
        areas: defaultdict[str, float] = defaultdict(float)
        for func, (_, _, own, _, callers) in self.table.items():
            if func[0] != "~" or not callers:
                areas[area_of(func)] += own
                continue
            for caller, (_, _, own_from_caller, _) in callers.items():
                areas[area_of(caller)] += own_from_caller
        return dict(areas)

    def hooks(self) -> list[tuple[str, float, float]]:
        """(hook, inclusive seconds less what it wraps, calls) of the middleware's hooks."""
        found = []
        for func, (_, calls, _, inclusive, _) in self.table.items():
            if func[2] in HOOKS and func[0].endswith(HOOK_MODULES):
                found.append((short(func), inclusive - self.wrapped_by(func), calls))
        return sorted(found, key=lambda hook: -hook[1])

    def wrapped_by(self, hook: Func) -> float:
        """Inclusive seconds of the rest of the onion, run by `hook`'s call_next()."""
        return sum(
            callers[hook][3]
            for func, (*_, callers) in self.table.items()
            if func[0].endswith(WRAPPED[0]) and func[2] == WRAPPED[1] and hook in callers
        )

    def own(self) -> dict[Func, tuple[float, int]]:
        return {func: (own, calls) for func, (_, calls, own, _, _) in self.table.items()}


def area_of(func: Func) -> str:
    path = func[0].replace("\\", "/")
    return next((area for fragment, area in AREAS if fragment in path), OTHER)


def short(func: Func) -> str:
    path, line, name = func
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return name if path == "~" else f"{name} ({path}:{line})"


async def drain(db: Path, variant: Variant, n: int) -> tuple[cProfile.Profile, float]:
    installed = observability(variant)
    try:
        app, job = make_app(f"sqlite:///{db}", installed.middleware)
        await prefill(app, job, n)
        app, _ = make_app(f"sqlite:///{db}", installed.middleware)
        profiler = cProfile.Profile()
        async with app:
            start = time.perf_counter()
            profiler.enable()
            await Worker(app, concurrency=50, burst=True).run()
            profiler.disable()
            seconds = time.perf_counter() - start
    finally:
        installed.shutdown()
    return profiler, seconds


def profile(variant: Variant, n: int) -> Profile:
    with tempfile.TemporaryDirectory(prefix="bench-observability-profile-") as folder:
        log = CompletionLog(Path(folder) / "done.log")
        completions.open_for_writing(log.path)
        profiler, seconds = asyncio.run(drain(Path(folder) / "jobs.db", variant, n))
        ran = len({c.index for c in log.read()})
    if ran != n:
        raise SystemExit(f"{variant}: only {ran} of {n} jobs ran")
    table: Table = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    return Profile(table, n, seconds)


def describe(found: Profile, baseline: Profile, top: int) -> list[str]:
    areas, before = found.areas(), baseline.areas()
    total, extra = sum(areas.values()), sum(areas.values()) - sum(before.values())
    lines = [
        f"{found.jobs:,} jobs in {found.seconds:.2f} s under cProfile; event-loop thread "
        f"{found.per_job(total):,.1f} µs/job ({found.per_job(extra):+,.1f} against none)",
        "  own time per job by area (against none):",
    ]
    for area, own in sorted(areas.items(), key=lambda item: -item[1]):
        delta = found.per_job(own - before.get(area, 0.0))
        lines.append(f"    {found.per_job(own):7.2f} µs ({delta:+7.2f})  {area}")
    if found is baseline:
        return lines
    lines.append("  each hook per job, inclusive, less the job it wraps:")
    for hook, seconds, calls in found.hooks():
        lines.append(
            f"    {found.per_job(seconds):7.2f} µs  {calls / found.jobs:4.1f}{TIMES}  {hook}"
        )
    lines.append(f"  the {top} functions whose own time grew most (µs/job, calls/job):")
    mine, theirs = found.own(), baseline.own()
    grown = sorted(
        ((own - theirs.get(func, (0.0, 0))[0], calls, func) for func, (own, calls) in mine.items()),
        reverse=True,
    )
    for delta, calls, func in grown[:top]:
        lines.append(
            f"    {found.per_job(delta):+7.2f} µs  {calls / found.jobs:4.1f}{TIMES}  {short(func)}"
        )
    return lines


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks observability --profile")
    parser.add_argument("--n", type=int, default=10000, help="jobs per drain")
    parser.add_argument("--top", type=int, default=15, help="functions to list per variant")
    args = parser.parse_args(argv)
    baseline = profile("off", args.n)
    for variant in VARIANTS:
        found = baseline if variant == "off" else profile(variant, args.n)
        print(f"\n## {variant}: " + "\n".join(describe(found, baseline, args.top)))
