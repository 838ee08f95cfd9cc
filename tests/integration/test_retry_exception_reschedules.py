"""`raise Retry(delay=...)` reschedules the job on the task's terms and counts an attempt."""

from __future__ import annotations

import time
from typing import Any

import pytest

from conveyor import Context, Conveyor, JobFailed, JobState, Retry, Task

from .support import running_worker, wait_for

attempt_times: list[float] = []


@pytest.fixture(autouse=True)
def _forget() -> None:
    attempt_times.clear()


async def poll_partner(ctx: Context = Context.INJECTED) -> int:
    attempt_times.append(time.monotonic())
    if ctx.attempt == 1:
        raise Retry(delay=0.3, reason="partner answered 503")
    return ctx.attempt


async def always_later() -> None:
    raise Retry(delay=0.01, reason="not yet")


async def test_retry_reschedules_after_the_delay_and_counts_an_attempt(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(retries=3, backoff="constant", backoff_base=10.0)(poll_partner)

    handle = await task.enqueue()
    async with running_worker(app):
        waiting = await wait_for(handle, JobState.SCHEDULED)
        assert await handle.result(timeout=5) == 2

    assert waiting.attempts == 1
    assert waiting.error is not None
    assert waiting.error.message == "partner answered 503"
    assert attempt_times[1] - attempt_times[0] >= 0.29, "Retry's delay was not honoured"
    assert attempt_times[1] - attempt_times[0] < 5, "the task's own backoff was used instead"
    info = await handle.info()
    assert (info.state, info.attempts) == (JobState.SUCCEEDED, 2)


async def test_retry_on_the_last_attempt_fails_the_job(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(retries=1)(always_later)

    handle = await task.enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed) as caught:
            await handle.result(timeout=5)

    assert caught.value.remote_message == "not yet"
    assert (await handle.info()).attempts == 2


def test_a_negative_retry_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="Retry delay must be >= 0"):
        Retry(delay=-1)
