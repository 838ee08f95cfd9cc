"""`concurrency=`, `concurrency_key=` and `rate_limit=` of a task, through a real worker."""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

import pytest

from conveyor import ConfigurationError, Conveyor, JobState, Task, chain
from conveyor.backends.base import MAX_LIMIT_KEY, JobFilter

from .support import running_worker, wait_for

RUN_FOR = 0.1  # seconds each job runs, so jobs that may overlap do


class Tracker:
    """How many jobs ran at once, overall and per key; and when each started."""

    def __init__(self) -> None:
        self.running: collections.Counter[str] = collections.Counter()
        self.peak: collections.Counter[str] = collections.Counter()
        self.starts: list[float] = []

    async def run(self, key: str) -> None:
        self.starts.append(time.monotonic())
        for name in (key, "all"):
            self.running[name] += 1
            self.peak[name] = max(self.peak[name], self.running[name])
        await asyncio.sleep(RUN_FOR)
        for name in (key, "all"):
            self.running[name] -= 1


async def test_concurrency_caps_the_jobs_running_at_once(app: Conveyor) -> None:
    tracker = Tracker()

    async def report(n: int) -> None:
        await tracker.run("report")

    task: Task[..., Any] = app.task(name="report", concurrency=2)(report)
    handles = [await task.enqueue(n) for n in range(6)]
    async with running_worker(app, concurrency=6):
        for handle in handles:
            await wait_for(handle, JobState.SUCCEEDED)

    assert tracker.peak["all"] == 2
    info = await handles[0].info()
    assert info.attempts == 1, "a job held back by the limit used no attempt"


async def test_concurrency_key_limits_each_key_apart(app: Conveyor) -> None:
    tracker = Tracker()

    async def sync_account(tenant: str, n: int) -> None:
        await tracker.run(tenant)

    task: Task[..., Any] = app.task(
        name="sync", concurrency=1, concurrency_key=lambda tenant, **_: tenant
    )(sync_account)
    handles = [await task.enqueue(tenant, n) for n in range(3) for tenant in ("acme", "globex")]
    async with running_worker(app, concurrency=6):
        for handle in handles:
            await wait_for(handle, JobState.SUCCEEDED)

    assert (tracker.peak["acme"], tracker.peak["globex"]) == (1, 1)
    assert tracker.peak["all"] == 2, "one tenant's full slot did not hold back the other"


async def test_rate_limit_spaces_out_the_starts(app: Conveyor) -> None:
    tracker = Tracker()

    async def call_api(n: int) -> None:
        await tracker.run("api")

    task: Task[..., Any] = app.task(name="api", rate_limit="2/s")(call_api)
    handles = [await task.enqueue(n) for n in range(4)]
    async with running_worker(app, concurrency=4):
        for handle in handles:
            await wait_for(handle, JobState.SUCCEEDED)

    starts = sorted(tracker.starts)
    # two tokens at once, then one every half second: the fourth start waits a second
    assert starts[3] - starts[0] >= 0.9
    assert starts[2] - starts[0] >= 0.4
    assert [(await handle.info()).attempts for handle in handles] == [1, 1, 1, 1]


async def fetch(tenant: str) -> str:
    return tenant


async def store(fetched: str, tenant: str) -> str:
    return f"stored {fetched}"


async def test_a_workflow_step_keeps_its_tasks_limits(app: Conveyor) -> None:
    first = app.task(name="fetch")(fetch)
    then = app.task(
        name="store", concurrency=1, concurrency_key=lambda tenant, **_: tenant,
        rate_limit="10/m",
    )(store)  # fmt: skip
    workflow = await chain(first.s("acme"), then.step("acme")).enqueue()
    async with running_worker(app):
        assert await workflow.result(timeout=10) == "stored acme"

    [step] = await app.backend.list_jobs(JobFilter(task="store"))
    assert (step.limit_key, step.limit) == ("store:acme", 1)
    assert (step.rate_key, step.rate_limit, step.rate_period) == ("store", 10, 60.0)


async def sync_region(n: int, region: str = "eu") -> None:
    return None


async def test_a_concurrency_key_sees_the_arguments_left_to_their_defaults(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(
        name="sync", concurrency=1, concurrency_key=lambda region, **_: region
    )(sync_region)

    handle = await task.enqueue(1)

    record = await app.backend.get(handle.id)
    assert record is not None
    assert record.limit_key == "sync:eu"


async def test_a_concurrency_key_may_fill_the_limit_keys_length(app: Conveyor) -> None:
    name = "billing.integrations.stripe.tasks.sync_customer_account"
    task: Task[..., Any] = app.task(
        name=name, concurrency=1, concurrency_key=lambda region, **_: region
    )(sync_region)
    longest = "x" * (MAX_LIMIT_KEY - len(name) - 1)

    handle = await task.enqueue(1, longest)
    with pytest.raises(ConfigurationError, match=f"of 1 to {len(longest)} characters"):
        await task.enqueue(1, longest + "x")

    record = await app.backend.get(handle.id)
    assert record is not None
    assert record.limit_key == f"{name}:{longest}"
