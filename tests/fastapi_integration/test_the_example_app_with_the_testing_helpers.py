"""The example app's endpoints tested as its authors would, with conveyor's pytest plugin:
the jobs a request adds are asserted, then drained in the test's loop (httpx), or run at
once while FastAPI's TestClient serves the request (eager)."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from fastapi import FastAPI

from conveyor import Conveyor, JobState
from conveyor.testing import IsolatedApp, assert_enqueued, assert_not_enqueued

with warnings.catch_warnings():  # Starlette steers TestClient users to another HTTP client
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]


def example(monkeypatch: pytest.MonkeyPatch, module: str) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT))  # the examples live outside the package
    return importlib.import_module(f"examples.webapp.{module}")


@pytest.fixture
def conveyor_app(monkeypatch: pytest.MonkeyPatch) -> Conveyor:
    """The plugin's fixtures test the example's app (overriding the plugin's own)."""
    app: Conveyor = example(monkeypatch, "tasks").conveyor
    return app


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, conveyor_jobs: IsolatedApp) -> FastAPI:
    web: FastAPI = example(monkeypatch, "api").api
    return web


@pytest.fixture
async def client(api: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=api)
    async with (
        api.router.lifespan_context(api),
        httpx.AsyncClient(transport=transport, base_url="http://api") as client,
    ):
        yield client


async def test_a_signup_adds_a_welcome_email_that_a_retry_delivers(
    client: httpx.AsyncClient, conveyor_jobs: IsolatedApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = example(monkeypatch, "tasks")

    answer = await client.post("/signup", json={"email": "ada@flaky.example"})

    assert answer.status_code == 202, answer.text
    job = assert_enqueued(tasks.send_welcome_email, "ada@flaky.example")
    assert job.id == answer.json()["job_id"]
    assert job.headers["correlation_id"] == answer.headers["x-request-id"]
    [ran] = await conveyor_jobs.drain()
    assert (ran.state, ran.attempts) == (JobState.SUCCEEDED, 2)  # the mail server was busy
    assert ran.result == {"to": "ada@flaky.example", "delivered_on_attempt": 2}
    status = await client.get(f"/jobs/{job.id}")
    assert status.json()["state"] == "succeeded"


async def test_a_refused_signup_adds_no_job(
    client: httpx.AsyncClient, conveyor_jobs: IsolatedApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = example(monkeypatch, "tasks")
    first = await client.post("/signup", json={"email": "bob@example.com"})
    assert first.status_code == 202

    again = await client.post("/signup", json={"email": "bob@example.com"})

    assert again.status_code == 409
    [job] = conveyor_jobs.enqueued(tasks.send_welcome_email)  # the first request's only
    assert job.id == first.json()["job_id"]


def test_a_webhook_to_a_dead_receiver_is_dead_lettered_during_the_request(
    api: FastAPI, conveyor_jobs: IsolatedApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = example(monkeypatch, "tasks")
    with TestClient(api) as client, conveyor_jobs.eager(propagate=False):
        answer = client.post("/webhooks", json={"url": "https://hooks.down.example/x"})
        status = client.get(f"/jobs/{answer.json()['job_id']}").json()

    assert answer.status_code == 202
    assert (status["state"], status["attempts"]) == ("failed", 4)
    assert status["error"]["message"].endswith("answered 503 Service Unavailable")
    assert_not_enqueued(tasks.build_report)
