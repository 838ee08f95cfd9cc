"""`python -m benchmarks enqueue [--quick]`: conveyor's single enqueue, per call, against the
bare store call of the same size, side by side in one run.

For each store, in alternating order over the rounds: N `await task.enqueue(...)` calls of a
~300-byte job, and N bare calls with a body of the same size (Redis: one EVALSHA of a script
that SETs it; PostgreSQL: one autocommit psycopg INSERT; SQLite: one sqlite3 INSERT and
commit in WAL mode, synchronous=FULL, as conveyor's default file). Wall and client CPU
microseconds per call, and conveyor's ratio to the bare call (the median of each round's
ratio). On Redis, the commands the server ran per enqueue (the EVALSHA and those its script
calls). A private Redis and PostgreSQL are started when their binaries are installed.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from benchmarks.cells import DASH
from benchmarks.enqueue import loops
from benchmarks.enqueue.loops import Cost
from benchmarks.machine import machine
from benchmarks.progress import Progress
from benchmarks.sealing.cli import Servers, servers
from benchmarks.versus.cli import RESULTS, load_average, publish

STORES = ("redis", "postgres", "sqlite")
BARE = {
    "redis": "EVALSHA (SET)",
    "postgres": "psycopg INSERT",
    "sqlite": "sqlite3 INSERT",
}


@dataclasses.dataclass
class Rounds:
    conveyor: list[Cost] = dataclasses.field(default_factory=list)
    bare: list[Cost] = dataclasses.field(default_factory=list)
    commands: list[float] = dataclasses.field(default_factory=list)  # Redis, per enqueue


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks enqueue", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a run of about a minute")
    parser.add_argument("--n", type=int, help="calls per cell (default 10000, quick 2000)")
    parser.add_argument("--rounds", type=int, help="default 5, quick 3")
    parser.add_argument("--stores", default=",".join(STORES), help="comma-separated")
    parser.add_argument("--output", type=Path, default=RESULTS / "enqueue.md")
    return parser.parse_args(argv)


def run_round(
    store: str, found: Servers, folder: Path, n: int, rounds: Rounds, conveyor_first: bool
) -> None:
    size = loops.job_size(found.fresh_store(store, folder))

    def ours() -> None:
        url = found.fresh_store(store, folder)
        before = found.redis.snapshot() if store == "redis" and found.redis else None
        rounds.conveyor.append(loops.conveyor(url, n))
        if before is not None and found.redis is not None:
            calls = found.redis.snapshot().since(before, n + loops.WARM_UP).calls_per_job
            rounds.commands.append(calls)

    def bare() -> None:
        url = found.fresh_store(store, folder)
        if store == "redis":
            rounds.bare.append(loops.bare_redis(url, n, size))
        elif store == "postgres":
            rounds.bare.append(loops.bare_postgres(url, n, size))
        else:
            rounds.bare.append(loops.bare_sqlite(url.removeprefix("sqlite:///"), n, size))

    for run in (ours, bare) if conveyor_first else (bare, ours):
        run()


def median(costs: list[Cost], value: Callable[[Cost], float]) -> str:
    return f"{statistics.median(value(c) for c in costs):,.0f}"


def ratio(rounds: Rounds, value: Callable[[Cost], float]) -> str:
    each = [value(a) / value(b) for a, b in zip(rounds.conveyor, rounds.bare, strict=True)]
    return f"{statistics.median(each):.2f}{DASH if len(each) < 2 else ''}".rstrip(DASH)


def render(results: dict[str, Rounds], n: int, rounds: int, notes: list[str]) -> str:
    lines = [
        "# Single enqueue: conveyor against the bare store call",
        "",
        f"{n:,} calls per cell, median of {rounds} rounds in alternating order; "
        "microseconds per call; ratio = conveyor / bare (lower is better, 1.00 is the floor).",
        "",
        "| store | bare call | conveyor wall | bare wall | wall ratio | conveyor CPU "
        "| bare CPU | CPU ratio | Redis commands per enqueue |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for store, r in results.items():
        commands = f"{statistics.median(r.commands):.1f}" if r.commands else DASH
        lines.append(
            f"| {store} | {BARE[store]} | {median(r.conveyor, lambda c: c.wall)} "
            f"| {median(r.bare, lambda c: c.wall)} | {ratio(r, lambda c: c.wall)} "
            f"| {median(r.conveyor, lambda c: c.cpu)} | {median(r.bare, lambda c: c.cpu)} "
            f"| {ratio(r, lambda c: c.cpu)} | {commands} |"
        )
    return "\n".join([*lines, "", *notes, ""])


@contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-enqueue-") as folder:
        yield Path(folder)


def main(argv: list[str]) -> None:
    args = parse(argv)
    n = args.n or (2000 if args.quick else 10000)
    rounds = args.rounds or (3 if args.quick else 5)
    wanted = args.stores.split(",")
    unknown = set(wanted) - set(STORES)
    if unknown:
        raise SystemExit(f"unknown stores {sorted(unknown)}; known: {', '.join(STORES)}")
    progress = Progress()
    skipped: list[str] = []
    load_before, started = load_average(), time.monotonic()
    results: dict[str, Rounds] = {}
    with ExitStack() as stack:
        folder = stack.enter_context(scratch())
        found = stack.enter_context(servers(wanted, folder, skipped))
        for store in found.usable(wanted):
            results[store] = Rounds()
            for k in range(rounds):
                run_round(store, found, folder, n, results[store], conveyor_first=k % 2 == 0)
                ours, bare = results[store].conveyor[-1], results[store].bare[-1]
                progress.say(
                    f"  {store} round {k + 1}/{rounds}: conveyor {ours.wall:,.0f} µs wall "
                    f"{ours.cpu:,.0f} µs CPU; bare {bare.wall:,.0f} µs wall {bare.cpu:,.0f} µs CPU"
                )
        versions = found.versions()
    notes = [
        f"Run in {time.monotonic() - started:.0f} s on {machine()}; load average "
        f"{load_before} before, {load_average()} after; {', '.join(versions) or 'no servers'}.",
        *skipped,
    ]
    publish(render(results, n, rounds, notes), args.output, progress)
