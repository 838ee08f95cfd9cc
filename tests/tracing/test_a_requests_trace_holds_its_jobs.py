"""A FastAPI request traced by opentelemetry-instrumentation-fastapi that adds a job: the
job's run is in the request's trace, below the request's server span."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from conveyor import Conveyor
from conveyor.fastapi import Jobs, conveyor_lifespan
from conveyor.middleware.tracing import TracingMiddleware

from .support import ancestors, finished, in_memory, one, work_off


async def welcome(email: str) -> str:
    return f"welcome, {email}"


async def test_the_jobs_run_is_a_descendant_of_the_request(tmp_path: Path) -> None:
    provider, exporter = in_memory()
    conveyor = Conveyor(f"sqlite:///{tmp_path}/jobs.db", middleware=[TracingMiddleware(provider)])
    task = conveyor.task(welcome)
    api = FastAPI(lifespan=conveyor_lifespan(conveyor))

    @api.post("/signups")
    async def sign_up(jobs: Jobs) -> str:
        return jobs.add(task, "a@b.c").id

    FastAPIInstrumentor.instrument_app(api, tracer_provider=provider)
    transport = httpx.ASGITransport(app=api)
    async with (
        api.router.lifespan_context(api),
        httpx.AsyncClient(transport=transport, base_url="http://api") as client,
    ):
        response = await client.post("/signups")
        assert response.status_code == 200
        await work_off(conveyor)

    spans = finished(exporter)
    request = one(spans, kind="SERVER")
    send, process = one(spans, kind="PRODUCER"), one(spans, kind="CONSUMER")
    assert process.attributes["messaging.message.id"] == response.json()
    assert process.trace_id == send.trace_id == request.trace_id
    assert ancestors(process, spans)[:2] == [send, request]
