"""On Redis, `events()` and `result()` wait on the job's channel instead of polling the job."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis

from conveyor import Context, Conveyor, JobState, Task
from conveyor.backends.redis import RedisBackend
from live_services import fresh_redis

from .support import LIMIT, running_worker

released = asyncio.Event()


async def report(ctx: Context = Context.INJECTED) -> str:
    await ctx.progress(0.5, "half")
    await released.wait()
    await ctx.progress(1.0, "all")
    return "done"


async def subscribers(url: str, channel: str) -> int:
    client = aioredis.Redis.from_url(url.split("?")[0])  # conveyor's own options off
    try:
        [(_, count)] = await client.pubsub_numsub(channel)
        return int(count)
    finally:
        await client.aclose()


async def test_events_arrive_in_order_from_the_jobs_channel() -> None:
    url = fresh_redis()
    released.clear()
    async with Conveyor(url) as app:
        task: Task[..., Any] = app.task(report)
        handle = await task.enqueue()
        seen: list[tuple[JobState, float | None]] = []
        async with running_worker(app), asyncio.timeout(LIMIT):
            async for event in handle.events(poll=3600):
                seen.append((event.state, event.progress))
                if event.progress == 0.5 and not released.is_set():
                    assert isinstance(app.backend, RedisBackend)
                    channel = f"{app.backend.prefix}:job:{handle.id}"
                    listening = await subscribers(url, channel)
                    released.set()
            result = await handle.result(timeout=LIMIT)

    assert listening == 1, "the stream waits on the job's channel"
    assert seen[-1] == (JobState.SUCCEEDED, 1.0)
    progress = [p for state, p in seen if state is JobState.ACTIVE and p is not None]
    assert progress[0] == 0.5, seen
    assert progress == sorted(progress), seen
    assert result == "done"
