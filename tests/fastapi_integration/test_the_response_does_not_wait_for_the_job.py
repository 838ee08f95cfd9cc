"""The endpoint answers at once; the job runs after, on a real worker (here, embedded)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from conveyor import Conveyor, JobState, Task
from conveyor.fastapi import Jobs, conveyor_lifespan

from .support import asgi_client, fast_worker, wait_for_state

gates: dict[str, asyncio.Event] = {}  # the embedded worker runs jobs in the test's loop


async def wait_until_released(key: str) -> str:
    await gates[key].wait()
    return key


async def test_the_response_arrives_while_the_job_still_waits(conveyor: Conveyor) -> None:
    task: Task[..., Any] = conveyor.task(wait_until_released)
    api = FastAPI(lifespan=conveyor_lifespan(conveyor, worker=fast_worker(conveyor)))

    @api.post("/work")
    async def work(jobs: Jobs) -> str:
        return jobs.add(task, "first").id

    gates["first"] = asyncio.Event()
    async with asgi_client(api) as client:
        response = await client.post("/work")
        job_id = response.json()
        # the job cannot have run: it waits for the release below
        running = await wait_for_state(conveyor, job_id, JobState.ACTIVE)
        gates["first"].set()
        done = await wait_for_state(conveyor, job_id, JobState.SUCCEEDED)

    assert response.status_code == 200
    assert running.finished_at is None
    assert conveyor.decode_result(done) == "first"
