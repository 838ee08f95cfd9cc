"""The jobs router shows no secret argument: not in a failed job's error, nor its events."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import SecretStr

from conveyor import Conveyor, JobState, Task
from conveyor.fastapi import conveyor_lifespan, jobs_router

from .support import asgi_client, running_worker, wait_for_state

PASSWORD = "hunter2-correct-horse"


async def log_in(user: str, password: SecretStr) -> None:
    raise PermissionError(f"{user} may not log in with {password.get_secret_value()}")


async def test_a_failed_jobs_status_holds_no_secret(conveyor: Conveyor) -> None:
    task: Task[..., Any] = conveyor.task(retries=0)(log_in)
    api = FastAPI(lifespan=conveyor_lifespan(conveyor))
    api.include_router(jobs_router(conveyor))

    job = await task.enqueue("ada", SecretStr(PASSWORD))
    async with running_worker(conveyor), asgi_client(api) as client:
        await wait_for_state(conveyor, job.id, JobState.FAILED)
        answer = await client.get(f"/jobs/{job.id}")
        events = await client.get(f"/jobs/{job.id}/events")

    assert answer.status_code == 200
    assert answer.json()["error"]["message"] == "ada may not log in with [redacted]"
    assert PASSWORD not in answer.text
    assert events.status_code == 200
    assert PASSWORD not in events.text
