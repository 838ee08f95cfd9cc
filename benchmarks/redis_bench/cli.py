"""`python -m benchmarks redis`: conveyor and its peers on one private Redis, one table.

Sizes suit a 2-core machine: the full run takes about 10 minutes once the peers' virtualenvs
exist (making them takes a few minutes, once); `--quick` is a smoke run of about 2 minutes.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.machine import machine
from benchmarks.progress import Progress
from benchmarks.redis_bench import ceiling
from benchmarks.redis_bench.report import KIND, ceiling_row, notes
from benchmarks.redis_bench.server import private_redis
from benchmarks.versus.cli import (
    RESULTS,
    load_average,
    parser,
    publish,
    run_all,
    seed_of,
    sizes_from,
)
from benchmarks.versus.report import Run, header, render
from benchmarks.versus.venvs import peers


def main(argv: list[str]) -> None:
    args = parser(
        "python -m benchmarks redis", __doc__, peers("redis"), RESULTS / "redis.md"
    ).parse_args(argv)
    sizes = sizes_from(args)
    names = args.systems.split(",") if args.systems else ["conveyor", *peers("redis")]
    seed = seed_of(args)
    progress = Progress()
    say = progress.say
    started, load_before = time.monotonic(), load_average()
    say(f"load average {load_before}; sizes {sizes}")
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as scratch:
        folder = Path(scratch)
        with private_redis(folder) as server:
            say(f"redis-server {server.version()} on port {server.port}")
            outcomes = run_all(server, folder, names, sizes, args.rounds, seed, say)
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
    width = len(header(KIND))
    run = Run(
        kind=KIND,
        sizes=sizes,
        rounds=args.rounds,
        outcomes=outcomes,
        machine=machine(),
        load=(load_before, load_average()),
        seed=seed,
        extra_rows=[ceiling_row(ceilings, ceiling_error, width)],
        notes=notes(ceilings, redis_version),
    )
    publish(render(run), args.output, progress)
