"""Workers whose clocks are minutes off the store's: nothing is requeued or run early or late.

Each worker runs under `faults.skewed_clock`, its wall clock ten minutes ahead of the
machine's or ten minutes behind. Were a lease, a due time, a retry's backoff or a cron tick
judged by a worker's clock, the one ahead would sweep the other's live leases and run
delayed jobs at once, and the one behind would write leases already lapsed and wait ten
minutes for what is due in seconds. Redis and PostgreSQL keep the time themselves (`TIME`,
`clock_timestamp()`); an SQLite store is one machine's file, whose processes share one clock,
so the fault cannot arise there.
"""

from __future__ import annotations

import itertools
import re
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conveyor.backends.base import WorkerInfo
from conveyor.job import JobState

from .conftest import open_store
from .harness import SWEEP_INTERVAL, Harness, Worker

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]

SKEW = 600.0  # far past every lease, delay, backoff and sweep period below
LEASE, HEARTBEAT = 1.0, 0.3
DELAY = 2.0
RETRIES = 2  # exponential backoff: the n-th retry waits 2 ** (n - 1) s, less full jitter
TICK_ID = re.compile(r"^cron:faults\.tick:(\d+)$")
TICK_LATENESS = 30.0  # a tick is enqueued this soon after its second, even on a busy machine


@pytest.fixture(params=["redis", "postgres"])
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_store(request.param, tmp_path) as instance:
        yield instance


async def check_the_clocks_are_skewed(harness: Harness, skews: dict[Worker, float]) -> None:
    """Each worker registers its start on its own clock, and is seen on the store's."""
    backend = await harness.jobs.app.connected()
    registered: dict[int, WorkerInfo] = {}

    async def all_registered() -> bool:
        registered.update({info.pid: info for info in await backend.workers()})
        return all(worker.pid in registered for worker in skews)

    await harness.wait_until(all_registered, 10, "the workers to register")
    for worker, skew in skews.items():
        info = registered[worker.pid]
        off = info.started_at - info.last_seen
        assert abs(off - skew) < SKEW / 10, f"{worker}'s clock is {off:+.0f} s off, not {skew:+g}"


async def test_skewed_workers_requeue_nothing_and_keep_due_times(harness: Harness) -> None:
    """Reliability #9: leases, due times, backoffs and cron ticks run on the store's clock."""
    jobs = harness.jobs
    workers = {
        name: harness.start_worker(
            concurrency=3,
            lease=LEASE,
            heartbeat=HEARTBEAT,
            cron=True,
            queues=f"default,{name}",
            clock_skew=skew,
        )
        for name, skew in (("ahead", SKEW), ("behind", -SKEW))
    }
    await harness.started(*workers.values())
    await check_the_clocks_are_skewed(harness, {workers["ahead"]: SKEW, workers["behind"]: -SKEW})

    # both idle, so the long jobs split between them: each sweeps the other's live leases
    long = [h.id for h in await jobs.app.enqueue_many([jobs.nap.s(3 * LEASE) for _ in range(4)])]
    enqueued_ns = time.monotonic_ns()
    delayed = {
        name: (await jobs.nap.options(queue=name, delay=DELAY).enqueue(0)).id for name in workers
    }
    retried = {
        name: (await jobs.flop.options(queue=name, retries=RETRIES).enqueue()).id
        for name in workers
    }

    async def all_ended() -> bool:
        ids = [*long, *delayed.values(), *retried.values()]
        return all([(await harness.record(job_id)).state.is_final for job_id in ids])

    # a worker waiting on its own clock would take SKEW seconds, not these few
    await harness.wait_until(all_ended, 3 * LEASE + SWEEP_INTERVAL + 20, "every job to end")
    for worker in workers.values():
        worker.send(signal.SIGTERM)
    for worker in workers.values():
        assert await harness.wait_exit(worker, 10) == 0

    runs, records = harness.runs(), await harness.records()
    for job_id in long:
        assert len(runs[job_id]) == 1, f"a live lease was requeued: {runs[job_id]}"
        assert (records[job_id].attempts, records[job_id].recoveries) == (1, 0), records[job_id]
    assert {runs[job_id][0].pid for job_id in long} == {w.pid for w in workers.values()}
    for name, job_id in delayed.items():
        (run,) = runs[job_id]
        assert run.pid == workers[name].pid
        early = (enqueued_ns + DELAY * 1e9 - run.started_ns) / 1e9
        assert early <= 0, f"the worker {name} ran a delayed job {early:.2f} s before it was due"
    for name, job_id in retried.items():
        starts = [run.started_ns for run in runs[job_id]]
        assert len(starts) == RETRIES + 1, runs[job_id]
        assert records[job_id].state is JobState.FAILED
        for retry, (before, after) in enumerate(itertools.pairwise(starts), 1):
            shortest = 2 ** (retry - 1) / 2
            assert after - before >= shortest * 1e9, f"the worker {name} retried early"

    ticks = {job_id: r for job_id, r in records.items() if TICK_ID.match(job_id)}
    assert ticks, "no cron tick was enqueued"
    for job_id, record in ticks.items():
        found = TICK_ID.match(job_id)
        assert found
        late = record.enqueued_at - int(found.group(1))
        assert 0 <= late < TICK_LATENESS, f"{job_id} was enqueued {late:+.0f} s from its tick"
        assert len(runs.get(job_id, [])) <= 1, f"a tick ran twice: {runs[job_id]}"
