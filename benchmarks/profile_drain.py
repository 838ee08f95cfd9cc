"""`python -m benchmarks.profile_drain`: where a conveyor drain spends its time.

Runs a worker in this process (not a subprocess, so cProfile sees it) over N queued no-op
jobs until the queue is empty, and prints the top functions by cumulative time on the event
loop's thread, then by own time on that thread and on conveyor's SQLite thread. cProfile
slows Python code several times over, so read the shares, not the rate.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import completions
from benchmarks.completions import CompletionLog
from benchmarks.conveyor_sqlite import ConveyorSQLite, make_app
from conveyor.backends.sqlite import SQLiteBackend
from conveyor.worker import Worker


def profile_thread(serve: Callable[[], None], profiler: cProfile.Profile) -> Callable[[], None]:
    """Wrap a thread's target so that thread runs under its own profiler."""

    def profiled() -> None:
        profiler.enable()
        try:
            serve()
        finally:
            profiler.disable()

    return profiled


async def drain(db: Path, concurrency: int, sqlite_profiler: cProfile.Profile) -> float:
    app, _ = make_app(db)
    backend = app.backend
    assert isinstance(backend, SQLiteBackend)
    # reaching into a private attribute, in this tool only: cProfile sees one thread at a time,
    # and most of a drain's work happens on the backend's SQLite thread
    thread = backend._thread
    setattr(thread, "_serve", profile_thread(thread._serve, sqlite_profiler))  # noqa: B010
    async with app:
        start = time.perf_counter()
        await Worker(app, concurrency=concurrency, burst=True).run()
        return time.perf_counter() - start


def top(profiler: cProfile.Profile, sort: str, count: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(sort)
    stats.print_stats(count)
    lines = out.getvalue().splitlines()
    start = next((k for k, line in enumerate(lines) if "ncalls" in line), 0)
    return "\n".join(lines[start:]).rstrip()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_drain")
    parser.add_argument("--n", type=int, default=20000, help="jobs to drain")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--top", type=int, default=25, help="functions to list")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as folder:
        db = Path(folder) / "jobs.db"
        log = CompletionLog(Path(folder) / "done.log")
        completions.open_for_writing(log.path)
        ConveyorSQLite().prefill(db, args.n)
        loop_profiler, sqlite_profiler = cProfile.Profile(), cProfile.Profile()
        loop_profiler.enable()
        seconds = asyncio.run(drain(db, args.concurrency, sqlite_profiler))
        loop_profiler.disable()
        ran = len({c.index for c in log.read()})
    threads = threading.active_count()
    print(
        f"conveyor drain under cProfile: {ran:,}/{args.n:,} jobs in {seconds:.2f} s "
        f"({ran / seconds:,.0f} jobs/s profiled), concurrency {args.concurrency}, "
        f"{threads} thread(s) left"
    )
    print(f"\n### event-loop thread: top {args.top} by cumulative time\n")
    print(top(loop_profiler, "cumulative", args.top))
    print("\n### event-loop thread: top 15 by own time\n")
    print(top(loop_profiler, "tottime", 15))
    print("\n### SQLite thread: top 15 by own time\n")
    print(top(sqlite_profiler, "tottime", 15))
    if ran != args.n:
        raise SystemExit(f"only {ran} of {args.n} jobs ran")


if __name__ == "__main__":
    main(sys.argv[1:])
