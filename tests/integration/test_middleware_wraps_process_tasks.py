"""A process task's execute hooks run in the worker, around the child process that runs it."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor import Conveyor, JobState, Task
from conveyor.job import JobError
from conveyor.middleware import Job, Middleware, Outcome

from .middleware_support import Outcomes
from .support import LIMIT, running_worker, wait_for


def child_pid(nap: float) -> int:
    time.sleep(nap)
    return os.getpid()


def child_fails() -> None:
    raise LookupError("no such row in the child")


class Around(Middleware):
    """Notes where and when it runs, and what the task raised through it."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def execute(self, job: Job, call_next: Callable[[], Awaitable[None]]) -> None:
        call: dict[str, Any] = {"pid": os.getpid(), "started": time.monotonic()}
        self.calls.append(call)
        try:
            await call_next()
        except Exception as exc:
            call["raised"] = str(exc)
            raise
        finally:
            call["ended"] = time.monotonic()

    def job_ended(self, job: Job, outcome: Outcome, error: JobError | None) -> None:
        self.calls[-1]["outcome"] = outcome


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Conveyor]:
    """One backend is enough: where the hooks run does not depend on the store."""
    conveyor = Conveyor(f"sqlite:///{tmp_path}/jobs.db")
    try:
        yield conveyor
    finally:
        await conveyor.close()


async def test_the_hook_runs_in_the_worker_around_the_child(app: Conveyor) -> None:
    around = Around()
    app.add_middleware(around)
    task: Task[..., Any] = app.task(executor="process")(child_pid)

    handle = await task.enqueue(0.3)
    async with running_worker(app):
        pid = await handle.result(timeout=LIMIT)

    [call] = around.calls
    assert pid != os.getpid(), "the task ran in a child"
    assert call["pid"] == os.getpid(), "the hook ran in the worker"
    assert call["ended"] - call["started"] >= 0.3, "the hook returned before the child ended"
    assert call["outcome"] == "succeeded"


async def test_the_hook_sees_what_the_child_raised(app: Conveyor) -> None:
    around = Around()
    outcomes = Outcomes()
    app.add_middleware(outcomes)
    app.add_middleware(around)
    task: Task[..., Any] = app.task(executor="process", retries=0)(child_fails)

    handle = await task.enqueue()
    async with running_worker(app):
        info = await wait_for(handle, JobState.FAILED)

    assert [call.get("raised") for call in around.calls] == ["no such row in the child"]
    assert outcomes.of(handle.id) == [(1, "failed")]
    assert info.error is not None
    assert info.error.type == "LookupError"
