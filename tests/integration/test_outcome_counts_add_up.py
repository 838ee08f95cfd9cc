"""The per-minute outcome counters a worker writes with its acknowledgements add up to what
its jobs did: each success, retry, dead letter, cancellation and hand-back, by task and queue."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from conveyor import Context, Conveyor, JobHandle, JobState, Task
from conveyor.backends.base import OutcomeCount, minute_of

from .support import LIMIT, fast_worker, running_worker, wait_for, work_off

Tally = dict[tuple[str, str, str], int]


async def fine(n: int) -> int:
    return n


async def flaky(ctx: Context = Context.INJECTED) -> int:
    if ctx.attempt == 1:
        raise ConnectionError("partner unreachable")
    return ctx.attempt


async def doomed() -> None:
    raise KeyError("missing row")


async def nap() -> None:
    """Runs until it is stopped: longer than a test waits."""
    await asyncio.sleep(LIMIT)


async def all_final(handles: Sequence[JobHandle[Any]]) -> bool:
    return all([(await handle.status()).is_final for handle in handles])


def tally(counts: Sequence[OutcomeCount]) -> Tally:
    summed: Tally = {}
    for count in counts:
        key = (count.queue, count.task, count.outcome)
        summed[key] = summed.get(key, 0) + count.count
    return summed


async def test_a_burst_worker_counts_every_attempt_it_ran(app: Conveyor) -> None:
    ok: Task[..., Any] = app.task(fine)
    again: Task[..., Any] = app.task(retries=1, backoff="constant", backoff_base=0.0)(flaky)
    bad: Task[..., Any] = app.task(queue="risky", retries=1, backoff="constant", backoff_base=0)(
        doomed
    )
    backend = await app.connected()
    started = await backend.now()
    handles: list[JobHandle[Any]] = [await ok.enqueue(n) for n in range(6)]
    handles += [await again.enqueue() for _ in range(3)]
    handles += [await bad.enqueue() for _ in range(2)]

    processed = 0
    deadline = time.monotonic() + LIMIT
    while not await all_final(handles):  # a retry falls due at once: one more burst runs it
        assert time.monotonic() < deadline, "the jobs never all ended"
        processed += (await work_off(app)).processed

    assert [await h.status() for h in handles] == [JobState.SUCCEEDED] * 9 + [JobState.FAILED] * 2
    counted = tally(await backend.outcome_counts(minute_of(started)))
    assert counted == {
        ("default", ok.name, "succeeded"): 6,
        ("default", again.name, "retried"): 3,
        ("default", again.name, "succeeded"): 3,
        ("risky", bad.name, "retried"): 2,
        ("risky", bad.name, "failed"): 2,
    }
    assert sum(counted.values()) == processed == 16


async def test_cancelled_and_handed_back_jobs_are_counted(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(retries=2)(nap)
    backend = await app.connected()
    started = await backend.now()

    cancelled = await task.enqueue()
    async with running_worker(app):
        await wait_for(cancelled, JobState.ACTIVE)
        await cancelled.cancel()
        await wait_for(cancelled, JobState.CANCELLED)

    handed_back = await task.enqueue()
    worker = fast_worker(app)
    running = asyncio.create_task(worker.run())
    await wait_for(handed_back, JobState.ACTIVE)
    worker.stop(hurry=True)  # no grace: the running job goes back to the queue
    async with asyncio.timeout(LIMIT):
        await running
    assert (await handed_back.info()).state is JobState.QUEUED

    assert tally(await backend.outcome_counts(minute_of(started))) == {
        ("default", task.name, "cancelled"): 1,
        ("default", task.name, "handed_back"): 1,
    }
