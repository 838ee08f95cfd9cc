"""`retry_on` names the exceptions worth another attempt: any other fails the job at once,
and `raise Retry(...)` is always retried."""

from __future__ import annotations

import time
from typing import Any

import pytest

from conveyor import ConfigurationError, Context, Conveyor, JobFailed, JobState, Retry, Task

from .support import running_worker

attempts: list[int] = []


@pytest.fixture(autouse=True)
def _forget() -> None:
    attempts.clear()


class PaymentDeclined(Exception):
    pass


async def pay(error: str, ctx: Context = Context.INJECTED) -> int:
    attempts.append(ctx.attempt)
    if ctx.attempt < 3:
        if error == "declined":
            raise PaymentDeclined("card declined")
        if error == "unreachable":
            raise ConnectionResetError("partner unreachable")
        raise Retry(delay=0.01)
    return ctx.attempt


def pay_in_a_child(error: str) -> None:
    time.sleep(0.01)
    if error == "declined":
        raise PaymentDeclined("card declined")
    raise ConnectionError("partner unreachable")


async def test_an_exception_not_listed_fails_the_job_at_once(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(
        retry_on=[ConnectionError], retries=3, backoff="constant", backoff_base=0.01
    )(pay)

    handle = await task.enqueue("declined")
    async with running_worker(app):
        with pytest.raises(JobFailed):
            await handle.result(timeout=5)

    info = await handle.info()
    assert attempts == [1]
    assert (info.state, info.attempts, info.max_attempts) == (JobState.FAILED, 1, 4)
    assert info.error is not None
    assert info.error.type.endswith("PaymentDeclined")


async def test_a_listed_exception_and_its_subclasses_are_retried(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(
        retry_on=[ConnectionError], retries=3, backoff="constant", backoff_base=0.01
    )(pay)

    handle = await task.enqueue("unreachable")  # ConnectionResetError is a ConnectionError
    async with running_worker(app):
        assert await handle.result(timeout=5) == 3

    assert attempts == [1, 2, 3]


async def test_retry_is_retried_whatever_retry_on_says(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(retry_on=[], retries=3, backoff="constant", backoff_base=0.01)(
        pay
    )

    handle = await task.enqueue("retry")
    async with running_worker(app):
        assert await handle.result(timeout=5) == 3

    assert attempts == [1, 2, 3]


async def test_a_process_task_is_matched_by_the_class_it_raised(app: Conveyor) -> None:
    listed: Task[..., Any] = app.task(
        name="pay_listed",
        executor="process",
        retry_on=[ConnectionError],
        retries=3,
        backoff="constant",
        backoff_base=0.01,
    )(pay_in_a_child)
    other: Task[..., Any] = app.task(
        name="pay_other",
        executor="process",
        retry_on=[ConnectionError],
        retries=3,
        backoff="constant",
        backoff_base=0.01,
    )(pay_in_a_child)

    unreachable = await listed.enqueue("unreachable")
    declined = await other.enqueue("declined")
    async with running_worker(app):
        for handle in (unreachable, declined):
            with pytest.raises(JobFailed):
                await handle.result(timeout=15)

    assert (await unreachable.info()).attempts == 4
    assert (await declined.info()).attempts == 1


@pytest.mark.parametrize(
    "retry_on", [ConnectionError, ["ConnectionError"], [ValueError, 3], "oops", [int]]
)
def test_retry_on_must_list_exception_classes(app: Conveyor, retry_on: Any) -> None:
    with pytest.raises(ConfigurationError, match="retry_on must be a list of exception classes"):
        app.task(retry_on=retry_on)(pay)
