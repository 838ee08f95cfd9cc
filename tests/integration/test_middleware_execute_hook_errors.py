"""What an execute hook raises counts as the task raising, and follows the retry policy; a
hook that swallows the task's error lets the job succeed with a null result, workflow or not."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from conveyor import ConfigurationError, Context, Conveyor, JobFailed, JobState, Retry, Task, chain
from conveyor.middleware import Job, Middleware, OutgoingJob

from .middleware_support import Outcomes
from .support import running_worker, settle, wait_for, work_off

ran: list[tuple[str, int]] = []
attempt_times: list[float] = []


@pytest.fixture(autouse=True)
def _forget() -> None:
    ran.clear()
    attempt_times.clear()


class HookRefused(Exception):
    pass


class Gate(Middleware):
    """Refuses to run any job."""

    async def execute(self, job: Job, call_next: Callable[[], Awaitable[None]]) -> None:
        raise HookRefused(f"gate closed for attempt {job.attempts}")


class LaterOnce(Middleware):
    """Sends every first attempt back for later."""

    async def execute(self, job: Job, call_next: Callable[[], Awaitable[None]]) -> None:
        attempt_times.append(time.monotonic())
        if job.attempts == 1:
            raise Retry(delay=0.3, reason="the partner is warming up")
        await call_next()


class Swallow(Middleware):
    """Logs and swallows whatever the task raises (a user's error reporter gone wrong)."""

    def __init__(self) -> None:
        self.swallowed: list[str] = []

    async def execute(self, job: Job, call_next: Callable[[], Awaitable[None]]) -> None:
        try:
            await call_next()
        except Exception as exc:
            self.swallowed.append(str(exc))


class Forget(Middleware):
    """An enqueue hook that returns without calling call_next()."""

    async def enqueue(
        self, jobs: Sequence[OutgoingJob], call_next: Callable[[], Awaitable[Sequence[bool]]]
    ) -> Sequence[bool]:
        return [True] * len(jobs)


async def work(name: str, ctx: Context = Context.INJECTED) -> str:
    ran.append((name, ctx.attempt))
    return name


async def boom(name: str) -> str:
    ran.append((name, 0))
    raise ValueError(f"{name} broke")


async def after(previous: Any) -> list[Any]:
    ran.append(("after", 0))
    return [previous, "after"]


async def test_an_execute_hook_that_raises_retries_then_fails_the_job(app: Conveyor) -> None:
    outcomes = Outcomes()
    app.add_middleware(outcomes)
    app.add_middleware(Gate())
    task: Task[..., Any] = app.task(retries=1, backoff="constant", backoff_base=0.01)(work)

    handle = await task.enqueue("x")
    async with running_worker(app):
        info = await wait_for(handle, JobState.FAILED)

    assert ran == [], "the gate never let the task run"
    assert info.attempts == 2
    assert info.error is not None
    assert info.error.type.endswith("HookRefused")
    assert info.error.message == "gate closed for attempt 2"
    assert info.error.reason == "exception"
    assert outcomes.of(handle.id) == [(1, "retried"), (2, "failed")]
    errors = [e.error for e in outcomes.ended]
    assert [e.message if e else None for e in errors] == [
        "gate closed for attempt 1",
        "gate closed for attempt 2",
    ]
    with pytest.raises(JobFailed, match="gate closed"):
        await handle.result(timeout=1)


async def test_an_execute_hook_can_raise_retry_with_its_own_delay(app: Conveyor) -> None:
    outcomes = Outcomes()
    app.add_middleware(outcomes)
    app.add_middleware(LaterOnce())
    task: Task[..., Any] = app.task(retries=2, backoff="constant", backoff_base=10.0)(work)

    handle = await task.enqueue("x")
    async with running_worker(app):
        waiting = await wait_for(handle, JobState.SCHEDULED)
        assert await handle.result(timeout=5) == "x"

    assert waiting.error is not None
    assert waiting.error.message == "the partner is warming up"
    assert ran == [("x", 2)]
    assert 0.29 <= attempt_times[1] - attempt_times[0] < 5, "Retry's delay was not honoured"
    assert outcomes.of(handle.id) == [(1, "retried"), (2, "succeeded")]


async def test_a_hook_that_swallows_the_tasks_error_lets_it_succeed_with_none(
    app: Conveyor,
) -> None:
    outcomes = Outcomes()
    swallow = Swallow()
    app.add_middleware(outcomes)
    app.add_middleware(swallow)
    task: Task[..., Any] = app.task(retries=3)(boom)

    handle = await task.enqueue("x")
    await work_off(app)

    record = await (await app.connected()).get(handle.id)
    assert record is not None
    assert record.result == b"null"
    info = await handle.info()
    assert (info.state, info.attempts, info.error) == (JobState.SUCCEEDED, 1, None)
    assert swallow.swallowed == ["x broke"]
    assert outcomes.of(handle.id) == [(1, "succeeded")]


async def test_a_chain_step_whose_error_was_swallowed_feeds_none_to_the_next_step(
    app: Conveyor,
) -> None:
    """A step that succeeded has its next step stored with it, whatever made it succeed:
    the chain must not stop with a succeeded step and nothing after it."""
    app.add_middleware(Swallow())
    first: Task[..., Any] = app.task(boom)
    then: Task[..., Any] = app.task(after)

    workflow = await chain(first.s("x"), then.step()).enqueue()
    async with running_worker(app):
        await settle(workflow)

    assert await workflow.result(timeout=5) == [None, "after"]
    assert ran == [("x", 0), ("after", 0)]


async def test_an_enqueue_hook_that_drops_a_chains_next_step_fails_the_step(
    app: Conveyor,
) -> None:
    """Not calling call_next() is an error for the next steps too: they are not stored
    behind the hook's back."""
    task: Task[..., Any] = app.task(retries=0)(work)
    workflow = await chain(task.s("a"), task.step()).enqueue()
    app.add_middleware(Forget())  # once the first step is stored

    async with running_worker(app):
        await settle(workflow)

    step = await app.job(f"{workflow.id}:0").info()
    assert step.state is JobState.FAILED
    assert step.error is not None
    assert step.error.type == ConfigurationError.__module__ + ".ConfigurationError"
    assert "call_next" in step.error.message
    assert await (await app.connected()).get(f"{workflow.id}:1") is None
