"""Ids follow one rule on every backend: 1 to 200 printable characters. A bad id fails the
call that gives it, with one line saying what an id may hold; nothing is stored."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from conveyor import ConfigurationError, Conveyor, Task, chain
from conveyor.backends.base import JobFilter
from conveyor.fastapi.jobs import PendingJobs

from .cli_support import Project, conveyor
from .support import work_off

BAD_IDS = [
    pytest.param("order\x0042", id="nul"),
    pytest.param("order\n42", id="newline"),
    pytest.param("order\x1b[31m42", id="escape"),
    pytest.param("order\u202842", id="line-separator"),
    pytest.param("", id="empty"),
    pytest.param("x" * 201, id="too-long"),
]
RULE = "all printable (no NUL, newline or other control character)"


async def greet(name: str) -> str:
    return f"hello {name}"


async def assert_nothing_stored(app: Conveyor) -> None:
    assert await (await app.connected()).list_jobs(JobFilter()) == []


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_a_bad_id_fails_every_call_that_gives_one(app: Conveyor, bad: str) -> None:
    task: Task[..., Any] = app.task(greet)
    by_rule: Task[..., Any] = app.task(name="by_rule", job_id="{name}")(greet)
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "enqueue options": lambda: task.options(job_id=bad).enqueue("ada"),
        "job_id rule": lambda: by_rule.enqueue(bad),
        # a workflow id leaves room for its steps' suffixes: at most 150 characters
        "workflow id": lambda: chain(task.s("ada")).enqueue(workflow_id=bad[:151]),
        "handle": lambda: app.job(bad).status(),
    }
    for where, call in calls.items():
        with pytest.raises(ConfigurationError) as caught:
            await call()
        assert RULE in str(caught.value), where
        assert "\n" not in str(caught.value), f"{where}: one line"

    with pytest.raises(ConfigurationError, match="job_id rule made"):
        PendingJobs().add(by_rule, bad)  # jobs.add in an endpoint
    await assert_nothing_stored(app)


async def test_a_printable_id_in_any_script_round_trips_on_every_backend(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(greet)
    job_id = "commande-42 ✓ 注文 <&> 'quoted' \"too\" " + "x" * 160

    handle = await task.options(job_id=job_id).enqueue("ada")
    await work_off(app)

    assert handle.id == job_id
    assert await app.job(job_id).result(timeout=5) == "hello ada"


@pytest.mark.parametrize("command", ["show", "retry", "cancel"])
def test_the_cli_refuses_a_bad_id_before_it_opens_the_store(project: Project, command: str) -> None:
    result = conveyor("jobs", command, "--url", project.url, "order\x0042")

    assert result.exit_code == 2
    assert (
        f"Invalid value for JOB_ID: a job id must be a string of 1 to 200 characters, {RULE}"
        in (result.stderr)
    )
    assert "Traceback" not in result.output


def test_the_cli_refuses_a_bad_job_id_option_of_enqueue(project: Project) -> None:
    result = conveyor("enqueue", project.app_path, "add", "--args", "[1]", "--job-id", "a\x00b")

    assert result.exit_code == 1
    assert f"job_id must be a string of 1 to 200 characters, {RULE}" in result.stderr
    assert project.jobs() == []
