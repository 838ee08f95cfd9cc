"""Every action leaves a line on `conveyor.dashboard.audit`: who, what, which jobs, when."""

from __future__ import annotations

import logging

import pytest

from conveyor import Conveyor

from .support import Seeded, client, csrf_token, post


async def test_actions_are_logged_with_who_what_and_which_jobs(
    app: Conveyor, seeded: Seeded, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="conveyor.dashboard.audit")
    async with client(app) as http:
        token = await csrf_token(http)
        await post(http, "/actions/retry", {"job": seeded.failed}, token)
        await post(http, "/actions/cancel", {"job": [seeded.queued, seeded.scheduled]}, token)
        await post(http, "/actions/pause", {"queue": "emails"}, token)
        await post(http, "/actions/run", {"schedule": "nightly-cleanup"}, token)
    lines = [r for r in caplog.records if r.name == "conveyor.dashboard.audit"]
    assert [vars(r)["action"] for r in lines] == ["retry", "cancel", "pause", "run"]
    assert all(vars(r)["user"] == "ops" and vars(r)["role"] == "operator" for r in lines)
    assert vars(lines[0])["job_ids"] == [seeded.failed]
    assert vars(lines[1])["job_ids"] == [seeded.queued, seeded.scheduled]
    assert vars(lines[2])["queue"] == "emails"
    assert seeded.failed in lines[0].getMessage()
    assert "ops (operator)" in lines[0].getMessage()
    assert all(vars(r)["at"].endswith("+00:00") for r in lines)


async def test_a_refused_action_is_logged_too(
    app: Conveyor, seeded: Seeded, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="conveyor.dashboard.audit")
    async with client(app) as http:
        await http.get("/jobs")
        await http.post("/actions/retry", data={"job": seeded.failed})
    refused = [r for r in caplog.records if r.name == "conveyor.dashboard.audit"]
    assert len(refused) == 1
    assert refused[0].levelno == logging.WARNING
    assert "refused" in refused[0].getMessage()
    assert "/actions/retry" in refused[0].getMessage()
