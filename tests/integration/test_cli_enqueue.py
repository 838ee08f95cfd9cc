"""`conveyor enqueue APP TASK` stores a job from JSON arguments and prints its id."""

from __future__ import annotations

import json

import pytest

from conveyor import JobState

from .cli_support import Project, conveyor


def test_enqueue_prints_the_id_of_a_stored_job(project: Project) -> None:
    result = conveyor("enqueue", project.app_path, "add", "--args", "[1, 2]")

    assert result.exit_code == 0, result.output
    job_id = result.stdout.strip()
    job = project.job(job_id)
    assert job.task == f"{project.module}.add"
    assert job.state is JobState.QUEUED
    assert json.loads(job.payload) == {"a": 1, "b": 2}


@pytest.mark.parametrize("name", ["add", "{module}.add"])
def test_a_task_is_found_by_short_or_full_name(project: Project, name: str) -> None:
    result = conveyor(
        "enqueue", project.app_path, name.format(module=project.module), "--args", "[1]"
    )

    assert result.exit_code == 0, result.output
    assert project.job(result.stdout.strip()).task == f"{project.module}.add"


def test_keyword_arguments_and_options_are_applied(project: Project) -> None:
    result = conveyor(
        "enqueue",
        project.app_path,
        "add",
        "--kwargs",
        '{"a": 5, "b": 6}',
        "--queue",
        "urgent",
        "--priority",
        "7",
        "--delay",
        "60",
    )

    assert result.exit_code == 0, result.output
    job = project.job(result.stdout.strip())
    assert json.loads(job.payload) == {"a": 5, "b": 6}
    assert (job.queue, job.priority, job.state) == ("urgent", 7, JobState.SCHEDULED)
    assert job.due_at == pytest.approx(job.enqueued_at + 60, abs=0.01)


def test_json_arguments_are_read_by_the_tasks_annotations(project: Project) -> None:
    result = conveyor("enqueue", project.app_path, "add", "--args", '["40", 2]')

    assert result.exit_code == 0, result.output
    assert json.loads(project.job(result.stdout.strip()).payload) == {"a": 40, "b": 2}


def test_a_job_id_makes_the_command_idempotent(project: Project) -> None:
    first = conveyor("enqueue", project.app_path, "add", "--args", "[1]", "--job-id", "nightly")
    second = conveyor("enqueue", project.app_path, "add", "--args", "[2]", "--job-id", "nightly")

    assert (first.exit_code, second.exit_code) == (0, 0)
    assert first.stdout.strip() == "nightly"
    assert second.stdout.strip() == "nightly (already existed)"
    assert [job.id for job in project.jobs()] == ["nightly"]
    assert json.loads(project.job("nightly").payload) == {"a": 1}
