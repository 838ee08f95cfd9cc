"""Many worker processes racing for thousands of jobs on one store."""

from __future__ import annotations

import signal

import pytest

from conveyor.job import JobState

from .harness import Harness
from .oracle import classify, overlaps

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

WORKERS, JOBS, BATCH = 3, 3000, 250


async def test_workers_racing_for_thousands_of_jobs_run_each_exactly_once(
    harness: Harness,
) -> None:
    """Reliability #15: with no crash, every job runs once, and no two runs of one overlap."""
    jobs = harness.jobs
    workers = [harness.start_worker(concurrency=8) for _ in range(WORKERS)]
    await harness.started(*workers)  # all of them idle and racing before the first job lands

    enqueued: list[str] = []
    for _ in range(JOBS // BATCH):
        handles = await jobs.app.enqueue_many([jobs.nap.s(0) for _ in range(BATCH)])
        enqueued += [h.id for h in handles]

    async def all_succeeded() -> bool:
        return await harness.count(JobState.SUCCEEDED) == JOBS

    await harness.wait_until(all_succeeded, 90, f"all {JOBS} jobs to succeed")

    records, runs = await harness.records(), harness.runs()
    verdict = classify(enqueued, records, runs)
    assert len(verdict.fine) == JOBS, verdict.summary()
    assert not overlaps(runs)
    names = {w.pid: w.name for w in workers}
    for job_id in enqueued:
        ((run,),) = [runs[job_id]]
        record = records[job_id]
        assert (record.attempts, record.recoveries) == (1, 0), record
        assert record.worker == names[run.pid], "the record names another worker than ran it"
        assert jobs.app.decode_result(record) == run.pid
    share = {w.pid: len(harness.ran_by(w.pid)) for w in workers}
    assert all(share.values()), f"a worker got no job at all: {share}"

    for worker in workers:
        worker.send(signal.SIGTERM)
    for worker in workers:
        assert await harness.wait_exit(worker, 10) == 0
