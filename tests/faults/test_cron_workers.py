"""Cron with several worker processes: every tick becomes exactly one job, run once."""

from __future__ import annotations

import datetime
import re
import signal

import pytest

from conveyor.job import JobState

from .harness import Harness

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

WORKERS, TICKS = 3, 5
TICK_ID = re.compile(r"^cron:faults\.tick:(\d+)$")


async def test_three_worker_processes_enqueue_and_run_each_tick_once(harness: Harness) -> None:
    """Every worker runs a scheduler on the one store; none leads, and no tick runs twice."""
    workers = [harness.start_worker(concurrency=4, cron=True) for _ in range(WORKERS)]
    await harness.started(*workers)

    async def enough_ticks_ran() -> bool:
        records = await harness.records()
        return sum(r.state is JobState.SUCCEEDED for r in records.values()) >= TICKS

    await harness.wait_until(enough_ticks_ran, 60, f"{TICKS} ticks to run")
    for worker in workers:
        worker.send(signal.SIGTERM)
    for worker in workers:
        assert await harness.wait_exit(worker, 15) == 0

    records, runs = await harness.records(), harness.runs()
    assert set(runs) <= set(records), "a run of a job the store does not hold"
    finished = 0
    for job_id, record in records.items():
        found = TICK_ID.match(job_id)
        assert found, f"a job that is not a tick: {job_id}"
        if record.state is not JobState.SUCCEEDED:
            continue  # a tick enqueued as the workers stopped
        finished += 1
        (run,) = runs[job_id]  # exactly one execution, whichever worker claimed it
        assert run.completed
        assert (record.attempts, record.recoveries) == (1, 0), record
        # the job's id and its tick header name the same second
        tick = datetime.datetime.fromtimestamp(int(found.group(1)), datetime.UTC)
        assert harness.jobs.app.decode_result(record) == tick.isoformat()
    assert finished >= TICKS
    for worker in workers:
        assert "cron round failed" not in worker.output()
