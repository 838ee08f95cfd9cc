"""A task that overruns its timeout ends with reason "timeout"; a sync one leaves its thread."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from conveyor import Conveyor, JobFailed, Task

from .support import running_worker


async def hang_async() -> None:
    await asyncio.sleep(10)


def hang_sync() -> None:
    time.sleep(0.6)


async def test_an_async_timeout_is_retried_then_fails_with_reason_timeout(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(timeout=0.1, retries=1, backoff="constant", backoff_base=0.01)(
        hang_async
    )

    handle = await task.enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed) as caught:
            await handle.result(timeout=5)

    assert caught.value.reason == "timeout"
    assert "0.1 s timeout" in caught.value.remote_message
    assert (await handle.info()).attempts == 2


async def test_a_timeout_option_overrides_the_tasks(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(retries=0)(hang_async)

    handle = await task.options(timeout=0.1).enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed) as caught:
            await handle.result(timeout=5)

    assert caught.value.reason == "timeout"


async def test_a_sync_timeout_fails_the_job_and_warns_that_the_thread_was_abandoned(
    app: Conveyor, caplog: pytest.LogCaptureFixture
) -> None:
    task: Task[..., Any] = app.task(timeout=0.1, retries=0)(hang_sync)

    handle = await task.enqueue()
    with caplog.at_level(logging.WARNING, logger="conveyor.worker"):
        async with running_worker(app):
            with pytest.raises(JobFailed) as caught:
                await handle.result(timeout=5)

    assert caught.value.reason == "timeout"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    abandoned = [m for m in warnings if "abandoned" in m]
    assert len(abandoned) == 1, warnings
    assert handle.id in abandoned[0]
    assert task.name in abandoned[0]
    assert "cannot be stopped" in abandoned[0]
