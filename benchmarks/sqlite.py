"""`python -m benchmarks sqlite`: conveyor vs Huey on SQLite, one table. `--help` for the sizes."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from benchmarks import runner
from benchmarks.conveyor_sqlite import ConveyorSQLite, make_app
from benchmarks.huey_sqlite import HueySQLite, synchronous_level
from benchmarks.progress import Progress, show_drain, show_latency, show_rate
from benchmarks.report import Results, render
from benchmarks.runner import Sizes, System

RESULTS = Path(__file__).parent / "results" / "sqlite.md"
QUICK = Sizes(single=300, bulk=3000, drain=2000, latency=60, cap=20.0)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks sqlite", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run of under 30 s")
    parser.add_argument("--n", type=int, help="jobs for the enqueue, bulk and drain workloads")
    parser.add_argument("--n-single", type=int, help="jobs enqueued one call at a time")
    parser.add_argument("--n-bulk", type=int, help="jobs enqueued through the bulk API")
    parser.add_argument("--n-drain", type=int, help="jobs drained by one worker")
    parser.add_argument("--n-latency", type=int, help="latency samples per round")
    parser.add_argument("--rounds", type=int, help="repetitions (default 5, quick 1)")
    parser.add_argument("--concurrency", type=int, help="worker concurrency (default 50)")
    parser.add_argument("--cap", type=float, help="seconds per cell at most (default 120)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the table")
    parser.add_argument(
        "--profile", action="store_true", help="profile a conveyor drain instead (cProfile)"
    )
    return parser.parse_args(argv)


def sizes_from(args: argparse.Namespace) -> Sizes:
    sizes = QUICK if args.quick else Sizes()
    if args.n is not None:
        sizes = dataclasses.replace(sizes, single=args.n, bulk=args.n, drain=args.n)
    overrides = {
        "single": args.n_single,
        "bulk": args.n_bulk,
        "drain": args.n_drain,
        "latency": args.n_latency,
        "concurrency": args.concurrency,
        "cap": args.cap,
    }
    sizes = dataclasses.replace(sizes, **{k: v for k, v in overrides.items() if v is not None})
    if min(sizes.single, sizes.bulk, sizes.drain) < 2 or sizes.latency < 2:
        raise SystemExit("every workload needs at least 2 jobs")
    return sizes


def run_round(systems: list[System], sizes: Sizes, results: Results, progress: Progress) -> None:
    timed = progress.timed
    for system in systems:
        name = system.name
        results.single.setdefault(name, []).append(
            timed(
                f"{name} enqueue single", partial(runner.enqueue_single, system, sizes), show_rate
            )
        )
        results.concurrent.setdefault(name, []).append(
            timed(
                f"{name} enqueue concurrent",
                partial(runner.enqueue_concurrent, system, sizes),
                show_rate,
            )
        )
        results.bulk.setdefault(name, []).append(
            timed(f"{name} enqueue bulk", partial(runner.enqueue_bulk, system, sizes), show_rate)
        )
    for system in systems:  # the worker workloads after every producer-only one
        name = system.name
        results.drain.setdefault(name, []).append(
            timed(f"{name} drain", partial(runner.drain, system, sizes), show_drain)
        )
        results.latency.setdefault(name, []).append(
            timed(f"{name} latency", partial(runner.latency, system, sizes), show_latency)
        )


def conveyor_synchronous() -> str:
    with tempfile.TemporaryDirectory() as folder:
        app, _ = make_app(Path(folder) / "probe.db")
        return str(getattr(app.backend, "synchronous", "?"))


def huey_synchronous() -> str:
    with tempfile.TemporaryDirectory() as folder:
        return synchronous_level(Path(folder) / "probe.db")


def main(argv: list[str]) -> None:
    args = parse(argv)
    if args.profile:
        from benchmarks.profile_drain import main as profile

        profile([] if args.n_drain is None else ["--n", str(args.n_drain)])
        return
    sizes = sizes_from(args)
    rounds = args.rounds or (1 if args.quick else 5)
    systems: list[System] = [ConveyorSQLite(), HueySQLite()]
    results = Results(
        sizes=sizes,
        rounds=rounds,
        settings={s.name: s.settings(sizes.concurrency) for s in systems},
        synchronous={"conveyor": conveyor_synchronous(), "huey": huey_synchronous()},
    )
    progress = Progress()
    started = time.monotonic()
    for k in range(rounds):
        order = systems if k % 2 == 0 else systems[::-1]
        progress.say(f"round {k + 1}/{rounds}: {' then '.join(s.name for s in order)}")
        run_round(order, sizes, results, progress)
    progress.say(f"done in {time.monotonic() - started:.0f} s")
    report = render(results, Path(tempfile.gettempdir()))
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    rounds_log = "\n".join(progress.lines)
    args.output.write_text(f"{report}\nEach cell as it ran:\n\n```text\n{rounds_log}\n```\n")
    print(f"written to {args.output}", file=sys.stderr)
