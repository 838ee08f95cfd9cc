"""`python -m benchmarks cluster [--quick]`: conveyor on a Redis Cluster of three masters
beside conveyor on a single Redis, side by side in one run, as ratios cluster/single.

Four workloads: a drain of one store by one worker process; single enqueue (one call at a
time) and bulk enqueue into one store; and three stores drained at once, each by a worker
process of its own, whose prefixes put them on three different masters of the cluster (on
the single Redis, the same three stores share the server). Both sides are private servers
started for the run with persistence off. The full run takes about 5 minutes on 2 cores,
`--quick` about one. The table goes to benchmarks/results/cluster.md.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.cluster.report import WORKLOADS, Run, Sizes, describe, render
from benchmarks.cluster.servers import Side, prefixes_on_each_master, redis_cluster, single_redis
from benchmarks.cluster.workloads import DRAIN, SINGLE, SPREAD, Cell, drain, enqueue
from benchmarks.machine import machine
from benchmarks.progress import Progress
from benchmarks.versus.cli import RESULTS, load_average, publish

FULL = Sizes(drain=50_000, single=10_000, bulk=100_000, spread=30_000, rounds=5)
QUICK = Sizes(drain=10_000, single=2_000, bulk=20_000, spread=10_000, rounds=3)
STORES = 3  # in the spread drain: one per master of the cluster


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks cluster", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="10,000 jobs a drain, 2,000 single enqueues"
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS / "cluster.md", help="where to write"
    )
    return parser.parse_args(argv)


def measure(
    sizes: Sizes, folder: Path, say: Callable[[str], None]
) -> tuple[list[Cell], list[str], list[str]]:
    """Every cell of every round, the stores' prefixes and each side's servers, described."""
    cells: list[Cell] = []
    with single_redis(folder / "single") as single, redis_cluster(folder / "cluster") as cluster:
        prefixes = prefixes_on_each_master(cluster, STORES)
        sides = (single, cluster)
        for round_number in range(sizes.rounds):
            order = sides if round_number % 2 == 0 else sides[::-1]
            for workload in WORKLOADS:
                for side in order:
                    cell_folder = folder / f"{round_number}-{len(cells)}"
                    cell_folder.mkdir()
                    try:
                        cell = _cell(workload, side, prefixes, sizes, cell_folder)
                    except Exception as exc:  # the next cell still runs; the report says why
                        problem = f"{type(exc).__name__}: {exc}"[:300]
                        cell = Cell(workload, side.name, 0, 0, 0.0, 0.0, 0.0, problem)
                    say(f"  round {round_number + 1}, {workload}, {side.name}: {_line(cell)}")
                    cells.append(cell)
        return cells, prefixes, [f"{side.name}: {side.described}" for side in sides]


def _cell(workload: str, side: Side, prefixes: list[str], sizes: Sizes, folder: Path) -> Cell:
    if workload == DRAIN:
        return drain(workload, side, prefixes[:1], sizes.drain, folder)
    if workload == SPREAD:
        return drain(workload, side, prefixes, sizes.spread, folder)
    n = sizes.single if workload == SINGLE else sizes.bulk
    return enqueue(workload, side, prefixes[0], n)


def _line(cell: Cell) -> str:
    twice = f"; {cell.duplicates} job(s) ran twice" if cell.duplicates else ""
    return (
        f"{describe(cell)} jobs/s; CPU {cell.client_cpu:.2f} s client, "
        f"{cell.server_cpu:.2f} s servers{twice}"
    )


def main(argv: list[str]) -> None:
    args = parse(argv)  # --help and bad options end here, before anything starts
    # the private servers keep no append-only file on purpose: no warning per new app
    logging.getLogger("conveyor.redis").setLevel(logging.ERROR)
    sizes = QUICK if args.quick else FULL
    progress = Progress()
    load_before, started = load_average(), time.monotonic()
    progress.say(f"load average {load_before}; {sizes}")
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as folder:
        cells, prefixes, servers = measure(sizes, Path(folder), progress.say)
    run = Run(
        command=shlex.join(["python", "-m", "benchmarks", "cluster", *argv]),
        sizes=sizes, prefixes=prefixes, cells=cells, servers=servers, machine=machine(),
        load_average=(load_before, load_average()), seconds=time.monotonic() - started,
    )  # fmt: skip
    publish(render(run), args.output, progress)
