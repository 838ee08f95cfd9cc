"""`python -m benchmarks dashboard [--quick] [--backends sqlite,redis,postgres]`: every page
and API call of the dashboard, timed against a store holding a million finished jobs and ten
thousand failed ones, on each backend; p50 / p95 / max per call, and those over 300 ms at
p95 flagged. `--quick` keeps 100,000 finished jobs and 1,000 failed ones.

Each backend gets a fresh store (a SQLite file, a private redis-server, a new PostgreSQL
database), filled through its own enqueue, claim and ack (see `fill`), then timed, then
dropped. The table goes to benchmarks/results/dashboard.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import random
import shlex
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.dashboard.calls import dashboard_calls
from benchmarks.dashboard.fill import QUICK, Sizes, build_app, fill
from benchmarks.dashboard.report import BackendRun, Run, render
from benchmarks.dashboard.stores import BACKENDS, open_store
from benchmarks.dashboard.timing import time_calls
from benchmarks.machine import machine
from benchmarks.progress import Progress
from benchmarks.versus.cli import RESULTS, load_average, publish
from conveyor.dashboard import dashboard_app

REQUESTS, QUICK_REQUESTS = 30, 20
CAP, QUICK_CAP = 20.0, 10.0  # seconds each call may take in all, per backend
BATCH_LIMIT = 10_000  # dashboard_app's default: "all that match" counts this many at most
REFRESH = 0.001  # seconds a chart read is shared: none, so each chart call reads the store


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks dashboard", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100k finished jobs, 1k failed")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated: sqlite,redis,postgres"
    )
    parser.add_argument("--succeeded", type=int, help="succeeded jobs kept (default 1,000,000)")
    parser.add_argument("--failed", type=int, help="failed jobs kept (default 10,000)")
    parser.add_argument(
        "--requests", type=int, help=f"timed requests per call (default {REQUESTS})"
    )
    parser.add_argument("--cap", type=float, help=f"seconds per call at most (default {CAP:g})")
    parser.add_argument(
        "--output", type=Path, default=RESULTS / "dashboard.md", help="where to write"
    )
    return parser.parse_args(argv)


def sizes_from(args: argparse.Namespace) -> Sizes:
    sizes = QUICK if args.quick else Sizes()
    if args.succeeded is not None:
        sizes = dataclasses.replace(sizes, succeeded=args.succeeded)
    if args.failed is not None:
        cancelled = min(sizes.cancelled, max(args.failed // 10, 1))
        sizes = dataclasses.replace(sizes, failed=args.failed, cancelled=cancelled)
    if sizes.succeeded < 1 or sizes.failed < 1:
        raise SystemExit("the store needs a succeeded job and a failed one at least")
    return sizes


async def run_backend(
    backend: str, sizes: Sizes, requests: int, cap: float, folder: Path, progress: Progress
) -> BackendRun:
    async with open_store(backend, folder) as store:
        app = build_app(store.url)
        try:
            started = time.monotonic()
            progress.say(f"{backend}: loading {sizes.history:,} finished jobs")
            marks = await fill(app, sizes, store.backfill, progress.say)
            await store.settle()
            progress.say(
                f"  {backend}: loaded in {time.monotonic() - started:.0f} s "
                f"(the history in {marks.load_seconds:.0f} s)"
            )
            dashboard = dashboard_app(
                app, open_access=True, refresh=REFRESH, batch_limit=BATCH_LIMIT
            )
            transport = httpx.ASGITransport(app=dashboard)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://127.0.0.1", timeout=600
            ) as client:
                calls = await dashboard_calls(client, await app.connected(), store.url, marks)
                timings = await time_calls(calls, requests, cap, random.Random(7))
        finally:
            await app.close()
    for timing in timings:
        if timing.ms:
            shown = " / ".join(f"{timing.percentile(p):.1f}" for p in (50, 95, 100))
            progress.say(f"  {backend}: {timing.name}: {shown} ms (n={len(timing.ms)})")
        if timing.error:
            progress.say(f"  {backend}: {timing.name}: {timing.error}")
    notes = {call.name: call.note for call in calls if call.note}
    return BackendRun(backend, store.server, marks, timings, notes)


async def run(argv: list[str], progress: Progress) -> Run:
    args = parse(argv)
    backends = [name for name in args.backends.split(",") if name]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        raise SystemExit(f"unknown backends {sorted(unknown)}; known: {', '.join(BACKENDS)}")
    sizes = sizes_from(args)
    requests = args.requests or (QUICK_REQUESTS if args.quick else REQUESTS)
    cap = args.cap or (QUICK_CAP if args.quick else CAP)
    load_before, started = load_average(), time.monotonic()
    runs = []
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as folder:
            try:
                done = await run_backend(backend, sizes, requests, cap, Path(folder), progress)
            except Exception as exc:  # the next backend still runs; the report says why
                problem = f"not measured: {type(exc).__name__}: {exc}"[:500]
                progress.say(f"  {backend}: {problem}")
                done = BackendRun(backend, "?", None, [], problem=problem)
            runs.append(done)
    return Run(
        command=shlex.join(["python", "-m", "benchmarks", "dashboard", *argv]),
        sizes=sizes, requests=requests, cap=cap, backends=runs,
        machine=machine(), load=(load_before, load_average()),
        seconds=time.monotonic() - started,
    )  # fmt: skip


def main(argv: list[str]) -> None:
    args = parse(argv)  # --help and bad options end here, before anything starts
    # the private Redis keeps no append-only file on purpose: no warning per new app
    logging.getLogger("conveyor.redis").setLevel(logging.ERROR)
    progress = Progress()
    result = asyncio.run(run(argv, progress))
    publish(render(result), args.output, progress)
