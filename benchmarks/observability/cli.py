"""`python -m benchmarks observability`: the drain with no middleware, metrics, tracing, both.

SQLite always; Redis too (as a backend, and for the `one-call` job's INCR) when
redis-server is on PATH. `--quick` takes a few minutes on a 2-core machine; `--profile`
shows where each variant's time goes instead of timing it.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from benchmarks.machine import machine
from benchmarks.observability.drain import Cell, Result, Sizes, drain
from benchmarks.observability.jobs import WORKLOADS, Workload
from benchmarks.observability.report import Run, render
from benchmarks.observability.variants import VARIANTS
from benchmarks.progress import Progress
from benchmarks.redis_bench.server import RedisServer, private_redis
from benchmarks.versus.cli import RESULTS, load_average, publish

QUICK = Sizes(n=10000, cap=60.0)
QUICK_ROUNDS, ROUNDS = 3, 5
BACKENDS = ("sqlite", "redis")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks observability", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a run of a few minutes")
    parser.add_argument("--n", type=int, help="jobs per drain (default 30000, quick 10000)")
    parser.add_argument("--rounds", type=int, help=f"default {ROUNDS}, quick {QUICK_ROUNDS}")
    parser.add_argument("--concurrency", type=int, help="worker concurrency (default 50)")
    parser.add_argument("--cap", type=float, help="seconds per drain at most")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated: sqlite,redis"
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile each variant's drain (cProfile) instead"
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS / "observability.md", help="where to write"
    )
    return parser.parse_args(argv)


def sizes_from(args: argparse.Namespace) -> Sizes:
    overrides = {"n": args.n, "concurrency": args.concurrency, "cap": args.cap}
    sizes = dataclasses.replace(
        QUICK if args.quick else Sizes(), **{k: v for k, v in overrides.items() if v is not None}
    )
    if sizes.n < 2:
        raise SystemExit("a drain needs at least 2 jobs")
    return sizes


@contextmanager
def maybe_redis(folder: Path, skipped: list[str]) -> Iterator[RedisServer | None]:
    if shutil.which("redis-server") is None:
        skipped.append("Not run here: the Redis backend and the one-call job (no redis-server).")
        yield None
        return
    with private_redis(folder) as server:
        yield server


def groups_for(backends: list[str], redis_server: RedisServer | None) -> list[tuple[str, Workload]]:
    """(backend, workload) pairs that can run: one-call and the Redis backend need Redis."""
    usable = [b for b in backends if b != "redis" or redis_server is not None]
    workloads: list[Workload] = list(WORKLOADS) if redis_server is not None else ["noop"]
    return [(backend, workload) for backend in usable for workload in workloads]


def run_cell(
    cell: Cell, sizes: Sizes, redis_server: RedisServer | None, progress: Progress
) -> Result:
    label = f"  {cell.backend} {cell.workload} {cell.variant}"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-observability-") as scratch:
        result = drain(cell, sizes, Path(scratch), redis_server)
    text = f"{result.rate.per_second:,.0f} jobs/s"
    if result.cpu_per_job is not None:
        text += f", {result.cpu_per_job * 1e6:,.0f} µs CPU/job"
    if result.problem:
        text += f" PROBLEM {result.problem}"
    progress.say(f"{label}: {text} [{time.monotonic() - started:.1f} s]")
    return result


def main(argv: list[str]) -> None:
    args = parse(argv)
    sizes = sizes_from(args)
    unknown = set(args.backends.split(",")) - set(BACKENDS)
    if unknown:
        raise SystemExit(f"unknown backends {sorted(unknown)}; known: {', '.join(BACKENDS)}")
    if args.profile:
        from benchmarks.observability.profile import main as profile

        profile(["--n", str(args.n or 10000)])
        return
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS)
    progress = Progress()
    skipped: list[str] = []
    load_before, started = load_average(), time.monotonic()
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-obs-")))
        redis_server = stack.enter_context(maybe_redis(folder, skipped))
        groups = groups_for(args.backends.split(","), redis_server)
        results: dict[Cell, list[Result]] = {}
        for k in range(rounds):
            order = VARIANTS if k % 2 == 0 else VARIANTS[::-1]
            progress.say(f"round {k + 1}/{rounds}: {', '.join(order)}")
            for backend, workload in groups:
                for variant in order:
                    cell = Cell(backend, workload, variant)
                    results.setdefault(cell, []).append(
                        run_cell(cell, sizes, redis_server, progress)
                    )
        redis_version = redis_server.version() if redis_server is not None else None
    progress.say(f"done in {time.monotonic() - started:.0f} s")
    run = Run(
        sizes=sizes,
        rounds=rounds,
        groups=groups,
        results=results,
        machine=machine(),
        load=(load_before, load_average()),
        redis_version=redis_version,
        skipped=skipped,
    )
    publish(render(run), args.output, progress)
