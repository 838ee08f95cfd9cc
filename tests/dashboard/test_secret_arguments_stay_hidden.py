"""A job page shows no secret argument: not its value, not inside its error or traceback,
whether or not the dashboard's app knows the task."""

from __future__ import annotations

import asyncio
import html
from pathlib import Path

import pytest
from pydantic import SecretStr

from conveyor import Conveyor, Worker

from .support import client

PASSWORD = "hunter2-correct-horse"
TOKEN = "tok-5up3r-s3cr3t"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/jobs.db"


async def log_in(user: str, password: SecretStr) -> None:
    raise PermissionError(f"{user} may not log in with {password.get_secret_value()}")


async def call_api(url: str, token: str) -> None:
    raise ConnectionError(f"{url} refused token {token}")


async def failed_jobs(url: str) -> list[str]:
    worker_app = Conveyor(url)
    try:
        secret = worker_app.task(name="log_in", retries=0)(log_in)
        marked = worker_app.task(name="call_api", retries=0, secret_args=["token"])(call_api)
        handles = [
            await secret.enqueue("ada", SecretStr(PASSWORD)),
            await marked.enqueue("https://api.example", TOKEN),
        ]
        async with asyncio.timeout(10):
            await Worker(worker_app, burst=True).run()
        return [handle.id for handle in handles]
    finally:
        await worker_app.close()


@pytest.mark.parametrize("known", [True, False], ids=["task known", "task unknown"])
async def test_a_job_page_shows_no_secret_argument(url: str, known: bool) -> None:
    job_ids = await failed_jobs(url)
    app = Conveyor(url)
    if known:
        app.task(name="log_in")(log_in)
        app.task(name="call_api", secret_args=["token"])(call_api)
    try:
        async with client(app) as http:
            pages = [html.unescape((await http.get(f"/jobs/{job_id}")).text) for job_id in job_ids]
    finally:
        await app.close()

    for page in pages:
        assert "Traceback" in page, "the page shows the error"
        assert "[redacted]" in page
        assert PASSWORD not in page
        assert TOKEN not in page
    assert "https://api.example" in pages[1], "the other arguments are shown"
