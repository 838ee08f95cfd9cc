"""PostgreSQL: a worker cut off from the server stops claiming, its leases lapse, it reconnects.

The worker reaches a schema of the shared test server through a `Relay`; a second worker
connects straight to it. The Redis form of this fault is in `test_redis_durability`.
"""

from __future__ import annotations

import asyncio
import signal
import time
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conveyor.job import JobState
from live_services import fresh_postgres

from .conftest import open_harness
from .harness import SWEEP_INTERVAL, Harness
from .oracle import classify, overlaps, started_before
from .relay import Relay

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]

LEASE, HEARTBEAT = 2.0, 0.5
CLAIM_TO_START_NS = 1_000_000_000  # from reading a claim to a job's start line: slack for load


@pytest.fixture
async def pg_harness(tmp_path: Path) -> AsyncIterator[Harness]:
    with fresh_postgres() as url:
        async with open_harness(tmp_path, url) as harness:
            yield harness


async def enqueue_naps(harness: Harness, count: int, seconds: float) -> list[str]:
    jobs = harness.jobs
    return [h.id for h in await jobs.app.enqueue_many([jobs.nap.s(seconds) for _ in range(count)])]


async def test_worker_cut_off_from_postgres_reconnects_and_loses_nothing(
    pg_harness: Harness,
) -> None:
    """Reliability #5: the worker's connections are reset for 2 x L + S.

    The cut-off worker starts no job meanwhile; its leases lapse and the second worker runs
    what it held. Once connections go through again it reconnects by itself: with the
    rescuer gone, it runs a new batch alone. Only jobs it held at the cut run twice.
    """
    harness = pg_harness
    server = urllib.parse.urlsplit(harness.url)
    relay = Relay(server.hostname or "127.0.0.1", server.port or 5432)
    await relay.start()

    async def all_succeeded(count: int) -> bool:
        return await harness.count(JobState.SUCCEEDED) == count

    try:
        first = await enqueue_naps(harness, 200, 0.2)
        cut_off = harness.start_worker(
            concurrency=10, lease=LEASE, heartbeat=HEARTBEAT, url=relay.route(harness.url)
        )
        await harness.wait_until(
            lambda: (
                harness.completions() >= 50
                and any(run.ended_ns is None for run in harness.ran_by(cut_off.pid))
            ),
            30,
            "50 jobs done and more running",
        )
        relay.cut()
        cut_ns = time.monotonic_ns()
        rescuer = harness.start_worker(concurrency=10, lease=LEASE, heartbeat=HEARTBEAT)
        await asyncio.sleep(2 * LEASE + SWEEP_INTERVAL)  # every held lease lapses and is swept
        late = [
            run
            for run in harness.ran_by(cut_off.pid)
            if run.started_ns > cut_ns + CLAIM_TO_START_NS
        ]
        relay.restore()
        restored_ns = time.monotonic_ns()
        assert relay.reset > 0, "the cut reset no connection"
        assert not late, f"the cut-off worker started jobs during the cut: {late[:3]}"

        await harness.wait_until(
            lambda: all_succeeded(len(first)), 30, "the first batch to succeed"
        )
        rescuer.send(signal.SIGTERM)
        assert await harness.wait_exit(rescuer, 15) == 0
        second = await enqueue_naps(harness, 100, 0)
        await harness.wait_until(
            lambda: all_succeeded(len(first) + len(second)),
            30,
            "the cut-off worker to run the second batch",
        )
    finally:
        await relay.close()

    records, runs = await harness.records(), harness.runs()
    verdict = classify(first + second, records, runs)
    assert verdict.nothing_lost, verdict.summary()
    held = started_before(runs, restored_ns, pid=cut_off.pid)
    assert verdict.duplicated.keys() <= held, verdict.summary()
    assert not overlaps(runs)
    assert cut_off.alive, "the cut-off worker should have reconnected, not died"
    assert {run.pid for job_id in second for run in runs[job_id]} == {cut_off.pid}
    in_flight = {
        run.job_id
        for run in harness.ran_by(cut_off.pid)
        if run.started_ns < cut_ns and (run.ended_ns or 2**63) > cut_ns
    }
    assert in_flight, "the cut came when the worker was running no job"
    for job_id in in_flight:
        assert (records[job_id].recoveries, records[job_id].worker) == (1, rescuer.name)
