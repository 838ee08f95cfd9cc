"""Requests generated from the jobs router's OpenAPI schema never get a 500 (schemathesis).

The router is mounted as the README mounts it, on each backend's store holding finished jobs
of each ending, some with results JSON has no plain spelling for. The job id in the path is
the one schemathesis generated, one of these jobs', an awkward one, or any text at all. No
job is left unfinished: its event stream would not end.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance

from conveyor import Conveyor, Worker
from conveyor.fastapi import conveyor_lifespan, jobs_router
from live_services import fresh_postgres, fresh_redis

RESULTS: dict[str, Any] = {
    "plain": {"rows": [1, 2.5, None, True], "name": "é ☃"},
    "not-a-number": math.nan,
    "infinite": [math.inf, -math.inf],
    "nothing": None,
}
KNOWN_IDS = [*RESULTS, "failed", "cancelled"]
# ids no job can have: some stores cannot even look them up (PostgreSQL text holds no NUL)
AWKWARD_IDS = ["\x00", "nul\x00inside", "line\nbreak", "\x7f", "x" * 5000, " ", "%", "é☃"]


async def store_finished_jobs(conveyor: Conveyor) -> None:
    """One job per entry of RESULTS, one that failed and one that was cancelled."""

    async def echo(value: Any) -> Any:
        return value

    async def flop() -> None:
        raise RuntimeError("it flops")

    echo_task = conveyor.task(name="fuzz.echo")(echo)
    flop_task = conveyor.task(name="fuzz.flop", retries=0)(flop)
    async with conveyor:
        for job_id, value in RESULTS.items():
            await echo_task.options(job_id=job_id).enqueue(value)
        await flop_task.options(job_id="failed").enqueue()
        await echo_task.options(job_id="cancelled", delay=3600).enqueue(None)
        await (await conveyor.connected()).cancel("cancelled")
        await Worker(conveyor, burst=True).run()


@pytest.fixture(params=["sqlite", "redis", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/jobs.db"
    elif request.param == "redis":
        yield fresh_redis()
    else:
        with fresh_postgres() as url:
            yield url


@pytest.fixture
def api_schema(store_url: str) -> schemathesis.BaseSchema:
    conveyor = Conveyor(store_url)
    asyncio.run(store_finished_jobs(conveyor))
    api = FastAPI(lifespan=conveyor_lifespan(conveyor))
    api.include_router(jobs_router(conveyor))
    return schemathesis.openapi.from_asgi("/openapi.json", api)


def test_no_request_gets_a_server_error(api_schema: schemathesis.BaseSchema) -> None:
    @given(
        case=api_schema.as_strategy(),
        job_id=st.none() | st.sampled_from(KNOWN_IDS + AWKWARD_IDS) | st.text(),
    )
    def request(case: schemathesis.Case[Any], job_id: str | None) -> None:
        if job_id is not None and case.path_parameters:
            case.path_parameters["job_id"] = job_id
        case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])

    request()
