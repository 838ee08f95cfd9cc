"""The jobs router: status, 404s, cancellation, an authorization dependency, the schema."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at
# runtime, and some name dependencies local to their test.

import asyncio
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException

from conveyor import Context, Conveyor, JobInfo, JobState, Task
from conveyor.fastapi import Jobs, conveyor_lifespan, jobs_router, requested_job

from .support import asgi_client, running_worker, wait_for_state


async def render(pages: int, ctx: Context = Context.INJECTED) -> dict[str, int]:
    await ctx.progress(1.0, f"{pages} pages")
    return {"pages": pages}


async def crash() -> None:
    raise ConnectionError("smtp.example refused the connection")


def jobs_api(conveyor: Conveyor, **router_options: Any) -> FastAPI:
    api = FastAPI(lifespan=conveyor_lifespan(conveyor))
    api.include_router(jobs_router(conveyor, **router_options))
    return api


async def test_status_of_a_finished_job(conveyor: Conveyor) -> None:
    task: Task[..., Any] = conveyor.task(render)
    job = await task.enqueue(3)
    async with running_worker(conveyor), asgi_client(jobs_api(conveyor)) as client:
        await wait_for_state(conveyor, job.id, JobState.SUCCEEDED)
        response = await client.get(f"/jobs/{job.id}")

    assert response.status_code == 200
    status = response.json()
    assert status["id"] == job.id
    assert status["task"] == task.name
    assert status["state"] == "succeeded"
    assert status["result"] == {"pages": 3}
    assert status["progress"] == 1.0
    assert status["message"] == "3 pages"
    assert status["error"] is None
    assert status["attempts"] == 1
    assert status["max_attempts"] == 4
    assert status["enqueued_at"] <= status["started_at"] <= status["finished_at"]


async def test_status_of_a_dead_job_says_why_without_the_traceback(conveyor: Conveyor) -> None:
    task: Task[..., Any] = conveyor.task(retries=0)(crash)
    job = await task.enqueue()
    async with running_worker(conveyor), asgi_client(jobs_api(conveyor)) as client:
        await wait_for_state(conveyor, job.id, JobState.FAILED)
        status = (await client.get(f"/jobs/{job.id}")).json()

    assert status["state"] == "failed"
    assert status["result"] is None
    assert status["error"] == {
        "type": "ConnectionError",
        "message": "smtp.example refused the connection",
        "reason": "exception",
    }


async def test_an_unknown_job_is_a_clean_404_everywhere(conveyor: Conveyor) -> None:
    async with asgi_client(jobs_api(conveyor)) as client:
        answers = [
            await client.get("/jobs/no-such-job"),
            await client.get("/jobs/no-such-job/events"),
            await client.post("/jobs/no-such-job/cancel"),
        ]

    assert [a.status_code for a in answers] == [404, 404, 404]
    assert all(a.json() == {"detail": "no job with id 'no-such-job'"} for a in answers)


async def test_cancel_a_pending_job(conveyor: Conveyor) -> None:
    task: Task[..., Any] = conveyor.task(render)
    job = await task.options(delay=3600).enqueue(1)
    async with asgi_client(jobs_api(conveyor)) as client:
        cancelled = await client.post(f"/jobs/{job.id}/cancel")
        status = await client.get(f"/jobs/{job.id}")

    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    assert status.json()["state"] == "cancelled"


async def test_the_router_works_under_any_prefix(conveyor: Conveyor) -> None:
    task: Task[..., Any] = conveyor.task(render)
    job = await task.enqueue(1)
    api = FastAPI(lifespan=conveyor_lifespan(conveyor))
    api.include_router(jobs_router(conveyor), prefix="/api/v1")
    async with asgi_client(api) as client:
        response = await client.get(f"/api/v1/jobs/{job.id}")

    assert response.json()["state"] == "queued"


async def test_authorize_decides_who_sees_and_cancels_which_job(conveyor: Conveyor) -> None:
    task: Task[..., Any] = conveyor.task(render)

    async def owner_only(
        job: Annotated[JobInfo, Depends(requested_job(conveyor))],
        x_user: Annotated[str, Header()],
    ) -> None:
        if job.headers.get("owner") != x_user:
            raise HTTPException(403, "not your job")

    api = jobs_api(conveyor, authorize=owner_only)

    @api.post("/reports")
    async def create_report(jobs: Jobs, x_user: Annotated[str, Header()]) -> str:
        return jobs.add(task.options(headers={"owner": x_user}), 2).id

    async with asgi_client(api) as client:
        job_id = (await client.post("/reports", headers={"X-User": "ada"})).json()
        as_bob = [
            await client.get(f"/jobs/{job_id}", headers={"X-User": "bob"}),
            await client.get(f"/jobs/{job_id}/events", headers={"X-User": "bob"}),
            await client.post(f"/jobs/{job_id}/cancel", headers={"X-User": "bob"}),
        ]
        as_ada = await client.get(f"/jobs/{job_id}", headers={"X-User": "ada"})
        unknown = await client.get("/jobs/nope", headers={"X-User": "ada"})

    assert [r.status_code for r in as_bob] == [403, 403, 403]
    assert as_ada.status_code == 200
    assert as_ada.json()["state"] == "queued", "bob's cancel was refused"
    assert unknown.status_code == 404


async def test_the_openapi_schema_documents_the_answers(conveyor: Conveyor) -> None:
    async with asgi_client(jobs_api(conveyor)) as client:
        schema = (await client.get("/openapi.json")).json()

    def answers(path: str, method: str) -> dict[str, Any]:
        responses: dict[str, Any] = schema["paths"][path][method]["responses"]
        return responses

    status = answers("/jobs/{job_id}", "get")
    assert status["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/JobStatus"
    }
    assert "404" in status
    assert answers("/jobs/{job_id}/cancel", "post")["200"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/JobStatus"}
    events = answers("/jobs/{job_id}/events", "get")["200"]["content"]
    assert "text/event-stream" in events
    assert "JobUpdate" in str(events["text/event-stream"])
    fields = schema["components"]["schemas"]["JobStatus"]["properties"]
    assert {"state", "progress", "result", "error", "attempts", "started_at"} <= set(fields)


async def test_cancel_asks_a_running_job_to_stop(conveyor: Conveyor) -> None:
    started = asyncio.Event()

    async def sleepy() -> None:
        started.set()
        await asyncio.sleep(60)

    task: Task[..., Any] = conveyor.task(name="sleepy")(sleepy)
    job = await task.enqueue()
    async with running_worker(conveyor), asgi_client(jobs_api(conveyor)) as client:
        async with asyncio.timeout(10):
            await started.wait()
        answer = await client.post(f"/jobs/{job.id}/cancel")
        await wait_for_state(conveyor, job.id, JobState.CANCELLED)

    assert answer.json()["state"] == "active"
    assert answer.json()["cancel_requested"] is True
