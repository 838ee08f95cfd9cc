"""The Redis benchmark's harness, run for conveyor alone with tiny sizes on a private Redis.

It must still start a server, drive a producer and a worker process through
`benchmarks.peers`, and verify from its completion log that every job ran exactly once, the
no-op jobs and those that make one call of their own: otherwise the comparison could rot
unnoticed between the runs that publish its figures.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from benchmarks.redis_bench.server import private_redis
from benchmarks.versus.outcome import prepare, run_round
from benchmarks.versus.workloads import Sizes

from live_services import missing

TINY = Sizes(single=20, bulk=50, drain=60, latency=5, concurrency=10, cap=60.0)


def test_the_harness_verifies_that_conveyor_ran_every_job(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        missing("redis-server", "no redis-server on PATH")
    said: list[str] = []
    with private_redis(tmp_path) as server:
        system, outcome = prepare("conveyor", server, tmp_path, TINY, said.append)
        assert system is not None, outcome.error
        run_round(system, TINY, outcome, said.append)

    assert outcome.errors == {}, said
    assert outcome.described["bulk_api"] == "app.enqueue_many"
    (single,), (bulk,) = outcome.single, outcome.bulk
    assert (single.rate.done, bulk.rate.done) == (20, 50)
    (drained,) = outcome.drains
    assert drained.drain.problem is None
    assert drained.drain.from_start.complete, drained.drain.from_start
    assert drained.drain.from_start.done == 60
    assert drained.cost.jobs == 60
    assert drained.cost.calls_per_job > 0
    (called,) = outcome.one_calls  # the drain again, each job making one call of its own
    assert called.drain.problem is None
    assert called.drain.from_start.complete, called.drain.from_start
    assert called.drain.from_start.done == 60
    assert called.cost.calls.get("incrby", 0) >= 60  # each job's own INCR reached the server
    (idle,) = outcome.idles
    assert idle.latency.problem is None
    assert idle.latency.complete
    assert len(idle.latency.samples_ms) == 5
