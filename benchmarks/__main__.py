"""`python -m benchmarks [sqlite|redis|postgres|enqueue|observability|sealing|dashboard|history|
queues|processes-curve|cluster] ...`: one comparison per command.

SQLite when no server is named."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    if argv and argv[0] == "redis":
        from benchmarks.redis_bench.cli import main as redis

        redis(argv[1:])
        return
    if argv and argv[0] == "postgres":
        from benchmarks.postgres_bench.cli import main as postgres

        postgres(argv[1:])
        return
    if argv and argv[0] == "enqueue":
        from benchmarks.enqueue.cli import main as enqueue

        enqueue(argv[1:])
        return
    if argv and argv[0] == "observability":
        from benchmarks.observability.cli import main as observability

        observability(argv[1:])
        return
    if argv and argv[0] == "sealing":
        from benchmarks.sealing.cli import main as sealing

        sealing(argv[1:])
        return
    if argv and argv[0] == "dashboard":
        from benchmarks.dashboard.cli import main as dashboard

        dashboard(argv[1:])
        return
    if argv and argv[0] == "history":
        from benchmarks.history.cli import main as history

        history(argv[1:])
        return
    if argv and argv[0] == "queues":
        from benchmarks.queues.cli import main as queues

        queues(argv[1:])
        return
    if argv and argv[0] == "processes-curve":
        from benchmarks.processes_curve.cli import main as processes_curve

        processes_curve(argv[1:])
        return
    if argv and argv[0] == "cluster":
        from benchmarks.cluster.cli import main as cluster

        cluster(argv[1:])
        return
    from benchmarks.sqlite import main as sqlite

    sqlite(argv[1:] if argv and argv[0] == "sqlite" else argv)


if __name__ == "__main__":
    main(sys.argv[1:])
