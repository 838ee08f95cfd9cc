"""`python -m benchmarks postgres`: conveyor, procrastinate and pgqueuer on one private cluster.

Sizes suit a 2-core machine: the full run takes about 10 minutes once the peers' virtualenvs
exist (making them takes a minute or two, once); `--quick` is a smoke run of about 2 minutes.
Every commit is durable (fsync and synchronous_commit on), as in production.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.machine import filesystem, machine
from benchmarks.postgres_bench.server import PostgresServer, private_postgres
from benchmarks.progress import Progress
from benchmarks.versus.cli import (
    RESULTS,
    load_average,
    parser,
    publish,
    run_all,
    seed_of,
    sizes_from,
)
from benchmarks.versus.report import Kind, Run, render
from benchmarks.versus.venvs import peers

KIND = Kind(
    server="PostgreSQL",
    calls="statements",
    reset="each cell in a new database copied from the one the system installed its schema into",
    totals=(("commits", "commits", 2), ("rows written", "rows", 1), ("WAL bytes", "wal", 0)),
)


def notes(server: PostgresServer, version: str) -> list[str]:
    settings = ", ".join(f"`{k}={v}`" for k, v in server.cluster.settings.items())
    statements = (
        "Statements are pg_stat_statements' calls in the cell's database (what clients sent, "
        "BEGIN/COMMIT and LISTEN included; statements inside functions not counted apart)"
        if server.counts_statements
        else "pg_stat_statements is not installed here: no statement counts"
    )
    return [
        f"PostgreSQL {version}, a private cluster made for this run (initdb, then pg_ctl on a "
        f"free port, TCP on 127.0.0.1), data on {filesystem(server.cluster.directory)}; "
        f"{settings}; everything else at its default.",
        f"{statements}. Commits and rows written (inserted + updated + deleted) come from "
        "pg_stat_database for that database, read after its sessions ended; WAL bytes are the "
        "whole cluster's; PostgreSQL CPU is the postmaster and all its processes (/proc). The "
        "drain's counts cover the worker's whole life, start-up and shutdown included.",
    ]


def main(argv: list[str]) -> None:
    args = parser(
        "python -m benchmarks postgres", __doc__, peers("postgres"), RESULTS / "postgres.md"
    ).parse_args(argv)
    sizes = sizes_from(args)
    names = args.systems.split(",") if args.systems else ["conveyor", *peers("postgres")]
    seed = seed_of(args)
    progress = Progress()
    say = progress.say
    started, load_before = time.monotonic(), load_average()
    say(f"load average {load_before}; sizes {sizes}")
    with tempfile.TemporaryDirectory(prefix="bench-postgres-") as scratch:
        folder = Path(scratch)
        with private_postgres() as server:
            version = server.version()
            say(f"PostgreSQL {version} on port {server.cluster.port}")
            outcomes = run_all(server, folder, names, sizes, args.rounds, seed, say)
            run_notes = notes(server, version)
    say(f"done in {time.monotonic() - started:.0f} s")
    run = Run(
        kind=KIND,
        sizes=sizes,
        rounds=args.rounds,
        outcomes=outcomes,
        machine=machine(),
        load=(load_before, load_average()),
        seed=seed,
        notes=run_notes,
    )
    publish(render(run), args.output, progress)
