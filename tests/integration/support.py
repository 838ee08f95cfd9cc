"""Helpers of the integration tests: run a worker briefly, wait for a job to get somewhere.

The tests register module-level functions on a fresh app per test (so each backend gets a
clean store) and annotate the tasks `Task[..., Any]`: with today's `app.task` overloads an
async task is typed `Task[P, Coroutine[..., R]]`, so `await handle.result()` would be typed as
a coroutine (pinned as a failing test in tests/unit/test_types_seen_by_a_type_checker.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from conveyor import Conveyor, ConveyorError, JobHandle, JobInfo, JobState, Worker, WorkflowHandle

# short enough that a test never waits long for a retry, a heartbeat or an idle poll
LEASE = 2.0
HEARTBEAT = 0.1
IDLE_POLL = 0.05
LIMIT = 10.0  # seconds before a helper gives up and fails the test


def fast_worker(
    app: Conveyor,
    *,
    burst: bool = False,
    concurrency: int = 4,
    queues: Sequence[str] | None = None,
) -> Worker:
    return Worker(
        app,
        queues=queues,
        concurrency=concurrency,
        burst=burst,
        lease=LEASE,
        heartbeat=HEARTBEAT,
        grace=1.0,
        sweep_interval=0.2,
        idle_poll=IDLE_POLL,
    )


async def work_off(
    app: Conveyor, *, concurrency: int = 4, queues: Sequence[str] | None = None
) -> Worker:
    """Run a burst worker until no job is due, then return it."""
    worker = fast_worker(app, burst=True, concurrency=concurrency, queues=queues)
    async with asyncio.timeout(LIMIT):
        await worker.run()
    return worker


@contextlib.asynccontextmanager
async def running_worker(app: Conveyor, *, concurrency: int = 4) -> AsyncIterator[Worker]:
    """A worker running in the background for the duration of the block."""
    worker = fast_worker(app, concurrency=concurrency)
    running = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop(hurry=True)
        async with asyncio.timeout(LIMIT):
            await running


async def wait_for(handle: JobHandle[Any], state: JobState) -> JobInfo:
    """Poll until the job is in `state`; fail the test if it does not get there in time."""
    deadline = time.monotonic() + LIMIT
    while True:
        info = await handle.info()
        if info.state is state:
            return info
        assert time.monotonic() < deadline, f"job still {info.state}, never {state}"
        await asyncio.sleep(0.01)


async def settle(workflow: WorkflowHandle) -> None:
    """Wait for the workflow to end, whichever way (a worker must be running)."""
    with contextlib.suppress(ConveyorError):
        await workflow.result(timeout=LIMIT)
