"""`python -m benchmarks processes-curve [--quick] [--backends sqlite,redis,postgres]`: N no-op
jobs already queued, drained by `conveyor worker --processes P` for P = 1, 2 and 4 (each
process at concurrency 100), on each backend; jobs/s and the ratio to one process, side by
side in one run. Also the resident memory of one idle worker process.

Each cell gets a fresh store (`benchmarks.history.stores`: an SQLite file, a private
redis-server with persistence off, a private PostgreSQL cluster at the server's defaults),
filled through the bulk enqueue with its queue paused. The queue is resumed once every
worker process has started, so the figures leave out interpreter start-up (P processes
importing at once on two cores would otherwise decide them): the rate runs from the resume
to the last completion, and from the first job's start to the last's; the workers' CPU
from the resume on. Completions are counted in a log outside the store, and a cell reports
a rate only if every job ran; the store must then agree (N succeeded). `--quick` drains
5,000 jobs once per cell; the full run 20,000, three times, in alternating order, and
reports medians. The table goes to benchmarks/results/processes.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from benchmarks.completions import CompletionLog, Tally
from benchmarks.history.stores import BACKENDS, open_store
from benchmarks.machine import machine
from benchmarks.processes import ROOT
from benchmarks.processes_curve.app import LOG_ENV, URL_ENV, make_app
from benchmarks.progress import Progress
from benchmarks.versus.cli import RESULTS, load_average, publish
from conveyor.job import JobState

APP_PATH = "benchmarks.processes_curve.app:app"
PROCESSES = (1, 2, 4)
CONCURRENCY = 100
JOBS, QUICK_JOBS = 20_000, 5_000
ROUNDS, QUICK_ROUNDS = 3, 1
CAP = 120.0  # seconds a cell may take; a partial rate is reported past it
FILL_BATCH = 1_000


@dataclasses.dataclass(frozen=True, slots=True)
class Cell:
    backend: str
    processes: int
    done: int
    wanted: int
    from_start: float  # seconds from resuming the queue to the last completion
    after_first: float  # seconds from the first job's start to the last job's start
    worker_cpu: float  # the worker processes' user + system seconds while draining
    server_cpu: float | None  # redis-server's, where it can be read
    peak_rss: int  # the largest worker process's peak resident memory, bytes
    problem: str | None = None

    @property
    def rate(self) -> float:
        return self.done / self.from_start if self.from_start > 0 else 0.0

    @property
    def rate_after_first(self) -> float:
        return self.done / self.after_first if self.after_first > 0 else 0.0


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks processes-curve", description=__doc__
    )
    parser.add_argument("--quick", action="store_true", help="5,000 jobs, one round")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated: sqlite,redis,postgres"
    )
    parser.add_argument("--jobs", type=int, help="jobs per cell")
    parser.add_argument(
        "--output", type=Path, default=RESULTS / "processes.md", help="where to write"
    )
    args = parser.parse_args(argv)
    args.backends = [name for name in args.backends.split(",") if name]
    unknown = set(args.backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backends {sorted(unknown)}; known: {', '.join(BACKENDS)}")
    args.jobs = args.jobs or (QUICK_JOBS if args.quick else JOBS)
    args.rounds = QUICK_ROUNDS if args.quick else ROUNDS
    return args


def main(argv: list[str]) -> None:
    args = parse(argv)
    progress = Progress()
    load_before = load_average()
    progress.say(f"load average {load_before}; {args.jobs} jobs per cell, {args.rounds} rounds")
    cells: list[Cell] = []
    with tempfile.TemporaryDirectory(prefix="bench-processes-") as scratch:
        folder = Path(scratch)
        idle = idle_rss(folder / "idle")
        progress.say(f"  idle worker process (SQLite): {idle / 2**20:.1f} MB resident")
        for round_number in range(args.rounds):
            order = PROCESSES if round_number % 2 == 0 else tuple(reversed(PROCESSES))
            for backend in args.backends:
                for processes in order:
                    cell_folder = folder / f"{backend}-{processes}-{round_number}"
                    cell_folder.mkdir()
                    cell = asyncio.run(drain(backend, processes, args.jobs, cell_folder))
                    progress.say(f"  {backend} x{processes}: {describe(cell)}")
                    cells.append(cell)
    report = render(cells, args, idle, load_before)
    publish(report, args.output, progress)


@dataclasses.dataclass(frozen=True, slots=True)
class _Run:
    elapsed: float
    worker_cpu: float
    server_cpu: float | None
    peak_rss: int


async def drain(backend: str, processes: int, n: int, folder: Path) -> Cell:
    async with open_store(backend, folder) as store:
        await fill(store.url, n)
        log = CompletionLog(folder / "completions.log")
        run = await asyncio.to_thread(supervise, store.url, processes, n, log, folder)
        runs = log.read()
        tally = Tally.of(runs, n)
        starts = [entry.started for entry in runs if entry.index >= 0]
        spread = max(starts) - min(starts) if starts else 0.0
        problem = await check_drained(store.url, n) if tally.distinct == n else None
        if tally.duplicates:
            problem = f"{tally.duplicates} jobs ran twice"
        return Cell(
            backend, processes, tally.distinct, n, run.elapsed, spread, run.worker_cpu,
            run.server_cpu, run.peak_rss, problem,
        )  # fmt: skip


def supervise(url: str, processes: int, n: int, log: CompletionLog, folder: Path) -> _Run:
    """Start `conveyor worker --processes` on the paused queue; once every worker process
    has started, resume it, wait for the n completions, and stop the supervisor."""
    env = {**os.environ, URL_ENV: url, LOG_ENV: str(log.path)}
    argv = [sys.executable, "-m", "conveyor", "worker", APP_PATH]
    argv += ["--processes", str(processes), "--concurrency", str(CONCURRENCY)]
    output_path = folder / "supervisor.log"  # per-job logging is off: lifecycle lines only
    with output_path.open("wb") as output:
        supervisor = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )
        try:
            deadline = time.monotonic() + CAP
            while output_path.read_bytes().count(b" started: queues") < processes:
                if time.monotonic() > deadline or supervisor.poll() is not None:
                    raise RuntimeError(f"the worker processes did not start: {output_path}")
                time.sleep(0.05)
            workers = psutil.Process(supervisor.pid).children()
            cpu_before, server_before = sum(_cpu(w) for w in workers), server_cpu(url)
            started = time.monotonic()
            asyncio.run(resume(url))
            log.wait_for(n, started + CAP, lambda: supervisor.poll() is None)
            elapsed = time.monotonic() - started
            cpu = sum(_cpu(worker) for worker in workers) - cpu_before
            server_after = server_cpu(url)
            peak = max((_peak_rss(worker.pid) for worker in workers), default=0)
            supervisor.send_signal(signal.SIGTERM)
            supervisor.wait(60)
        finally:
            if supervisor.poll() is None:
                supervisor.kill()
                supervisor.wait()
    server = None
    if server_before is not None and server_after is not None:
        server = server_after - server_before
    return _Run(elapsed, cpu, server, peak)


async def fill(url: str, n: int) -> None:
    """n jobs in the task's queue, paused."""
    app, job = make_app(url)
    async with app:
        await (await app.connected()).pause_queue(app.default_queue)
        now = time.time()
        for first in range(0, n, FILL_BATCH):
            await app.enqueue_many(
                [job.s(i, now) for i in range(first, min(first + FILL_BATCH, n))]
            )


async def resume(url: str) -> None:
    app, _ = make_app(url)
    async with app:
        await (await app.connected()).resume_queue(app.default_queue)


async def check_drained(url: str, n: int) -> str | None:
    app, _ = make_app(url)
    async with app:
        counts = (await (await app.connected()).counts()).get(app.default_queue, {})
    succeeded = counts.get(JobState.SUCCEEDED, 0)
    if succeeded != n:
        return f"the store counts {succeeded} succeeded of {n}"
    return None


def server_cpu(url: str) -> float | None:
    """redis-server's CPU seconds so far; None for the other stores."""
    if not url.startswith("redis"):
        return None
    import redis

    with redis.Redis.from_url(url) as client:
        info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def idle_rss(folder: Path) -> int:
    """VmRSS of one worker process on SQLite, two seconds after it started, no job run."""
    folder.mkdir()
    env = {**os.environ, URL_ENV: f"sqlite:///{folder}/jobs.db"}
    argv = [sys.executable, "-m", "conveyor", "worker", APP_PATH, "--log-level", "WARNING"]
    worker = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
    try:
        time.sleep(2.0)
        return _status_kb(worker.pid, "VmRSS:") * 1024
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)


def _cpu(process: psutil.Process) -> float:
    with contextlib.suppress(psutil.NoSuchProcess):
        times = process.cpu_times()
        return times.user + times.system
    return 0.0


def _peak_rss(pid: int) -> int:
    return _status_kb(pid, "VmHWM:") * 1024


def _status_kb(pid: int, field: str) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def describe(cell: Cell) -> str:
    if cell.problem:
        return f"PROBLEM: {cell.problem}"
    mark = "" if cell.done == cell.wanted else f" PARTIAL {cell.done}/{cell.wanted}"
    return (
        f"{cell.rate:,.0f} jobs/s from the resume, {cell.rate_after_first:,.0f} first to last"
        f"{mark}; workers {cell.worker_cpu:.1f} CPU s"
    )


def render(cells: list[Cell], args: argparse.Namespace, idle: int, load_before: str) -> str:
    lines = [
        "# conveyor: one store drained by 1, 2 and 4 worker processes",
        "",
        f"{machine()}; load average {load_before} before, {load_average()} after.",
        f"{args.jobs} no-op jobs queued per cell (paused until every process started), "
        f"`conveyor worker --processes P --concurrency {CONCURRENCY}`; {args.rounds} "
        "round(s), medians; ratio: jobs/s from the resume over one process's. Worker CPU "
        "and server CPU (redis-server) per 1,000 jobs while draining; peak RSS of the "
        "largest worker process.",
        f"An idle worker process (SQLite, one task): {idle / 2**20:.1f} MB resident.",
        "",
        "| backend | processes | jobs/s from resume | jobs/s first to last start | ratio to 1 "
        "| worker CPU s/1k | server CPU s/1k | peak RSS/process |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for backend in args.backends:
        base: float | None = None
        for processes in PROCESSES:
            mine = [c for c in cells if c.backend == backend and c.processes == processes]
            good = [c for c in mine if c.problem is None and c.done == c.wanted]
            if not good:
                why = next((c.problem for c in mine if c.problem), "incomplete")
                lines.append(f"| {backend} | {processes} | {why} | | | | | |")
                continue
            rate = statistics.median(c.rate for c in good)
            after = statistics.median(c.rate_after_first for c in good)
            base = rate if processes == 1 else base
            ratio = f"{rate / base:.2f}x" if base else "n/a"
            cpu = statistics.median(c.worker_cpu for c in good) / args.jobs * 1000
            servers = [c.server_cpu for c in good if c.server_cpu is not None]
            server = f"{statistics.median(servers) / args.jobs * 1000:.2f}" if servers else "-"
            rss = max(c.peak_rss for c in good) / 2**20
            lines.append(
                f"| {backend} | {processes} | {rate:,.0f} | {after:,.0f} | {ratio} "
                f"| {cpu:.2f} | {server} | {rss:.0f} MB |"
            )
    return "\n".join(lines) + "\n"
