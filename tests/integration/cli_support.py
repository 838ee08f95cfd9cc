"""Helpers of the CLI tests: a throwaway project holding an app module, and a runner."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
from pathlib import Path

from click.testing import CliRunner, Result

from conveyor import Conveyor, JobHandle, Worker
from conveyor.backends.base import JobFilter
from conveyor.cli import main
from conveyor.job import JobRecord

APP_SOURCE = '''\
"""A user's app, as the CLI finds it by module:attribute."""

from conveyor import Conveyor

app = Conveyor({url!r})


@app.task
async def add(a: int, b: int = 1) -> int:
    return a + b


@app.task(retries=0)
def explode(reason: str) -> None:
    raise RuntimeError(reason)


@app.task(concurrency=2, concurrency_key=lambda tenant: tenant, rate_limit="100/m")
async def sync(tenant: str) -> None:
    return None


not_an_app = 42
'''

WIDE = 250  # columns: wide enough that no table cell is cut


@dataclasses.dataclass(frozen=True)
class Project:
    """A folder with one app module in it; the tests run the CLI from that folder."""

    folder: Path
    module: str
    url: str

    @property
    def app_path(self) -> str:
        return f"{self.module}:app"

    def app(self) -> Conveyor:
        app: Conveyor = importlib.import_module(self.module).app
        return app

    def enqueue(self, task: str, *args: object, delay: float = 0) -> str:
        """Enqueue with the project's own app (as the user's code would); return the id."""

        async def go() -> str:
            app = self.app()
            try:
                handle: JobHandle[object] = (
                    await app.tasks[f"{self.module}.{task}"].options(delay=delay).enqueue(*args)
                )
                return handle.id
            finally:
                await app.close()

        return asyncio.run(go())

    def create_store(self) -> None:
        """Open the project's store, as a worker or an enqueue would: it exists, empty."""

        async def go() -> None:
            app = Conveyor(self.url)
            try:
                await app.connected()
            finally:
                await app.close()

        asyncio.run(go())

    def work_off(self) -> None:
        """Run a burst worker in this process over the project's jobs."""

        async def go() -> None:
            app = self.app()
            try:
                async with asyncio.timeout(10):
                    await Worker(app, burst=True).run()
            finally:
                await app.close()

        asyncio.run(go())

    def jobs(self) -> list[JobRecord]:
        """Every job in the project's store, newest first."""

        async def go() -> list[JobRecord]:
            app = Conveyor(self.url)
            try:
                return await (await app.connected()).list_jobs(JobFilter(limit=1000))
            finally:
                await app.close()

        return asyncio.run(go())

    def job(self, job_id: str) -> JobRecord:
        [record] = [job for job in self.jobs() if job.id == job_id]
        return record


def conveyor(*args: str, columns: int = WIDE) -> Result:
    """Run `conveyor ARGS...` in this process and return what it printed and its exit code."""
    return CliRunner().invoke(main, list(args), env={"COLUMNS": str(columns)})


def row_of(output: str, job_id: str) -> str:
    """The line of a table that shows `job_id`."""
    lines = [line for line in output.splitlines() if job_id in line]
    assert len(lines) == 1, f"{job_id} is not on exactly one line of:\n{output}"
    return lines[0]
