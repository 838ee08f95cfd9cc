"""`jobs.add` stores the job after the endpoint returns and before the response is sent."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at
# runtime, and one of them names a dependency local to its test.

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI

from conveyor import Conveyor
from conveyor.fastapi import Jobs, conveyor_lifespan

from .support import asgi_client, call_asgi, served, stored_jobs


def send_welcome_email(email: str) -> None: ...


def signup_api(conveyor: Conveyor) -> FastAPI:
    task = conveyor.task(send_welcome_email)
    api = FastAPI(lifespan=conveyor_lifespan(conveyor))

    @api.post("/signup")
    async def signup(jobs: Jobs) -> dict[str, str]:
        job = jobs.add(task, "ada@example.com")
        return {"job_id": job.id}

    return api


async def test_the_job_is_in_the_backend_when_the_response_starts(conveyor: Conveyor) -> None:
    api = signup_api(conveyor)
    seen_at_response_start: list[int] = []

    async def look() -> None:
        seen_at_response_start.append(len(await stored_jobs(conveyor)))

    async with api.router.lifespan_context(api):
        sent = await call_asgi(api, "POST", "/signup", on_response_start=look)

    assert sent[0]["status"] == 200
    assert seen_at_response_start == [1]


async def test_a_client_finds_the_job_as_soon_as_the_response_arrives(
    conveyor: Conveyor,
) -> None:
    async with served(signup_api(conveyor)) as client:
        response = await client.post("/signup")
        record = await (await conveyor.connected()).get(response.json()["job_id"])

    assert record is not None
    assert record.task.endswith("send_welcome_email")


async def test_every_job_of_a_request_is_stored_in_one_go(conveyor: Conveyor) -> None:
    task = conveyor.task(send_welcome_email)
    api = FastAPI(lifespan=conveyor_lifespan(conveyor))

    @api.post("/invite")
    async def invite(jobs: Jobs) -> list[str]:
        return [jobs.add(task, f"user{i}@example.com").id for i in range(3)]

    async with asgi_client(api) as client:
        ids = (await client.post("/invite")).json()

    assert sorted(r.id for r in await stored_jobs(conveyor)) == sorted(ids)


async def test_a_request_scoped_yield_dependency_would_store_too_late(
    conveyor: Conveyor,
) -> None:
    """Why `Jobs` is function-scoped: FastAPI runs the exit code of a default (request
    scoped) yield dependency only after the response is sent. This pins that behaviour
    and shows the probe above would catch a job stored that late."""
    task = conveyor.task(send_welcome_email)

    async def late_store() -> AsyncIterator[None]:
        yield
        await task.enqueue("ada@example.com")

    api = FastAPI(lifespan=conveyor_lifespan(conveyor))

    @api.post("/signup")
    async def signup(_: Annotated[None, Depends(late_store)]) -> None: ...

    seen_at_response_start: list[int] = []

    async def look() -> None:
        seen_at_response_start.append(len(await stored_jobs(conveyor)))

    async with api.router.lifespan_context(api):
        sent = await call_asgi(api, "POST", "/signup", on_response_start=look)
        assert sent[0]["status"] == 200
        assert seen_at_response_start == [0]
        assert len(await stored_jobs(conveyor)) == 1
