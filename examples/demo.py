"""The conveyor demo: a real worker process, a producer, a progress bar, a summary.

Run it with `make demo` (or `python examples/demo.py` inside the project's environment).
Jobs live in a SQLite file; the worker is a separate process started with the same
`conveyor worker` command you would use in production.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

JOBS_PER_KIND = 150
console = Console()


async def produce_and_watch(url: str) -> None:
    os.environ["CONVEYOR_URL"] = url
    from conveyor import JobState
    from conveyor.backends.base import JobFilter
    from examples.demo_tasks import app, call_partner_api, import_legacy_csv, resize_image

    async with app:
        started = time.perf_counter()
        await app.enqueue_many([resize_image.s(i) for i in range(JOBS_PER_KIND)])
        await app.enqueue_many([call_partner_api.s(i) for i in range(JOBS_PER_KIND)])
        for row in range(10):  # one at a time, the way a web request would
            await import_legacy_csv.enqueue(row)
        total = 2 * JOBS_PER_KIND + 10
        console.print(f"enqueued {total} jobs in {time.perf_counter() - started:.2f} s")

        with Progress(
            TextColumn("[bold]jobs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.description}"), console=console,
        ) as progress:  # fmt: skip
            bar = progress.add_task("", total=total)
            while True:
                counts = await app.backend.counts()
                done = {s: sum(q.get(s, 0) for q in counts.values()) for s in JobState}
                finished = done[JobState.SUCCEEDED] + done[JobState.FAILED]
                progress.update(
                    bar,
                    completed=finished,
                    description=f"[green]{done[JobState.SUCCEEDED]} ok[/] "
                    f"[red]{done[JobState.FAILED]} failed[/] "
                    f"[cyan]{done[JobState.SCHEDULED]} waiting to retry[/]",
                )
                if finished >= total:
                    break
                await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - started

        summary = Table(title=f"all {total} jobs finished in {elapsed:.1f} s")
        for column in ("queue", "succeeded", "failed", "retried"):
            summary.add_column(column)
        jobs = await app.backend.list_jobs(JobFilter(limit=total))
        for queue in sorted({j.queue for j in jobs}):
            mine = [j for j in jobs if j.queue == queue]
            summary.add_row(
                queue,
                str(sum(j.state is JobState.SUCCEEDED for j in mine)),
                str(sum(j.state is JobState.FAILED for j in mine)),
                str(sum(j.attempts > 1 for j in mine)),
            )
        console.print(summary)
        dead = next(j for j in jobs if j.state is JobState.FAILED)
        console.print(f"a dead-lettered job, kept for inspection: [bold]{dead.id}[/]")
        assert dead.error is not None
        console.print(f"  {dead.error.type}: {dead.error.message} after {dead.attempts} attempts")
        console.print(f"  see it with: conveyor jobs show --url {url} {dead.id}")


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="conveyor-demo-"))
    url = f"sqlite:///{folder / 'demo.db'}"
    root = Path(__file__).resolve().parent.parent
    console.print(f"[bold]conveyor demo[/]: jobs in {folder / 'demo.db'}")
    log = (folder / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "conveyor", "worker", "examples.demo_tasks:app",
         "--concurrency", "20"],
        cwd=root, env={**os.environ, "CONVEYOR_URL": url}, stderr=log,
    )  # fmt: skip
    try:
        asyncio.run(produce_and_watch(url))
    finally:
        worker.send_signal(signal.SIGTERM)  # the graceful path: finish, hand back, exit
        worker.wait(timeout=30)
    console.print(f"worker stopped (exit code {worker.returncode}); its log: {log.name}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
