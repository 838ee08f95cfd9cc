"""Jobs added by an endpoint that raises are never stored; bad calls fail the request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse

from conveyor import ArgumentError, Conveyor
from conveyor.fastapi import Jobs, conveyor_lifespan

from .support import asgi_client, stored_jobs


def send_welcome_email(email: str) -> None: ...


def not_a_task(email: str) -> None: ...


def signup_api(conveyor: Conveyor, error: Exception | None) -> FastAPI:
    task = conveyor.task(send_welcome_email)
    api = FastAPI(lifespan=conveyor_lifespan(conveyor))

    @api.post("/signup")
    async def signup(jobs: Jobs) -> None:
        jobs.add(task, "ada@example.com")
        if error is not None:
            raise error

    return api


async def test_an_http_exception_after_add_enqueues_nothing(conveyor: Conveyor) -> None:
    api = signup_api(conveyor, HTTPException(409, "already registered"))

    async with asgi_client(api) as client:
        response = await client.post("/signup")

    assert response.status_code == 409
    assert await stored_jobs(conveyor) == []


async def test_an_unexpected_error_after_add_enqueues_nothing(conveyor: Conveyor) -> None:
    api = signup_api(conveyor, RuntimeError("the database is down"))

    async with asgi_client(api) as client:
        response = await client.post("/signup")

    assert response.status_code == 500
    assert await stored_jobs(conveyor) == []


async def test_the_same_endpoint_enqueues_when_it_succeeds(conveyor: Conveyor) -> None:
    api = signup_api(conveyor, None)

    async with asgi_client(api) as client:
        response = await client.post("/signup")

    assert response.status_code == 200
    assert len(await stored_jobs(conveyor)) == 1


async def test_a_function_that_is_not_a_task_is_refused_clearly(conveyor: Conveyor) -> None:
    api = FastAPI(lifespan=conveyor_lifespan(conveyor))

    @api.post("/signup")
    async def signup(jobs: Jobs) -> None:
        jobs.add(not_a_task, "ada@example.com")  # type: ignore[arg-type]

    async with asgi_client(api, raise_app_exceptions=True) as client:
        with pytest.raises(TypeError, match=r"jobs.add takes a task registered with @app.task"):
            await client.post("/signup")

    assert await stored_jobs(conveyor) == []


async def test_arguments_that_do_not_fit_fail_the_request_and_store_nothing(
    conveyor: Conveyor,
) -> None:
    task = conveyor.task(send_welcome_email)
    api = FastAPI(lifespan=conveyor_lifespan(conveyor))

    @api.post("/signup")
    async def signup(jobs: Jobs) -> None:
        jobs.add(task, "ada@example.com")
        jobs.add(task, "bob@example.com", "one argument too many")  # type: ignore[call-arg]

    async with asgi_client(api, raise_app_exceptions=True) as client:
        with pytest.raises(ArgumentError, match="send_welcome_email"):
            await client.post("/signup")

    assert await stored_jobs(conveyor) == [], "not even the first, well-formed job"


async def test_adding_a_job_after_the_endpoint_returned_is_refused(conveyor: Conveyor) -> None:
    """A job added while the response streams would be lost silently: it raises instead."""
    task = conveyor.task(send_welcome_email)
    api = FastAPI(lifespan=conveyor_lifespan(conveyor))

    @api.get("/stream")
    async def stream(jobs: Jobs) -> StreamingResponse:
        def body() -> Iterator[bytes]:
            jobs.add(task, "late@example.com")
            yield b"never sent"

        return StreamingResponse(body())

    async with asgi_client(api, raise_app_exceptions=True) as client:
        with pytest.raises(RuntimeError, match="already stored"):
            await client.get("/stream")

    assert await stored_jobs(conveyor) == []
