"""`handle.events()` yields progress as it happens, then the final state, then stops."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conveyor import Context, Conveyor, JobEvent, JobFailed, JobState, Task

from .support import running_worker


async def render(ctx: Context = Context.INJECTED) -> str:
    await asyncio.sleep(0.1)
    await ctx.progress(0.5, "rendered")
    await asyncio.sleep(0.2)
    return "done"


async def fail_fast() -> None:
    raise RuntimeError("nope")


async def test_events_show_progress_then_the_final_state(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(render)

    handle = await task.enqueue()
    events: list[JobEvent] = []
    async with running_worker(app):
        async with asyncio.timeout(5):
            async for event in handle.events(poll=0.02):
                events.append(event)

    assert all(event.job_id == handle.id for event in events)
    progress = [e for e in events if e.progress == 0.5]
    assert progress
    assert progress[0].state is JobState.ACTIVE
    assert progress[0].progress_message == "rendered"
    assert events[-1].state is JobState.SUCCEEDED
    assert events.index(progress[0]) < len(events) - 1
    states = [e.state for e in events]
    assert states.count(JobState.SUCCEEDED) == 1, "the final state is reported once"


async def test_events_of_a_finished_job_yield_its_final_state_once(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(retries=0)(fail_fast)

    handle = await task.enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed):
            await handle.result(timeout=5)

    events = [event async for event in handle.events()]
    assert [e.state for e in events] == [JobState.FAILED]
