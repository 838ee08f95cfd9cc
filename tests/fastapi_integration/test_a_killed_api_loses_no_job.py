"""An API process with an embedded worker, SIGKILLed mid-job: after a restart, all finish."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from conveyor import Conveyor

from .support import api_process, stored_jobs

APP = "fastapi_integration.embedded_app:api"
DEADLINE = 60.0  # seconds for a job to start, and for the restarted process to finish all


async def test_jobs_resume_when_the_app_restarts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/jobs.db"
    env = {"CONVEYOR_URL": url}
    log = tmp_path / "uvicorn.log"

    async with api_process(APP, env, log) as (first, client):
        ids = (await client.post("/steps/6")).json()
        deadline = time.monotonic() + DEADLINE
        while True:
            if (await client.get(f"/jobs/{ids[0]}")).json()["state"] == "active":
                break
            assert time.monotonic() < deadline, "the first job never started"
            await asyncio.sleep(0.02)
        first.kill()  # SIGKILL: no shutdown, no hand-back, leases left to expire
        await first.wait()

    async with Conveyor(url) as conveyor:
        at_the_kill = {record.id: record.state for record in await stored_jobs(conveyor)}
    assert sorted(at_the_kill) == sorted(ids), "every job the API accepted is stored"
    cut_short = [i for i in ids if at_the_kill[i] == "active"]
    assert cut_short, "the kill interrupted running jobs"

    async with api_process(APP, env, log) as (_, client):
        deadline = time.monotonic() + DEADLINE
        while True:
            statuses = [(await client.get(f"/jobs/{i}")).json() for i in ids]
            if all(s["state"] == "succeeded" for s in statuses):
                break
            assert time.monotonic() < deadline, f"not all finished: {statuses}\n{log.read_text()}"
            await asyncio.sleep(0.1)

    by_id = {s["id"]: s for s in statuses}
    assert [by_id[i]["result"] for i in ids] == list(range(6))
    assert all(by_id[i]["attempts"] == 2 for i in cut_short), "interrupted jobs ran again"
