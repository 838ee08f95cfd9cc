"""`GET /jobs/{id}/events`: Server-Sent Events over a real HTTP server, in order, then closed."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from conveyor import Context, Conveyor, JobState, Task
from conveyor.fastapi import conveyor_lifespan, jobs_router

from .support import LIMIT, read_events, running_worker, served, wait_for_state

STEPS = 4


async def render(ctx: Context = Context.INJECTED) -> str:
    for page in range(1, STEPS + 1):
        await asyncio.sleep(0.3)  # longer than the stream's polling, so each step is seen
        await ctx.progress(page / STEPS, f"page {page}/{STEPS}")
    return "rendered"


def events_api(conveyor: Conveyor) -> FastAPI:
    api = FastAPI(lifespan=conveyor_lifespan(conveyor))
    api.include_router(jobs_router(conveyor))
    return api


async def test_progress_arrives_in_order_and_the_stream_ends_with_the_job(
    conveyor: Conveyor,
) -> None:
    task: Task[..., Any] = conveyor.task(render)
    job = await task.enqueue()
    async with (
        served(events_api(conveyor)) as client,
        running_worker(conveyor),
        asyncio.timeout(LIMIT),  # the stream must end by itself: the job ended
        client.stream("GET", f"/jobs/{job.id}/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [event["data"] async for event in read_events(response)]

    assert all(event["job_id"] == job.id for event in events)
    progress = [event["progress"] for event in events if event["progress"] is not None]
    assert progress == sorted(progress), "progress never goes back"
    assert len(set(progress)) >= 2, f"progress was streamed, not just the end: {events}"
    assert events[-1] == {
        "job_id": job.id,
        "state": "succeeded",
        "progress": 1.0,
        "message": f"page {STEPS}/{STEPS}",
    }
    assert [e["state"] for e in events].count("succeeded") == 1
    assert all(e["state"] in ("queued", "active") for e in events[:-1])


async def test_the_stream_of_a_finished_job_is_its_final_state(conveyor: Conveyor) -> None:
    task: Task[..., Any] = conveyor.task(render)
    job = await task.enqueue()
    async with running_worker(conveyor):
        await wait_for_state(conveyor, job.id, JobState.SUCCEEDED)
    async with (
        served(events_api(conveyor)) as client,
        asyncio.timeout(LIMIT),
        client.stream("GET", f"/jobs/{job.id}/events") as response,
    ):
        events = [event["data"] async for event in read_events(response)]

    assert [e["state"] for e in events] == ["succeeded"]
