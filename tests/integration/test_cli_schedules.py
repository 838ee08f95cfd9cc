"""`conveyor schedules`: each schedule with its next run and its latest tick's job."""

from __future__ import annotations

import asyncio
import importlib
import re

from conveyor import Conveyor
from conveyor.scheduler import Scheduler

from .cli_support import Project, conveyor, row_of

CRON_SOURCE = """\
from conveyor import Conveyor

app = Conveyor({url!r})


@app.cron("0 3 * * *", timezone="Europe/Paris", name="nightly")
def nightly_report() -> None: ...


@app.cron("0 * * * *", name="hourly")
async def heartbeat() -> None: ...
"""


def cron_project(project: Project) -> str:
    module = f"{project.module}_cron"
    (project.folder / f"{module}.py").write_text(CRON_SOURCE.format(url=project.url))
    return module


def test_schedules_lists_each_schedule_with_its_next_run(project: Project) -> None:
    module = cron_project(project)
    result = conveyor("schedules", "--app", f"{module}:app")
    assert result.exit_code == 0, result.output
    nightly = row_of(result.output, "nightly")
    assert "0 3 * * *" in nightly
    assert "Europe/Paris" in nightly
    assert f"{module}.nightly_report" in nightly
    assert re.search(r"\d{4}-\d\d-\d\d 03:00:00\+0[12]:00", nightly), nightly  # next run, local
    assert "not in the store" in nightly  # nothing enqueued its latest tick yet


def test_schedules_shows_the_state_of_the_latest_ticks_job(project: Project) -> None:
    module = cron_project(project)
    app: Conveyor = importlib.import_module(module).app

    async def one_round() -> None:
        try:
            backend = await app.connected()
            await Scheduler(app).enqueue_due(await backend.now())
        finally:
            await app.close()

    asyncio.run(one_round())
    result = conveyor("schedules", "--app", f"{module}:app")
    assert result.exit_code == 0, result.output
    # the hourly tick of the hour just begun was enqueued; its job waits for a worker
    assert "queued" in row_of(result.output, "hourly")


def test_schedules_says_so_when_the_app_has_none(project: Project) -> None:
    result = conveyor("schedules", "--app", project.app_path)
    assert result.exit_code == 0, result.output
    assert f"no schedules in {project.app_path}" in result.output


def test_schedules_needs_an_app_that_loads(project: Project) -> None:
    missing = conveyor("schedules")
    assert missing.exit_code == 2
    assert "give --app module:attribute" in missing.output
    wrong = conveyor("schedules", "--app", f"{project.module}:not_an_app")
    assert wrong.exit_code == 2
    assert "not_an_app" in wrong.output
    absent = conveyor("schedules", "--app", "no_such_module_here:app")
    assert absent.exit_code == 2
    assert "no_such_module_here" in absent.output
