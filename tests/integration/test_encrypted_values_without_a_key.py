"""Where no encryption key is held (the CLI with a bare URL, the jobs router and the
dashboard of an app without keys), an encrypted value shows as "encrypted"; with the key,
as itself."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from conveyor import Context, Conveyor
from conveyor.dashboard.present import Presenter
from conveyor.fastapi import jobs_router
from conveyor.job import JobRecord
from conveyor.redact import Redactor

from .cli_support import conveyor
from .support import work_off

KEY = secrets.token_bytes(32)
SECRET = "account 4711"


async def render(name: str, ctx: Context = Context.INJECTED) -> dict[str, str]:
    await ctx.progress(0.5, f"rendering {name}")
    await ctx.save_checkpoint({"name": name})
    return {"rendered": name}


@pytest.fixture
async def finished(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """(store URL, job id) of a job an encrypting app ran to the end."""
    url = f"sqlite:///{tmp_path}/jobs.db"
    app = Conveyor(url, encryption_keys=[KEY])
    try:
        job = await app.task(name="render")(render).enqueue(SECRET)
        await work_off(app)
        yield url, job.id
    finally:
        await app.close()


def field(output: str, name: str) -> str:
    """The value cell of the row `name` in `conveyor jobs show`'s table."""
    [line] = [line for line in output.splitlines() if line.strip("│ ").startswith(name + " ")]
    return line.strip("│ ").removeprefix(name).strip(" │")


def test_the_cli_shows_encrypted_without_the_key(finished: tuple[str, str]) -> None:
    url, job_id = finished
    result = conveyor("jobs", "show", "--url", url, job_id)

    assert result.exit_code == 0, result.output
    assert field(result.stdout, "state") == "succeeded"
    assert field(result.stdout, "arguments") == "encrypted"
    assert field(result.stdout, "result") == "encrypted"
    assert field(result.stdout, "progress") == "50% encrypted"
    assert "4711" not in result.stdout


@pytest.mark.parametrize("keys", [None, [KEY]], ids=["no key", "the key"])
async def test_the_jobs_router_shows_encrypted_without_the_key(
    finished: tuple[str, str], keys: list[bytes] | None
) -> None:
    url, job_id = finished
    app = Conveyor(url, encryption_keys=keys)
    api = FastAPI()
    api.include_router(jobs_router(app))
    transport = httpx.ASGITransport(app=api)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            response = await client.get(f"/jobs/{job_id}")
    finally:
        await app.close()

    assert response.status_code == 200
    status = response.json()
    if keys is None:
        assert (status["result"], status["message"]) == ("encrypted", "encrypted")
    else:
        assert status["result"] == {"rendered": SECRET}
        assert status["message"] == f"rendering {SECRET}"


@pytest.mark.parametrize("keys", [None, [KEY]], ids=["no key", "the key"])
async def test_the_dashboard_shows_encrypted_without_the_key(
    finished: tuple[str, str], keys: list[bytes] | None
) -> None:
    url, job_id = finished
    app = Conveyor(url, encryption_keys=keys)
    try:
        stored: JobRecord | None = await (await app.connected()).get(job_id)
    finally:
        await app.close()
    assert stored is not None
    presenter = Presenter(app, Redactor())
    record = presenter.visible(stored)
    shown = [
        presenter.arguments(record).text,
        getattr(presenter.result(record), "text", None),
        getattr(presenter.checkpoint(record), "text", None),
        record.progress_message,
    ]

    if keys is None:
        assert shown == ["encrypted"] * 4
    else:
        assert SECRET in str(shown[0])
        assert shown[1:] == [
            f'{{\n  "rendered": "{SECRET}"\n}}',
            f'{{\n  "name": "{SECRET}"\n}}',
            f"rendering {SECRET}",
        ]
