"""A job that ended keeps its lease until its outcome is written: when the store writes
outcomes slowly (under load, or while it is away), the lease sweep must not hand the job to
another worker, to run a second time."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from conveyor import Conveyor, JobState, Worker
from conveyor.backends.base import Ack
from conveyor.backends.memory import MemoryBackend

LEASE = 0.5
LATE = 3 * LEASE  # how long each write of outcomes takes: past the lease, many times over

runs: list[int] = []


class LateOutcomes(MemoryBackend):
    """The in-memory store, writing outcomes only after LATE seconds, as a loaded one might."""

    async def _ack(self, acks: Sequence[Ack]) -> list[bool]:
        await asyncio.sleep(LATE)
        return await super()._ack(acks)


async def count(n: int) -> int:
    runs.append(n)
    return n


async def test_a_job_whose_outcome_is_written_late_runs_once() -> None:
    app = Conveyor("memory://")
    app._backend = LateOutcomes("memory://")  # as the testing helpers swap a store
    task = app.task(count)
    handles = [await task.enqueue(n) for n in range(3)]
    worker = Worker(app, concurrency=3, lease=LEASE, heartbeat=LEASE / 5, sweep_interval=0.05)

    running = asyncio.create_task(worker.run())
    try:
        for n, handle in enumerate(handles):
            assert await handle.result(timeout=4 * LATE) == n
        infos = [await handle.info() for handle in handles]
    finally:
        worker.stop()
        await asyncio.wait_for(running, 4 * LATE)

    assert sorted(runs) == [0, 1, 2], "a job ran again while its outcome was being written"
    assert [(info.state, info.attempts, info.history[-1].outcome) for info in infos] == [
        (JobState.SUCCEEDED, 1, "succeeded")
    ] * 3
    assert all(len(info.history) == 1 for info in infos), "an attempt ended by a sweep"
