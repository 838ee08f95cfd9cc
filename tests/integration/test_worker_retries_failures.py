"""A task that raises is retried with backoff up to `retries`, then ends `failed` with its error."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from typing import Any

import pytest

import conveyor
from conveyor import Context, Conveyor, JobFailed, JobState, Task

from .support import running_worker

attempt_times: list[float] = []
backoff_calls: list[int] = []


@pytest.fixture(autouse=True)
def _forget() -> None:
    attempt_times.clear()
    backoff_calls.clear()


class PaymentDeclined(Exception):
    pass


async def charge(amount: int, ctx: Context = Context.INJECTED) -> None:
    attempt_times.append(time.monotonic())
    raise PaymentDeclined(f"card declined for {amount} (attempt {ctx.attempt})")


def charge_sync(amount: int) -> None:
    attempt_times.append(time.monotonic())
    _decline(amount)


def _decline(amount: int) -> None:
    raise PaymentDeclined(f"card declined for {amount}")


async def flaky(ctx: Context = Context.INJECTED) -> int:
    attempt_times.append(time.monotonic())
    if ctx.attempt < 3:
        raise ConnectionError("partner unreachable")
    return ctx.attempt


def short_backoff(attempt: int) -> float:
    backoff_calls.append(attempt)
    return 0.01


async def test_a_failing_job_runs_retries_plus_one_times_then_fails(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(retries=2, backoff="constant", backoff_base=0.05)(charge)

    handle = await task.enqueue(30)
    async with running_worker(app):
        with pytest.raises(JobFailed):
            await handle.result(timeout=5)

    info = await handle.info()
    assert info.state is JobState.FAILED
    assert (info.attempts, info.max_attempts) == (3, 3)
    assert len(attempt_times) == 3
    assert info.error is not None
    assert info.error.reason == "exception"


async def test_retries_wait_for_the_backoff(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(retries=2, backoff="constant", backoff_base=0.2)(charge)

    handle = await task.enqueue(30)
    async with running_worker(app):
        with pytest.raises(JobFailed):
            await handle.result(timeout=5)

    gaps = [later - earlier for earlier, later in itertools.pairwise(attempt_times)]
    assert len(gaps) == 2
    assert all(gap >= 0.19 for gap in gaps), gaps


async def test_a_callable_backoff_is_asked_with_each_failed_attempt(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(retries=3, backoff=short_backoff)(charge)

    handle = await task.enqueue(30)
    async with running_worker(app):
        with pytest.raises(JobFailed):
            await handle.result(timeout=5)

    assert backoff_calls == [1, 2, 3]


async def test_a_job_that_succeeds_on_a_retry_ends_succeeded(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(retries=5, backoff="constant", backoff_base=0.01)(flaky)

    handle = await task.enqueue()
    async with running_worker(app):
        assert await handle.result(timeout=5) == 3

    info = await handle.info()
    assert (info.state, info.attempts) == (JobState.SUCCEEDED, 3)


async def test_job_failed_carries_the_remote_type_message_and_traceback(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(retries=0)(charge)

    handle = await task.enqueue(30)
    async with running_worker(app):
        with pytest.raises(JobFailed) as caught:
            await handle.result(timeout=5)

    failure = caught.value
    assert failure.job_id == handle.id
    assert failure.remote_type == f"{__name__}.PaymentDeclined"
    assert failure.remote_message == "card declined for 30 (attempt 1)"
    assert failure.reason == "exception"
    assert failure.remote_traceback is not None
    assert 'raise PaymentDeclined(f"card declined for {amount} (attempt {ctx.attempt})")' in (
        failure.remote_traceback
    )
    assert "card declined for 30" in str(failure), "str() shows the remote error"


@pytest.mark.parametrize("function", [charge, charge_sync], ids=["async", "sync"])
async def test_the_remote_traceback_starts_at_the_tasks_own_frame(
    app: Conveyor, function: Callable[..., Any]
) -> None:
    task: Task[..., Any] = app.task(retries=0)(function)

    handle = await task.enqueue(30)
    async with running_worker(app):
        with pytest.raises(JobFailed) as caught:
            await handle.result(timeout=5)

    traceback = caught.value.remote_traceback
    assert traceback is not None
    frames = [line for line in traceback.splitlines() if line.lstrip().startswith("File ")]
    assert __file__ in frames[0], f"the first frame is not the task's: {frames[0]}"
    package = os.path.dirname(conveyor.__file__)
    assert not any(package in frame for frame in frames), traceback
