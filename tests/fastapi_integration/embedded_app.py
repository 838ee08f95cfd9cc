"""An API with an embedded worker, served by uvicorn in a child process of the kill test."""

from __future__ import annotations

import asyncio
import os

from fastapi import FastAPI

from conveyor import Conveyor, Worker
from conveyor.fastapi import Jobs, conveyor_lifespan, jobs_router

conveyor = Conveyor(os.environ["CONVEYOR_URL"])


@conveyor.task
async def slow_step(step: int) -> int:
    await asyncio.sleep(1.0)
    return step


# short leases: the jobs a killed process held are recovered soon after the restart
worker = Worker(
    conveyor, concurrency=2, lease=1.0, heartbeat=0.2, sweep_interval=0.2, idle_poll=0.05
)
api = FastAPI(lifespan=conveyor_lifespan(conveyor, worker=worker))
api.include_router(jobs_router(conveyor))


@api.post("/steps/{count}")
async def steps(count: int, jobs: Jobs) -> list[str]:
    return [jobs.add(slow_step, step).id for step in range(count)]
