"""Progress and checkpoints written by a running job are stored and readable from outside."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conveyor import Context, Conveyor, JobState, Task

from .support import running_worker, wait_for

release = asyncio.Event()


@pytest.fixture(autouse=True)
def _reset() -> None:
    global release
    release = asyncio.Event()


async def import_rows(total: int, ctx: Context = Context.INJECTED) -> int:
    await ctx.progress(0.25, "read the file")
    await ctx.save_checkpoint({"row": total // 4})
    await release.wait()
    return total


def import_rows_sync(total: int, ctx: Context = Context.INJECTED) -> int:
    ctx.progress(0.5, "half").wait(timeout=5)
    ctx.save_checkpoint({"row": total // 2}).wait(timeout=5)
    return total


async def test_progress_is_visible_through_info_while_the_job_runs(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(import_rows)

    handle = await task.enqueue(100)
    async with running_worker(app):
        await wait_for(handle, JobState.ACTIVE)
        for _ in range(200):
            info = await handle.info()
            if info.progress is not None:
                break
            await asyncio.sleep(0.01)
        release.set()
        assert await handle.result(timeout=5) == 100

    assert (info.state, info.progress, info.progress_message) == (
        JobState.ACTIVE,
        0.25,
        "read the file",
    )


async def test_the_checkpoint_is_stored_once_the_write_is_awaited(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(import_rows)

    handle = await task.enqueue(100)
    async with running_worker(app):
        await wait_for(handle, JobState.ACTIVE)
        backend = await app.connected()
        for _ in range(200):
            record = await backend.get(handle.id)
            assert record is not None
            if record.checkpoint is not None:
                break
            await asyncio.sleep(0.01)
        release.set()
        await handle.result(timeout=5)

    assert record is not None
    assert record.checkpoint == b'{"row":25}'


async def test_a_sync_task_can_wait_for_its_writes_and_they_outlive_the_job(
    app: Conveyor,
) -> None:
    task: Task[..., Any] = app.task(import_rows_sync)

    handle = await task.enqueue(100)
    async with running_worker(app):
        assert await handle.result(timeout=5) == 100

    info = await handle.info()
    assert (info.progress, info.progress_message) == (0.5, "half")
    record = await (await app.connected()).get(handle.id)
    assert record is not None
    assert record.checkpoint == b'{"row":50}'
