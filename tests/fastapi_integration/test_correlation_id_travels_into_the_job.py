"""The request's correlation id: from X-Request-ID (or new) to the job, `ctx`, and log lines."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from conveyor import Context, Conveyor, JobState, Retry, Task
from conveyor.correlation import current_correlation_id
from conveyor.fastapi import (
    CorrelationIdFilter,
    CorrelationMiddleware,
    Jobs,
    conveyor_lifespan,
    jobs_router,
)

from .support import asgi_client, running_worker, wait_for_state

logger = logging.getLogger(__name__)


async def whoami(ctx: Context = Context.INJECTED) -> list[str | None]:
    if ctx.attempt == 1:
        raise Retry(delay=0)  # so the worker logs a line about this job
    logger.info("running for the request")
    return [ctx.correlation_id, current_correlation_id()]


def correlated_api(conveyor: Conveyor, task: Task[..., Any]) -> FastAPI:
    api = FastAPI(lifespan=conveyor_lifespan(conveyor))
    api.add_middleware(CorrelationMiddleware)
    api.include_router(jobs_router(conveyor))

    @api.post("/whoami")
    async def enqueue(jobs: Jobs) -> str:
        return jobs.add(task.options(retries=1)).id

    return api


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Lines logged by the worker and the tasks, formatted with the correlation id."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.addFilter(CorrelationIdFilter())
    handler.setFormatter(logging.Formatter("[%(correlation_id)s] %(name)s: %(message)s"))
    loggers = [logging.getLogger("conveyor.worker"), logger]
    for each in loggers:
        each.addHandler(handler)
        each.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        for each in loggers:
            each.removeHandler(handler)


async def test_the_request_id_reaches_the_job_the_task_and_the_logs(
    conveyor: Conveyor, log_lines: list[str]
) -> None:
    task: Task[..., Any] = conveyor.task(whoami)
    async with asgi_client(correlated_api(conveyor, task)) as client:
        response = await client.post("/whoami", headers={"X-Request-ID": "req-7f3a"})
        job_id = response.json()
        async with running_worker(conveyor):
            await wait_for_state(conveyor, job_id, JobState.SUCCEEDED)
        status = (await client.get(f"/jobs/{job_id}")).json()

    assert response.headers["X-Request-ID"] == "req-7f3a"
    assert status["correlation_id"] == "req-7f3a"
    assert status["result"] == ["req-7f3a", "req-7f3a"]
    assert f"[req-7f3a] conveyor.worker: job {job_id}" in "\n".join(log_lines)
    assert f"[req-7f3a] {__name__}: running for the request" in log_lines


async def test_a_request_without_an_id_gets_a_new_one(conveyor: Conveyor) -> None:
    task: Task[..., Any] = conveyor.task(whoami)
    async with asgi_client(correlated_api(conveyor, task)) as client:
        first = await client.post("/whoami")
        second = await client.post("/whoami")
        stored = [(await client.get(f"/jobs/{r.json()}")).json() for r in (first, second)]

    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert ids[0] != ids[1]
    assert [s["correlation_id"] for s in stored] == ids


async def test_a_malformed_request_id_is_replaced(conveyor: Conveyor) -> None:
    task: Task[..., Any] = conveyor.task(whoami)
    async with asgi_client(correlated_api(conveyor, task)) as client:
        response = await client.post("/whoami", headers={"X-Request-ID": "two words"})
        status = (await client.get(f"/jobs/{response.json()}")).json()

    assert response.headers["X-Request-ID"] != "two words"
    assert status["correlation_id"] == response.headers["X-Request-ID"]
