"""`python -m benchmarks history [--quick] [--backends sqlite,redis,postgres]`: what a drain,
a single enqueue, a bulk enqueue, `stats` and the job listing cost with 0, 100,000 and
1,000,000 finished jobs already in the store, on each backend, as ratios to the empty store.
`--quick` stops at 20,000 and 100,000 finished jobs.

Each backend gets one fresh store (see `stores`) that grows: measured empty, loaded with
finished jobs up to the next size through its own enqueue, claim and ack (the dashboard
benchmark's load), measured again, and so on. At each size a new empty store on the same
server is measured in turn with it, and each ratio is between those two: a shared machine's
load weighs on both alike. The table goes to benchmarks/results/history.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shlex
import time
from pathlib import Path

from benchmarks.dashboard.fill import Sizes, build_app, load_history
from benchmarks.history.report import Curve, Point, Run, render
from benchmarks.history.stores import BACKENDS, each_backend, open_store
from benchmarks.history.workloads import Figures, Load, Subject, median_of
from benchmarks.machine import machine
from benchmarks.progress import Progress
from benchmarks.versus.cli import RESULTS, load_average, publish

SIZES, QUICK_SIZES = (0, 100_000, 1_000_000), (0, 20_000, 100_000)
LOAD, QUICK_LOAD = Load(single=2_000, bulk=40_000), Load(single=1_000, bulk=10_000)
REPEAT, QUICK_REPEAT = 5, 3  # measurements of each store per point, in alternating order
LOAD_BATCH = 5_000  # finished jobs per enqueue, claim and ack while loading


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks history", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="0, 20k and 100k finished jobs")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated: sqlite,redis,postgres"
    )
    parser.add_argument("--sizes", help="comma-separated finished-job counts, 0 first")
    parser.add_argument("--repeat", type=int, help="repetitions per point (median)")
    parser.add_argument(
        "--output", type=Path, default=RESULTS / "history.md", help="where to write"
    )
    args = parser.parse_args(argv)
    backends = [name for name in args.backends.split(",") if name]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backends {sorted(unknown)}; known: {', '.join(BACKENDS)}")
    args.backends = backends
    if args.sizes:
        try:
            args.sizes = tuple(int(size) for size in args.sizes.split(","))
        except ValueError:
            parser.error(f"--sizes takes whole numbers separated by commas, got {args.sizes!r}")
    else:
        args.sizes = QUICK_SIZES if args.quick else SIZES
    if list(args.sizes) != sorted(set(args.sizes)) or args.sizes[0] != 0:
        parser.error("--sizes must start at 0 and grow")
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def history_of(jobs: int) -> Sizes:
    """`jobs` finished jobs as the dashboard benchmark loads them: 1% failed, 0.1% cancelled."""
    failed, cancelled = max(jobs // 100, 1), max(jobs // 1000, 1)
    return Sizes(
        succeeded=jobs - failed - cancelled, failed=failed, cancelled=cancelled, batch=LOAD_BATCH
    )


async def run_backend(
    backend: str, sizes: tuple[int, ...], load: Load, repeat: int, folder: Path,
    progress: Progress,
) -> Curve:  # fmt: skip
    rng = random.Random(13)
    points: list[Point] = []
    async with open_store(backend, folder) as store:
        grown = Subject(build_app(store.url))
        try:
            store_backend = await grown.app.connected()
            loaded = 0
            for size in sizes:
                if size > loaded:
                    started = time.monotonic()
                    progress.say(f"{backend}: loading {size - loaded:,} finished jobs")
                    await load_history(grown.app, store_backend, history_of(size - loaded), rng,
                                       progress.say)  # fmt: skip
                    loaded = size
                    progress.say(f"  loaded in {time.monotonic() - started:.0f} s")
                async with store.empty() as url:
                    empty = Subject(build_app(url))
                    try:
                        runs = [
                            await _in_turn(empty, grown, load, i % 2 == 1) for i in range(repeat)
                        ]
                    finally:
                        await empty.app.close()
                point = Point(
                    size, median_of([e for e, _ in runs]), median_of([g for _, g in runs])
                )
                points.append(point)
                progress.say(f"  {backend} at {size:,}: {point.describe()}")
        finally:
            await grown.app.close()
    return Curve(backend, store.server, points)


async def _in_turn(
    empty: Subject, grown: Subject, load: Load, grown_first: bool
) -> tuple[Figures, Figures]:
    """Both stores measured, one then the other: (the empty store's, the grown store's)."""
    if grown_first:
        grown_figures = await grown.measure(load)
        return await empty.measure(load), grown_figures
    empty_figures = await empty.measure(load)
    return empty_figures, await grown.measure(load)


async def run(args: argparse.Namespace, argv: list[str], progress: Progress) -> Run:
    load = QUICK_LOAD if args.quick else LOAD
    repeat = args.repeat or (QUICK_REPEAT if args.quick else REPEAT)
    load_before, started = load_average(), time.monotonic()
    curves = await each_backend(
        args.backends,
        lambda backend, folder: run_backend(backend, args.sizes, load, repeat, folder, progress),
        lambda backend, problem: Curve(backend, "?", [], problem),
        progress,
    )
    return Run(
        command=shlex.join(["python", "-m", "benchmarks", "history", *argv]),
        load=load, repeat=repeat, curves=curves, machine=machine(),
        load_average=(load_before, load_average()), seconds=time.monotonic() - started,
    )  # fmt: skip


def main(argv: list[str]) -> None:
    args = parse(argv)  # --help and bad options end here, before anything starts
    progress = Progress()
    result = asyncio.run(run(args, argv, progress))
    publish(render(result), args.output, progress)
