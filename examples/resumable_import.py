"""A resumable import: a long job that saves its place, so a retry or a crash resumes there.

`import_csv` copies a CSV file into an SQLite table in chunks. After each chunk it saves
`{"row": n}` with `ctx.save_checkpoint` and waits until that is durable; any later attempt (a
retry after an error, or a rerun after the worker was killed) reads `ctx.checkpoint` and
starts at row n instead of row 0. Only the chunk in flight when the attempt ended can be
imported twice, so the insert is idempotent (`INSERT OR IGNORE` on the row number).

    python examples/resumable_import.py            # the first attempt fails half way
    conveyor worker examples.resumable_import:app  # or run a worker, enqueue, kill -9 it,
                                                   # start another: the import resumes

The job queue lives in $CONVEYOR_URL, else ./resumable_import.db.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from conveyor import Context, Conveyor, Worker

app = Conveyor(os.environ.get("CONVEYOR_URL", "sqlite:///./resumable_import.db"))


@app.task(retries=3, backoff="constant", backoff_base=0.5)
def import_csv(
    source: str, target: str, chunk: int = 100, fail_at: int | None = None,
    ctx: Context = Context.INJECTED,
) -> dict[str, int]:  # fmt: skip
    """Import the rows of `source` into the `people` table of the SQLite file `target`.

    `fail_at` makes the first attempt lose its "connection" at that row, to show a retry
    picking up where it stopped.
    """
    start = ctx.checkpoint["row"] if ctx.checkpoint else 0
    with open(source, newline="") as file:
        rows = list(csv.reader(file))[1:]  # without the header
    with sqlite3.connect(target) as db:
        db.execute("CREATE TABLE IF NOT EXISTS people (row INTEGER PRIMARY KEY, name, email)")
        for first in range(start, len(rows), chunk):
            batch = rows[first : first + chunk]
            if ctx.attempt == 1 and fail_at is not None and first <= fail_at < first + chunk:
                raise ConnectionError(f"lost the database at row {fail_at}")
            with db:  # one transaction per chunk
                db.executemany(
                    "INSERT OR IGNORE INTO people VALUES (?, ?, ?)",
                    [(first + i, *row) for i, row in enumerate(batch)],
                )
            done = first + len(batch)
            ctx.save_checkpoint({"row": done}).wait()  # durable before the next chunk
            ctx.progress(done / len(rows), f"{done} of {len(rows)} rows")
    return {"attempt": ctx.attempt, "resumed_at": start, "rows": len(rows)}


async def main() -> None:
    parser = argparse.ArgumentParser(description="Import a CSV file in a resumable job.")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--chunk", type=int, default=100)
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="conveyor-import-"))
    source, target = folder / "people.csv", folder / "people.db"
    with source.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["name", "email"])
        writer.writerows([f"person {n}", f"p{n}@example.com"] for n in range(options.rows))

    async with app:
        handle = await import_csv.enqueue(
            str(source), str(target), options.chunk, fail_at=options.rows // 2
        )
        worker = Worker(app, queues=["default"], heartbeat=1.0, lease=5.0)
        running = asyncio.create_task(worker.run())
        try:
            outcome: dict[str, Any] = await handle.result(timeout=60)
        finally:
            worker.stop()
            await running
        info = await handle.info()
    with sqlite3.connect(target) as db:
        (imported,) = db.execute("SELECT count(*) FROM people").fetchone()
    print(f"job {handle.id}: {info.state}, {info.attempts} attempts")
    print(f"attempt {outcome['attempt']} resumed at row {outcome['resumed_at']}")
    print(f"{imported} of {outcome['rows']} rows in {target}")


if __name__ == "__main__":
    asyncio.run(main())
