"""`conveyor_lifespan`: wraps the app's own lifespan, and checks its options up front."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from fastapi import FastAPI, Request

from conveyor import ConfigurationError, Conveyor, Worker
from conveyor.fastapi import conveyor_lifespan

from .support import served


async def test_the_apps_own_lifespan_runs_inside_and_its_state_reaches_requests(
    conveyor: Conveyor,
) -> None:
    steps: list[str] = []

    @contextlib.asynccontextmanager
    async def own(api: FastAPI) -> AsyncIterator[Mapping[str, Any]]:
        steps.append("own startup")
        yield {"greeting": "hello"}
        steps.append("own shutdown")

    api = FastAPI(lifespan=conveyor_lifespan(conveyor, lifespan=own))

    @api.get("/")
    async def greet(request: Request) -> str:
        greeting: str = request.state.greeting
        return greeting

    async with served(api) as client:  # a real server: lifespan state reaches requests
        steps.append("serving")
        answer = (await client.get("/")).json()

    assert answer == "hello"
    assert steps == ["own startup", "serving", "own shutdown"]


def test_worker_options_without_a_worker_are_refused(conveyor: Conveyor) -> None:
    with pytest.raises(ConfigurationError, match="need worker=True"):
        conveyor_lifespan(conveyor, concurrency=5)


def test_a_worker_of_another_app_is_refused(conveyor: Conveyor) -> None:
    other = Conveyor("memory://")
    other.task(name="noop")(print)
    with pytest.raises(ConfigurationError, match="runs another app"):
        conveyor_lifespan(conveyor, worker=Worker(other))


def test_options_for_a_worker_given_ready_made_are_refused(conveyor: Conveyor) -> None:
    conveyor.task(name="noop")(print)
    with pytest.raises(ConfigurationError, match="pass concurrency and queues to your Worker"):
        conveyor_lifespan(conveyor, worker=Worker(conveyor), queues=["default"])
