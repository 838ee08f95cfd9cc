"""`job_ended` is told how each attempt ended, once, with the outcome's name: succeeded,
failed, retried, cancelled, handed_back and lease_lost, on every backend. What it raises is
logged, and the outcome stands."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from conveyor import Context, Conveyor, JobState, Task, Worker
from conveyor.backends.base import Lease, LeaseStatus
from conveyor.job import JobError
from conveyor.middleware import Job, Middleware, Outcome
from conveyor.middleware.logs import JobLogMiddleware

from .middleware_support import Outcomes
from .support import IDLE_POLL, LIMIT, running_worker, wait_for, work_off

ran: list[tuple[str, int]] = []


@pytest.fixture(autouse=True)
def _forget() -> None:
    ran.clear()


@pytest.fixture
def outcomes(app: Conveyor) -> Outcomes:
    middleware = Outcomes()
    app.add_middleware(middleware)
    return middleware


async def fine(name: str) -> str:
    return name


async def explode() -> None:
    raise KeyError("missing row")


async def flaky(ctx: Context = Context.INJECTED) -> int:
    if ctx.attempt == 1:
        raise ConnectionError("partner unreachable")
    return ctx.attempt


async def long_nap(ctx: Context = Context.INJECTED) -> str:
    """Naps on its first attempt, far longer than a test waits; later attempts return."""
    ran.append(("nap", ctx.attempt))
    if ctx.attempt == 1:
        await asyncio.sleep(60)
    return "rested"


def long_sync_nap(ctx: Context = Context.INJECTED) -> str:
    """The same in a thread, which cannot be cancelled: it stops once it sees ctx.cancelled."""
    ran.append(("sync nap", ctx.attempt))
    deadline = time.monotonic() + (LIMIT if ctx.attempt == 1 else 0)
    while not ctx.cancelled and time.monotonic() < deadline:
        time.sleep(0.01)
    return "rested"


def sync_nap_then_raise(ctx: Context = Context.INJECTED) -> str:
    """A thread that, told to stop on its first attempt, raises."""
    ran.append(("sync nap", ctx.attempt))
    deadline = time.monotonic() + (LIMIT if ctx.attempt == 1 else 0)
    while not ctx.cancelled and time.monotonic() < deadline:
        time.sleep(0.01)
    if ctx.attempt == 1:
        raise InterruptedError("told to stop")
    return "rested"


async def return_once_lost(ctx: Context = Context.INJECTED) -> str:
    """Runs until its lease is taken from it, then returns: its acknowledgement is refused."""
    ran.append(("return", ctx.attempt))
    if ctx.attempt == 1:
        backend = await ctx.state.app.connected()
        deadline = time.monotonic() + LIMIT
        while time.monotonic() < deadline:
            record = await backend.get(ctx.job_id)
            if record.state is not JobState.ACTIVE or record.attempts > 1:
                break
            await asyncio.sleep(0.02)
    return "late"


class DroppedRenewals:
    """Stands in for `backend.extend`: the renewals of the first lease of each job in
    `job_ids` never reach the store, as if the heartbeat could not keep up, so the lease
    lapses and the worker's sweeper hands the job to whoever claims it next. With `hear`,
    the worker learns it once it happened (its next renewal finds the lease lost)."""

    def __init__(self, app: Conveyor, job_ids: set[str], hear: bool) -> None:
        self.app = app
        self.job_ids = job_ids
        self.hear = hear
        self.first: dict[str, str] = {}
        self.extend: Callable[[Sequence[Lease], float], Awaitable[dict[str, LeaseStatus]]]

    async def __call__(self, leases: Sequence[Lease], seconds: float) -> dict[str, LeaseStatus]:
        backend = await self.app.connected()
        passing = []
        for lease in leases:
            if lease.job_id in self.job_ids:
                first = self.first.setdefault(lease.job_id, lease.token)
                if lease.token == first:
                    record = await backend.get(lease.job_id)
                    taken = record is None or record.lease_token != lease.token
                    if not (self.hear and taken):
                        continue  # this renewal is lost on the way
            passing.append(lease)
        return await self.extend(passing, seconds) if passing else {}


async def dropping_renewals(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch, job_ids: set[str], *, hear: bool
) -> None:
    backend = await app.connected()
    fake = DroppedRenewals(app, job_ids, hear)
    fake.extend = backend.extend
    monkeypatch.setattr(backend, "extend", fake)


def short_lease_worker(app: Conveyor, *, concurrency: int) -> Worker:
    worker = Worker(
        app,
        concurrency=concurrency,
        lease=1.0,
        heartbeat=0.1,
        grace=1.0,
        sweep_interval=0.1,
        idle_poll=IDLE_POLL,
    )
    worker.state.app = app
    return worker


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + LIMIT
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.02)


async def test_succeeded_failed_and_retried(app: Conveyor, outcomes: Outcomes) -> None:
    ok: Task[..., Any] = app.task(fine)
    bad: Task[..., Any] = app.task(retries=0)(explode)
    again: Task[..., Any] = app.task(retries=1, backoff="constant", backoff_base=0.01)(flaky)

    handles = [await ok.enqueue("a"), await bad.enqueue(), await again.enqueue()]
    async with running_worker(app):
        await wait_for(handles[2], JobState.SUCCEEDED)
        await wait_for(handles[1], JobState.FAILED)
        await until(lambda: len(outcomes.ended) == 4, "every outcome to be told")

    assert [outcomes.of(h.id) for h in handles] == [
        [(1, "succeeded")],
        [(1, "failed")],
        [(1, "retried"), (2, "succeeded")],
    ]
    errors = {(e.job_id, e.outcome): e.error for e in outcomes.ended}
    assert errors[handles[0].id, "succeeded"] is None
    failed = errors[handles[1].id, "failed"]
    assert failed is not None
    assert (failed.type, failed.message) == ("KeyError", "'missing row'")
    retried = errors[handles[2].id, "retried"]
    assert retried is not None
    assert (retried.type, retried.message) == ("ConnectionError", "partner unreachable")
    assert errors[handles[2].id, "succeeded"] is None


async def test_a_job_that_cannot_run_is_told_failed(app: Conveyor, outcomes: Outcomes) -> None:
    handle = await app.task(fine).enqueue("a")
    app.tasks.clear()  # the worker's app no longer knows the task
    app.task(explode)

    await work_off(app)

    assert [(e.job_id, e.outcome) for e in outcomes.ended] == [(handle.id, "failed")]
    assert outcomes.ended[0].error is not None
    assert outcomes.ended[0].error.reason == "unknown_task"


@pytest.mark.parametrize("body", [long_nap, long_sync_nap], ids=["async", "thread"])
async def test_a_running_job_cancelled_on_request(
    app: Conveyor, outcomes: Outcomes, body: Any
) -> None:
    task: Task[..., Any] = app.task(retries=2)(body)

    handle = await task.enqueue()
    async with running_worker(app):
        await wait_for(handle, JobState.ACTIVE)
        await handle.cancel()
        await wait_for(handle, JobState.CANCELLED)
        await until(lambda: bool(outcomes.ended), "the outcome to be told")

    assert outcomes.of(handle.id) == [(1, "cancelled")]
    error = outcomes.ended[0].error
    assert error is not None
    assert error.reason == "cancelled"


@pytest.mark.parametrize("body", [long_nap, long_sync_nap], ids=["async", "thread"])
async def test_a_job_running_when_the_worker_stops_without_grace_is_handed_back(
    app: Conveyor, outcomes: Outcomes, body: Any
) -> None:
    task: Task[..., Any] = app.task(body)
    worker = Worker(app, grace=0, heartbeat=0.1, lease=2.0, idle_poll=IDLE_POLL)

    handle = await task.enqueue()
    running = asyncio.create_task(worker.run())
    await wait_for(handle, JobState.ACTIVE)
    worker.stop()
    async with asyncio.timeout(LIMIT):
        await running

    assert outcomes.of(handle.id) == [(1, "handed_back")]
    assert outcomes.ended[0].error is None
    info = await handle.info()
    assert info.state is JobState.QUEUED


@pytest.mark.parametrize("hear", [True, False], ids=["heartbeat", "claimed again"])
async def test_a_job_whose_lease_lapsed_under_it_is_told_lease_lost_once(
    app: Conveyor, outcomes: Outcomes, monkeypatch: pytest.MonkeyPatch, hear: bool
) -> None:
    """Three jobs whose first lease lapses while they run, and the sweeper requeues them:
    an async job and a thread the worker stops (when its heartbeat finds the lease lost,
    or when it claims the job again, whichever comes first), and a job that returns and
    whose acknowledgement is refused. Each first attempt is told lease_lost, once; the
    second attempt succeeds."""
    tasks: list[Task[..., Any]] = [
        app.task(long_nap),
        app.task(long_sync_nap),
        app.task(return_once_lost),
    ]
    handles = [await task.enqueue() for task in tasks]
    await dropping_renewals(app, monkeypatch, {h.id for h in handles}, hear=hear)
    worker = short_lease_worker(app, concurrency=6)

    running = asyncio.create_task(worker.run())
    try:
        for handle in handles:
            await wait_for(handle, JobState.SUCCEEDED)
        await until(lambda: len(outcomes.ended) == 6, "every outcome to be told")
    finally:
        worker.stop(hurry=True)
        async with asyncio.timeout(LIMIT):
            await running

    for handle in handles:
        assert outcomes.of(handle.id) == [(1, "lease_lost"), (2, "succeeded")], handle
        assert (await handle.info()).attempts == 2
    assert all(e.error is None for e in outcomes.ended)
    assert sorted(ran) == sorted(
        (name, attempt) for name in ("nap", "sync nap", "return") for attempt in (1, 2)
    )


async def test_an_attempt_past_its_lease_is_stopped_when_its_job_is_claimed_again(
    app: Conveyor, outcomes: Outcomes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heartbeat never hears that the lease lapsed; the same worker claims the job
    again. The first attempt is stopped and told lease_lost rather than left running."""
    task: Task[..., Any] = app.task(long_nap)
    handle = await task.enqueue()
    await dropping_renewals(app, monkeypatch, {handle.id}, hear=False)
    worker = short_lease_worker(app, concurrency=2)

    running = asyncio.create_task(worker.run())
    try:
        await wait_for(handle, JobState.SUCCEEDED)
        await until(lambda: len(outcomes.ended) == 2, "both outcomes to be told")
        first_attempts = [
            t for t in asyncio.all_tasks() if getattr(t.get_coro(), "__name__", "") == "_execute"
        ]
    finally:
        worker.stop(hurry=True)
        async with asyncio.timeout(LIMIT):
            await running

    assert outcomes.of(handle.id) == [(1, "lease_lost"), (2, "succeeded")]
    assert first_attempts == [], "the first attempt still runs"


class Broken(Middleware):
    def job_ended(self, job: Job, outcome: Outcome, error: JobError | None) -> None:
        raise RuntimeError(f"metrics backend down while telling {outcome}")


async def test_a_job_ended_that_raises_is_logged_and_the_outcome_stands(
    app: Conveyor, caplog: pytest.LogCaptureFixture
) -> None:
    outer = Outcomes()
    app.add_middleware(outer)
    app.add_middleware(Broken())  # inner: told first
    ok: Task[..., Any] = app.task(fine)

    handle = await ok.enqueue("a")
    with caplog.at_level(logging.ERROR, logger="conveyor.middleware"):
        await work_off(app)

    assert await handle.result(timeout=5) == "a"
    assert outer.of(handle.id) == [(1, "succeeded")], "the next middleware is still told"
    [line] = [r for r in caplog.records if r.name == "conveyor.middleware"]
    assert "Broken.job_ended failed" in line.getMessage()
    assert handle.id in line.getMessage()
    assert "the outcome stands" in line.getMessage()
    assert line.exc_info is not None
    assert "metrics backend down while telling succeeded" in str(line.exc_info[1])


HEARD = "lease lost (the worker was paused or cut off past its lease)"
REFUSED = "its lease was lost before the outcome"


@pytest.mark.parametrize(
    ("body", "hear", "says"),
    [(long_nap, True, HEARD), (long_sync_nap, True, HEARD), (return_once_lost, False, REFUSED)],
    ids=["heartbeat cancels", "heartbeat leaves the thread", "acknowledgement refused"],
)
async def test_each_way_to_lose_a_lease_is_told_once_with_the_time_it_ran(
    app: Conveyor,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    body: Any,
    hear: bool,
    says: str,
) -> None:
    """One slot, so the job cannot be claimed again while its first attempt holds it: the
    worker learns the loss from its heartbeat (an async task is cancelled; a thread runs
    on, no longer the worker's), or from the refusal of the outcome it writes. The end
    line's duration is how long the attempt ran until then, not a clock reading."""
    app.add_middleware(JobLogMiddleware())
    outcomes = Outcomes()
    app.add_middleware(outcomes)
    task: Task[..., Any] = app.task(body)
    handle = await task.enqueue()
    await dropping_renewals(app, monkeypatch, {handle.id}, hear=hear)
    worker = short_lease_worker(app, concurrency=1)

    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="conveyor.jobs"):
        running = asyncio.create_task(worker.run())
        try:
            await wait_for(handle, JobState.SUCCEEDED)
            await until(lambda: len(outcomes.ended) == 2, "both outcomes to be told")
        finally:
            worker.stop(hurry=True)
            async with asyncio.timeout(LIMIT):
                await running
    took_ms = (time.monotonic() - started) * 1000

    assert outcomes.of(handle.id) == [(1, "lease_lost"), (2, "succeeded")]
    ends = [r for r in caplog.records if r.name == "conveyor.jobs" and hasattr(r, "outcome")]
    fields = [r.__dict__ for r in ends]
    assert [(f["attempt"], f["outcome"]) for f in fields] == [(1, "lease_lost"), (2, "succeeded")]
    assert ends[0].levelno == logging.WARNING
    lost_ms = fields[0]["duration_ms"]
    assert isinstance(lost_ms, float)
    assert 900 <= lost_ms <= took_ms, "its lease of 1 s lapsed: it ran about that long"
    assert 0 <= fields[1]["duration_ms"] < 1000
    warnings = [r.getMessage() for r in caplog.records if r.name == "conveyor.worker"]
    assert [says in line for line in warnings].count(True) == 1, warnings


async def test_a_thread_that_raises_after_its_lease_was_lost_is_not_reported_failing(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Once the job is no longer the worker's, what its thread does next decides nothing:
    no retry or failure is logged for an attempt whose outcome was lease_lost."""
    outcomes = Outcomes()
    app.add_middleware(outcomes)
    task: Task[..., Any] = app.task(retries=0)(sync_nap_then_raise)
    handle = await task.enqueue()
    await dropping_renewals(app, monkeypatch, {handle.id}, hear=True)
    worker = short_lease_worker(app, concurrency=1)

    with caplog.at_level(logging.INFO, logger="conveyor.worker"):
        running = asyncio.create_task(worker.run())
        try:
            await wait_for(handle, JobState.SUCCEEDED)
            await until(lambda: ("sync nap", 2) in ran, "the second attempt")
        finally:
            worker.stop(hurry=True)
            async with asyncio.timeout(LIMIT):
                await running

    assert outcomes.of(handle.id) == [(1, "lease_lost"), (2, "succeeded")]
    about_the_job = [r.getMessage() for r in caplog.records if r.name == "conveyor.worker"]
    assert not [line for line in about_the_job if "failed" in line], about_the_job
