"""PostgreSQL under faults: workers SIGKILLed and the server itself crashed, under load.

The worker scenarios run on a schema of the shared test server. The restart scenario runs
its own PostgreSQL cluster (initdb into a temporary directory, a free port, fsync on) so it
can crash it without touching anyone else's server. Missing PostgreSQL skips these tests,
and fails them under CI=true. The scenarios every backend shares (racing workers, SIGKILL
in flight, zombies, shutdown) run on PostgreSQL through the `harness` fixture.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from conveyor.job import JobState
from live_services import PostgresServer, fresh_postgres

from .conftest import open_harness
from .harness import Harness, Producer
from .oracle import classify, overlaps, started_before

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

LEASE, HEARTBEAT = 2.0, 0.5


@pytest.fixture
async def pg_harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """A harness on a fresh schema of the shared test server."""
    with fresh_postgres() as url:
        async with open_harness(tmp_path, url) as harness:
            yield harness


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    """A running PostgreSQL cluster of this test's own, removed afterwards."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


async def wait_for_acks(harness: Harness, producer: Producer, count: int) -> None:
    await harness.wait_until(
        lambda: len(producer.acknowledged) >= count, 60, f"{count} acknowledged enqueues"
    )


async def finish_production(harness: Harness, producer: Producer) -> list[str]:
    """Wait for the producer to exit cleanly; every id it acknowledged."""
    code = await harness.wait_exit(producer, 90)
    assert code == 0, f"the producer failed:\n{producer.describe()}"
    return producer.drain()


async def test_sigkill_of_a_worker_under_load_loses_no_job(pg_harness: Harness) -> None:
    """A worker is SIGKILLed while a producer enqueues and two workers drain the queue."""
    harness, jobs = pg_harness, pg_harness.jobs
    rng = random.Random(4)
    slow = await jobs.app.enqueue_many([jobs.nap.s(rng.uniform(0.05, 0.2)) for _ in range(200)])
    first = harness.start_worker(concurrency=10, lease=LEASE, heartbeat=HEARTBEAT)
    second = harness.start_worker(concurrency=10, lease=LEASE, heartbeat=HEARTBEAT)
    producer = harness.start_producer("retrying", 1500)

    await wait_for_acks(harness, producer, 300)
    await harness.wait_until(lambda: bool(harness.ran_by(first.pid)), 20, "worker 1 to run")
    first.kill()
    killed_ns = first.died_ns
    assert killed_ns is not None
    third = harness.start_worker(concurrency=10, lease=LEASE, heartbeat=HEARTBEAT)
    enqueued = [h.id for h in slow] + await finish_production(harness, producer)

    async def all_succeeded() -> bool:
        return await harness.count(JobState.SUCCEEDED) == len(enqueued)

    await harness.wait_until(all_succeeded, 60, "every job to succeed")
    records, runs = await harness.records(), harness.runs()
    verdict = classify(enqueued, records, runs)
    assert verdict.nothing_lost, verdict.summary()
    assert not verdict.unexpected, verdict.summary()
    # what it had started may run again: unfinished, or finished with the ack not yet sent
    held = started_before(runs, killed_ns, pid=first.pid)
    assert verdict.duplicated.keys() <= held, verdict.summary()
    assert not overlaps(runs, {first.pid: killed_ns}), "two live leases on one job overlapped"
    assert second.alive
    assert third.alive


async def test_postgres_crashing_under_load_loses_no_acknowledged_job(
    tmp_path: Path, private_postgres: PostgresServer
) -> None:
    """Reliability #6: PostgreSQL crashes (immediate stop: no checkpoint) and comes back, twice.

    A producer enqueues one job at a time, retrying through the outage with the same ids;
    two workers run the jobs and reconnect by themselves. Every acknowledged enqueue survives
    the crash (it was committed with fsync on), and runs to the end.
    """
    server, total, outage = private_postgres, 1500, 1.0
    async with open_harness(tmp_path, server.url) as harness:
        workers = [
            harness.start_worker(concurrency=10, lease=LEASE, heartbeat=HEARTBEAT) for _ in range(2)
        ]
        await harness.started(*workers)
        producer = harness.start_producer("retrying", total)
        for crash_after in (300, 900):  # two crashes, at different points of the stream
            await wait_for_acks(harness, producer, crash_after)
            server.stop("immediate")
            acknowledged_at_crash = list(producer.acknowledged)
            await asyncio.sleep(outage)
            server.start()  # recovers from the write-ahead log
            records = await harness.records()
            missing = [job_id for job_id in acknowledged_at_crash if job_id not in records]
            assert not missing, f"{len(missing)} acknowledged jobs did not survive: {missing[:5]}"
        restarted_ns = time.monotonic_ns()

        enqueued = await finish_production(harness, producer)
        assert len(enqueued) == total

        async def all_succeeded() -> bool:
            return await harness.count(JobState.SUCCEEDED) == total

        await harness.wait_until(all_succeeded, 90, "every job to succeed after the crashes")
        records, runs = await harness.records(), harness.runs()
        verdict = classify(enqueued, records, runs)
        assert verdict.nothing_lost, verdict.summary()
        assert not verdict.unexpected, verdict.summary()
        for worker in workers:  # both reconnected by themselves and kept working
            assert worker.alive, worker.describe()
            resumed = [run for run in harness.ran_by(worker.pid) if run.started_ns > restarted_ns]
            assert resumed, f"{worker} ran nothing after the last restart"
