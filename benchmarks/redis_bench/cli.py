"""`python -m benchmarks redis`: conveyor and its peers on one private Redis, one table.

Sizes suit a 2-core machine: the full run takes about 10 minutes once the peers' virtualenvs
exist (making them takes a few minutes, once); `--quick` is a smoke run of about 2 minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.machine import machine
from benchmarks.progress import Progress
from benchmarks.redis_bench import ceiling
from benchmarks.redis_bench.outcome import Outcome, prepare, run_round
from benchmarks.redis_bench.report import Run, render
from benchmarks.redis_bench.server import private_redis
from benchmarks.redis_bench.venvs import peers
from benchmarks.redis_bench.workloads import QUICK, Sizes, System

RESULTS = Path(__file__).resolve().parent.parent / "results" / "redis.md"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks redis", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run of about 2 minutes")
    parser.add_argument(
        "--systems", help=f"comma-separated, default all: conveyor,{','.join(peers())}"
    )
    parser.add_argument("--n-single", type=int, help="jobs enqueued one call at a time")
    parser.add_argument("--n-bulk", type=int, help="jobs enqueued through the bulk API")
    parser.add_argument("--n-drain", type=int, help="jobs drained by one worker")
    parser.add_argument("--n-latency", type=int, help="latency samples per round")
    parser.add_argument("--concurrency", type=int, help="worker concurrency (default 100)")
    parser.add_argument("--cap", type=float, help="seconds per cell at most (default 90)")
    parser.add_argument("--rounds", type=int, default=1, help="repetitions (default 1)")
    parser.add_argument("--seed", type=int, help="for the order of the systems")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the table")
    return parser.parse_args(argv)


def sizes_from(args: argparse.Namespace) -> Sizes:
    overrides = {
        "single": args.n_single,
        "bulk": args.n_bulk,
        "drain": args.n_drain,
        "latency": args.n_latency,
        "concurrency": args.concurrency,
        "cap": args.cap,
    }
    sizes = dataclasses.replace(
        QUICK if args.quick else Sizes(), **{k: v for k, v in overrides.items() if v is not None}
    )
    if min(sizes.single, sizes.bulk, sizes.drain, sizes.latency) < 2:
        raise SystemExit("every workload needs at least 2 jobs")
    return sizes


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str]) -> None:
    args = parse(argv)
    sizes = sizes_from(args)
    names = args.systems.split(",") if args.systems else ["conveyor", *peers()]
    seed = args.seed if args.seed is not None else random.randrange(10_000)
    progress = Progress()
    say = progress.say
    started, load_before = time.monotonic(), load_average()
    say(f"load average {load_before}; sizes {sizes}")
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as scratch:
        folder = Path(scratch)
        with private_redis(folder) as server:
            say(f"redis-server {server.version()} on port {server.port}")
            prepared = [prepare(name, server, folder, sizes, say) for name in names]
            ready: list[tuple[System, Outcome]] = [(s, o) for s, o in prepared if s is not None]
            order = random.Random(seed)
            for k in range(args.rounds):
                order.shuffle(ready)
                say(f"round {k + 1}/{args.rounds}: {', '.join(s.name for s, _ in ready)}")
                for system, outcome in ready:
                    run_round(system, sizes, outcome, say)
            ceilings, ceiling_error = [], None
            try:
                server.flushall()
                for pipeline in (1, 16):
                    ceilings.append(ceiling.measure(server.port, pipeline, 200_000))
                    say(f"  redis-benchmark: {ceilings[-1].ops_per_second} (-P {pipeline})")
            except (OSError, RuntimeError, ValueError) as exc:
                ceiling_error = str(exc)
                say(f"  redis-benchmark FAILED: {exc}")
            redis_version = server.version()
    say(f"done in {time.monotonic() - started:.0f} s")
    report = render(
        Run(
            sizes=sizes,
            rounds=args.rounds,
            outcomes=[o for _, o in prepared],
            ceilings=ceilings,
            ceiling_error=ceiling_error,
            redis_version=redis_version,
            machine=machine(),
            load=(load_before, load_average()),
            seed=seed,
        )
    )
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    cells = "\n".join(progress.lines)
    args.output.write_text(f"{report}\nEach cell as it ran:\n\n```text\n{cells}\n```\n")
    print(f"written to {args.output}", file=sys.stderr)
