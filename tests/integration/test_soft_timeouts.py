"""At its soft timeout a task is told to wrap up: SoftTimeout raised inside an async or a
process task, `ctx.soft_timeout_expired` for a thread; the hard timeout still stops it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from conveyor import Context, Conveyor, JobFailed, JobState, SoftTimeout, Task

from .support import LIMIT, running_worker, wait_for


@pytest.fixture(params=["memory", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/jobs.db"


async def wrap_up_when_told(ctx: Context = Context.INJECTED) -> str:
    told_at_start = ctx.soft_timeout_expired
    try:
        await asyncio.sleep(LIMIT)
    except SoftTimeout:
        await asyncio.sleep(0.01)  # cleaning up may await too
        told = ctx.soft_timeout_expired and not told_at_start
        return "wrapped up" if told else "told without the flag"
    return "ran to the end"


async def ignore_the_warning() -> None:
    await asyncio.sleep(LIMIT)


async def keep_going_when_told() -> None:
    try:
        await asyncio.sleep(LIMIT)
    except SoftTimeout:
        await asyncio.sleep(LIMIT)


def poll_until_told(ctx: Context) -> dict[str, Any]:
    told_at_start = ctx.soft_timeout_expired
    left_at_start = ctx.time_left()
    deadline = time.monotonic() + LIMIT
    while not ctx.soft_timeout_expired and time.monotonic() < deadline:
        time.sleep(0.01)
    return {
        "told_at_start": told_at_start,
        "told": ctx.soft_timeout_expired,
        "left_at_start": left_at_start,
        "left_when_told": ctx.time_left(),
    }


def wrap_up_in_a_process(ctx: Context) -> dict[str, Any]:
    try:
        time.sleep(LIMIT)
    except SoftTimeout:
        return {"told": ctx.soft_timeout_expired, "left": ctx.time_left()}
    return {"told": False, "left": None}


def sleep_in_a_process() -> None:
    time.sleep(LIMIT)


def retried(**options: Any) -> dict[str, Any]:
    return {"retries": 1, "backoff": "constant", "backoff_base": 0.01, **options}


async def test_an_async_task_catches_its_soft_timeout_and_returns(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(timeout=LIMIT, soft_timeout=0.1)(wrap_up_when_told)

    handle = await task.enqueue()
    async with running_worker(app):
        assert await handle.result(timeout=LIMIT) == "wrapped up"


async def test_a_soft_timeout_that_escapes_fails_the_attempt_and_is_retried(
    app: Conveyor,
) -> None:
    task: Task[..., Any] = app.task(**retried(soft_timeout=0.1))(ignore_the_warning)

    handle = await task.enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed) as caught:
            await handle.result(timeout=LIMIT)

    assert caught.value.reason == "soft_timeout"
    assert caught.value.remote_type == "conveyor.errors.SoftTimeout"
    assert "0.1 s soft timeout" in caught.value.remote_message
    assert (await handle.info()).attempts == 2


async def test_a_task_that_goes_on_past_its_soft_timeout_is_stopped_at_the_hard_one(
    app: Conveyor,
) -> None:
    task: Task[..., Any] = app.task(timeout=0.3, soft_timeout=0.1, retries=0)(keep_going_when_told)

    handle = await task.enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed) as caught:
            await handle.result(timeout=LIMIT)

    assert caught.value.reason == "timeout"


async def test_a_soft_timeout_given_for_one_enqueue_applies_to_that_job(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(wrap_up_when_told)

    handle = await task.options(soft_timeout=0.1).enqueue()
    async with running_worker(app):
        assert await handle.result(timeout=LIMIT) == "wrapped up"


async def test_cancelling_a_job_with_a_soft_timeout_still_cancels_it(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(soft_timeout=LIMIT)(ignore_the_warning)

    handle = await task.enqueue()
    async with running_worker(app):
        await wait_for(handle, JobState.ACTIVE)
        await handle.cancel()
        info = await wait_for(handle, JobState.CANCELLED)

    assert info.error is not None
    assert info.error.reason == "cancelled"


async def test_a_thread_task_sees_the_flag_and_the_time_left(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(timeout=5.0, soft_timeout=0.1)(poll_until_told)

    handle = await task.enqueue()
    async with running_worker(app):
        seen = await handle.result(timeout=LIMIT)

    assert seen["told_at_start"] is False
    assert seen["told"] is True
    assert 0 < seen["left_when_told"] < seen["left_at_start"] <= 5.0
    assert seen["left_when_told"] <= 5.0 - 0.1


async def test_a_soft_timeout_alone_tells_the_task_and_leaves_no_time_limit(
    app: Conveyor,
) -> None:
    task: Task[..., Any] = app.task(soft_timeout=0.1)(poll_until_told)

    handle = await task.enqueue()
    async with running_worker(app):
        seen = await handle.result(timeout=LIMIT)

    assert seen["told"] is True
    assert seen["left_at_start"] is None
    assert seen["left_when_told"] is None


async def test_a_process_task_gets_soft_timeout_raised_in_its_child(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(executor="process", timeout=LIMIT, soft_timeout=0.2)(
        wrap_up_in_a_process
    )

    handle = await task.enqueue()
    async with running_worker(app):
        seen = await handle.result(timeout=LIMIT)

    assert seen["told"] is True
    assert 0 < seen["left"] <= LIMIT - 0.2


async def test_a_soft_timeout_that_escapes_a_process_task_fails_with_its_reason(
    app: Conveyor,
) -> None:
    task: Task[..., Any] = app.task(**retried(executor="process", soft_timeout=0.2))(
        sleep_in_a_process
    )

    handle = await task.enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed) as caught:
            await handle.result(timeout=LIMIT)

    assert caught.value.reason == "soft_timeout"
    assert caught.value.remote_type == "conveyor.errors.SoftTimeout"
    assert caught.value.remote_traceback is not None
    assert "sleep_in_a_process" in caught.value.remote_traceback
    assert (await handle.info()).attempts == 2
