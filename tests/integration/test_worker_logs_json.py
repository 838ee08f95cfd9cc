"""`conveyor worker --log-format json` writes one JSON object per line; lines about a job
carry its fields, the task's own lines included; `--log-jobs` adds a start and an end line
per job. The text format keeps the correlation id in brackets."""

from __future__ import annotations

import asyncio
import importlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.correlation import reset_correlation_id, set_correlation_id

APP_SOURCE = """\
import logging

from conveyor import Conveyor

app = Conveyor({url!r})
log = logging.getLogger("shop")


@app.task
async def greet(name: str) -> str:
    log.info("greeting %s", name)
    return name


@app.task
def greet_in_a_thread(name: str) -> str:
    log.info("greeting %s from a thread", name)
    return name


@app.task(retries=0)
async def explode() -> None:
    raise RuntimeError("boom")


@app.task(executor="process")
def crunch(n: int) -> int:
    log.warning("crunching %s in a child process", n)
    return n
"""

JOB_FIELDS = ("job_id", "task", "queue", "attempt", "correlation_id", "worker")


class Shop:
    """A project folder with an app module; jobs are enqueued with a request's id."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.module = f"log_app_{uuid.uuid4().hex[:12]}"
        (folder / f"{self.module}.py").write_text(
            APP_SOURCE.format(url=f"sqlite:///{folder}/jobs.db")
        )

    def enqueue(self, calls: list[tuple[str, tuple[Any, ...]]]) -> dict[str, str]:
        """Enqueue `(task, args)` calls under the correlation id req-7; job id -> task."""

        async def go() -> dict[str, str]:
            app: Conveyor = importlib.import_module(self.module).app
            token = set_correlation_id("req-7")
            try:
                ids = {}
                for task, args in calls:
                    handle = await app.tasks[f"{self.module}.{task}"].enqueue(*args)
                    ids[handle.id] = f"{self.module}.{task}"
                return ids
            finally:
                reset_correlation_id(token)
                await app.close()

        return asyncio.run(go())

    def work_off(self, *flags: str) -> tuple[int, str]:
        """Run `conveyor worker --burst FLAGS` in a process; its pid and its stderr."""
        process = subprocess.Popen(
            [sys.executable, "-m", "conveyor", "worker", f"{self.module}:app", "--burst", *flags],
            cwd=self.folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
        return process.pid, stderr


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    monkeypatch.syspath_prepend(str(tmp_path))
    project = Shop(tmp_path)
    try:
        yield project
    finally:
        sys.modules.pop(project.module, None)


def json_lines(stderr: str) -> list[dict[str, Any]]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "the worker logged nothing"
    parsed = []
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"a log line is not JSON: {line!r}\n{stderr}")
        assert isinstance(entry, dict), line
        parsed.append(entry)
    return parsed


CALLS: list[tuple[str, tuple[Any, ...]]] = [
    ("greet", ("ada",)),
    ("greet_in_a_thread", ("bob",)),
    ("explode", ()),
]


def test_json_lines_carry_the_jobs_fields_and_one_start_and_end_per_job(shop: Shop) -> None:
    jobs = shop.enqueue(CALLS)

    pid, stderr = shop.work_off("--log-format", "json", "--log-jobs")

    lines = json_lines(stderr)
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    about_jobs = [line for line in lines if line.get("job_id") is not None]
    assert {line["job_id"] for line in about_jobs} == set(jobs)
    for line in about_jobs:
        assert line["task"] == jobs[line["job_id"]], line
        assert (line["queue"], line["attempt"], line["correlation_id"]) == ("default", 1, "req-7")
        assert line["worker"].split(":")[1] == str(pid), "the worker's name has its pid"

    job_lines = [line for line in lines if line["logger"] == "conveyor.jobs"]
    starts = [line for line in job_lines if "outcome" not in line]
    ends = [line for line in job_lines if "outcome" in line]
    assert sorted(line["job_id"] for line in starts) == sorted(jobs)
    assert sorted(line["job_id"] for line in ends) == sorted(jobs)
    assert all(line["job_id"] is not None for line in job_lines)
    outcomes = {line["task"].rsplit(".", 1)[1]: line["outcome"] for line in ends}
    assert outcomes == {"greet": "succeeded", "greet_in_a_thread": "succeeded", "explode": "failed"}
    for line in ends:
        assert isinstance(line["duration_ms"], int | float)
        assert 0 <= line["duration_ms"] < 30_000
    [failed] = [line for line in ends if line["outcome"] == "failed"]
    assert failed["level"] == "WARNING"
    assert "RuntimeError: boom" in failed["message"]

    own = {line["message"]: line for line in lines if line["logger"] == "shop"}
    assert set(own) == {"greeting ada", "greeting bob from a thread"}
    for message, task in (
        ("greeting ada", "greet"),
        ("greeting bob from a thread", "greet_in_a_thread"),
    ):
        assert own[message]["task"] == f"{shop.module}.{task}"
        assert jobs[own[message]["job_id"]] == own[message]["task"]
        assert own[message]["correlation_id"] == "req-7"


def test_without_log_jobs_there_is_no_line_per_job_but_the_fields_stay(shop: Shop) -> None:
    jobs = shop.enqueue(CALLS)

    _, stderr = shop.work_off("--log-format", "json")

    lines = json_lines(stderr)
    assert [line for line in lines if line["logger"] == "conveyor.jobs"] == []
    assert not any("outcome" in line for line in lines)
    [own] = [line for line in lines if line["message"] == "greeting ada"]
    assert jobs[own["job_id"]] == own["task"] == f"{shop.module}.greet"
    [failure] = [line for line in lines if line["logger"] == "conveyor.worker" and line["job_id"]]
    assert jobs[failure["job_id"]] == f"{shop.module}.explode"
    assert failure["correlation_id"] == "req-7"
    worker_lines = [line for line in lines if "started: queues" in line["message"]]
    assert len(worker_lines) == 1
    assert worker_lines[0]["job_id"] is None


def test_the_text_format_shows_the_correlation_id_in_brackets(shop: Shop) -> None:
    shop.enqueue(CALLS)

    _, stderr = shop.work_off()

    [own] = [line for line in stderr.splitlines() if "greeting ada" in line]
    assert " INFO [req-7] shop: greeting ada" in own
    [started] = [line for line in stderr.splitlines() if "started: queues" in line]
    assert " [-] conveyor.worker: " in started
    assert not any(line.lstrip().startswith("{") for line in stderr.splitlines())
    assert " conveyor.jobs: " not in stderr, "no per-job lines without --log-jobs"


def test_log_jobs_in_the_text_format_adds_the_start_and_end_lines(shop: Shop) -> None:
    jobs = shop.enqueue(CALLS[:1])

    _, stderr = shop.work_off("--log-jobs")

    [job_id] = jobs
    lines = [line for line in stderr.splitlines() if " conveyor.jobs: " in line]
    assert len(lines) == 2
    assert all("[req-7]" in line and job_id in line for line in lines)
    assert lines[0].endswith("started")
    assert lines[1].endswith("succeeded")


def test_a_process_tasks_own_lines_are_json_with_the_jobs_fields(shop: Shop) -> None:
    jobs = shop.enqueue([("crunch", (3,))])

    _, stderr = shop.work_off("--log-format", "json")

    lines = json_lines(stderr)
    [own] = [line for line in lines if line["logger"] == "shop"]
    assert jobs[own["job_id"]] == own["task"]
