"""Sync tasks declared executor="process" run in child processes the worker can kill."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from conveyor import ConfigurationError, Context, Conveyor, JobFailed, JobState, Task, Worker

from .support import LIMIT, running_worker, wait_for


def describe(n: int, ctx: Context = Context.INJECTED) -> dict[str, int]:
    ctx.progress(0.5, "half way").wait()
    ctx.save_checkpoint({"seen": n}).wait()
    return {"pid": os.getpid(), "double": 2 * n, "attempt": ctx.attempt}


def resume(total: int, ctx: Context = Context.INJECTED) -> int:
    start = ctx.checkpoint["next"] if ctx.checkpoint else 0
    if ctx.attempt == 1:
        ctx.save_checkpoint({"next": total // 2}).wait()
        raise ConnectionError("lost the database half way")
    return total - start


def hang(pid_file: str) -> None:
    """Note this process's pid, then run far longer than any test waits."""
    with open(pid_file, "a") as file:
        file.write(f"{os.getpid()}\n")
    time.sleep(60)


def fail_loudly() -> None:
    raise KeyError("missing row")


def pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


async def until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + LIMIT
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.02)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_a_process_task_runs_in_a_child_and_reports_through_it(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(executor="process")(describe)

    handle = await task.enqueue(21)
    async with running_worker(app):
        result = await handle.result(timeout=LIMIT)

    assert result["double"] == 42
    assert result["attempt"] == 1
    assert result["pid"] != os.getpid()
    record = await (await app.connected()).get(handle.id)
    assert record is not None
    assert (record.progress, record.progress_message) == (0.5, "half way")
    assert record.checkpoint is not None
    assert json.loads(record.checkpoint) == {"seen": 21}


async def test_a_checkpoint_saved_in_a_child_is_read_by_the_next_attempt(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(
        executor="process", retries=1, backoff="constant", backoff_base=0.01
    )(resume)

    handle = await task.enqueue(10)
    async with running_worker(app):
        assert await handle.result(timeout=LIMIT) == 5


async def test_an_error_in_a_child_is_retried_then_failed_with_its_traceback(
    app: Conveyor,
) -> None:
    task: Task[..., Any] = app.task(
        executor="process", retries=1, backoff="constant", backoff_base=0.01
    )(fail_loudly)

    handle = await task.enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed) as caught:
            await handle.result(timeout=LIMIT)

    assert caught.value.remote_type == "KeyError"
    assert caught.value.remote_message == "'missing row'"
    assert caught.value.remote_traceback is not None
    assert "fail_loudly" in caught.value.remote_traceback
    assert (await handle.info()).attempts == 2


async def test_cancelling_a_process_job_kills_its_child(app: Conveyor, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    task: Task[..., Any] = app.task(executor="process", retries=3)(hang)

    handle = await task.enqueue(str(pid_file))
    async with running_worker(app):
        await until(lambda: pids(pid_file), "the child to start")
        (child,) = pids(pid_file)
        assert not gone(child)
        await handle.cancel()
        info = await wait_for(handle, JobState.CANCELLED)
        await until(lambda: gone(child), f"the child {child} to be gone")

    assert info.attempts == 1, "a cancelled job is never retried"
    assert info.error is not None
    assert info.error.reason == "cancelled"
    assert pids(pid_file) == [child]


async def test_a_process_job_over_its_timeout_is_killed_and_retried(
    app: Conveyor, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pids"
    task: Task[..., Any] = app.task(
        executor="process", timeout=0.5, retries=1, backoff="constant", backoff_base=0.01
    )(hang)

    handle = await task.enqueue(str(pid_file))
    async with running_worker(app):
        with pytest.raises(JobFailed) as caught:
            await handle.result(timeout=LIMIT)

    assert caught.value.reason == "timeout"
    assert (await handle.info()).attempts == 2
    first, second = pids(pid_file)
    assert first != second, "the killed child was replaced by a fresh one"
    await until(lambda: gone(first) and gone(second), "both children to be gone")


async def test_a_process_job_still_running_at_shutdown_is_handed_back(
    app: Conveyor, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pids"
    task: Task[..., Any] = app.task(executor="process")(hang)

    handle = await task.enqueue(str(pid_file))
    async with running_worker(app):  # leaving the block stops the worker without grace
        await until(lambda: pids(pid_file), "the child to start")

    (child,) = pids(pid_file)
    await until(lambda: gone(child), f"the child {child} to be gone")
    assert await handle.status() is JobState.QUEUED


def test_a_process_task_must_be_importable_by_name() -> None:
    app = Conveyor("memory://")

    def nested() -> None: ...

    async def coroutine() -> None: ...

    with pytest.raises(ConfigurationError, match="define it at module level"):
        app.task(executor="process", name="nested")(nested)
    with pytest.raises(ConfigurationError, match="define it at module level"):
        app.task(executor="process", name="lambda")(lambda: None)
    with pytest.raises(ConfigurationError, match="only sync functions"):
        app.task(executor="process", name="coroutine")(coroutine)
    with pytest.raises(ConfigurationError, match="'thread' or 'process'"):
        app.task(executor="fork", name="forked")(hang)  # type: ignore[call-overload]
    assert app.tasks == {}


def test_the_process_pool_needs_at_least_one_process() -> None:
    app = Conveyor("memory://")
    app.task(executor="process")(hang)

    with pytest.raises(ConfigurationError, match="process_pool must be at least 1"):
        Worker(app, process_pool=0)
