"""The PostgreSQL benchmark's harness, run for conveyor alone with tiny sizes on a private cluster.

It must still make a cluster, install conveyor's schema into a template database, drive a
producer and a worker process through `benchmarks.peers` in a fresh database per cell, verify
from its completion log that every job ran exactly once (no-op jobs, and jobs that each run one
statement of their own), and read statements and commits per
job: otherwise the comparison could rot unnoticed between the runs that publish its figures.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from benchmarks.postgres_bench.server import PostgresServer, private_postgres
from benchmarks.versus.outcome import prepare, run_round
from benchmarks.versus.workloads import Sizes

from live_services import missing

TINY = Sizes(single=20, bulk=50, drain=60, latency=5, concurrency=10, cap=60.0)


def test_the_harness_verifies_that_conveyor_ran_every_job(tmp_path: Path) -> None:
    said: list[str] = []
    with contextlib.ExitStack() as stack:
        try:
            server: PostgresServer = stack.enter_context(private_postgres())
        except (OSError, RuntimeError) as exc:
            missing("a private PostgreSQL cluster", exc, problem="cannot be started")
        system, outcome = prepare("conveyor", server, tmp_path, TINY, said.append)
        assert system is not None, outcome.error
        run_round(system, TINY, outcome, said.append)
        counts_statements = server.counts_statements

    assert outcome.errors == {}, said
    assert outcome.described["bulk_api"] == "app.enqueue_many"
    assert "psycopg" in outcome.described["versions"]
    (single,), (bulk,) = outcome.single, outcome.bulk
    assert (single.rate.done, bulk.rate.done) == (20, 50)
    assert single.cost.per_job("commits") >= 1  # one durable commit per job, at least
    (drained,) = outcome.drains
    assert drained.drain.problem is None
    assert drained.drain.from_start.complete, drained.drain.from_start
    assert drained.drain.from_start.done == 60
    assert drained.cost.jobs == 60
    assert drained.cost.per_job("rows") > 0
    if counts_statements:
        assert single.cost.calls_per_job >= 1
        assert drained.cost.calls_per_job > 0
    (called,) = outcome.one_calls  # the drain again, each job making one call of its own
    assert called.drain.problem is None
    assert called.drain.from_start.complete, called.drain.from_start
    assert called.drain.from_start.done == 60
    if counts_statements:
        assert called.cost.calls.get("SELECT $1", 0) >= 60  # each job's own statement ran
    (idle,) = outcome.idles
    assert idle.latency.problem is None
    assert idle.latency.complete
    assert len(idle.latency.samples_ms) == 5
