"""`conveyor jobs list` shows jobs newest first, filtered by state, queue or task."""

from __future__ import annotations

import pytest

from .cli_support import Project, conveyor, row_of


@pytest.fixture
def jobs(project: Project) -> dict[str, str]:
    """One succeeded, one failed and one scheduled job, by name."""
    ids = {
        "succeeded": project.enqueue("add", 1, 2),
        "failed": project.enqueue("explode", "boom"),
    }
    project.work_off()
    ids["scheduled"] = project.enqueue("add", 5, delay=600)
    return ids


def test_list_shows_every_job_with_its_task_state_and_attempts(
    project: Project, jobs: dict[str, str]
) -> None:
    result = conveyor("jobs", "list", "--url", project.url)

    assert result.exit_code == 0, result.output
    succeeded = row_of(result.stdout, jobs["succeeded"])
    assert f"{project.module}.add" in succeeded
    assert "succeeded" in succeeded
    assert "1/4" in succeeded
    failed = row_of(result.stdout, jobs["failed"])
    assert "failed" in failed
    assert "RuntimeError: boom" in failed
    assert "1/1" in failed
    assert "scheduled" in row_of(result.stdout, jobs["scheduled"])
    order = [result.stdout.index(jobs[name]) for name in ("scheduled", "failed", "succeeded")]
    assert order == sorted(order), "the newest job comes first"


def test_list_filters_by_state(project: Project, jobs: dict[str, str]) -> None:
    result = conveyor("jobs", "list", "--app", project.app_path, "--state", "failed")

    assert result.exit_code == 0, result.output
    assert jobs["failed"] in result.stdout
    assert jobs["succeeded"] not in result.stdout
    assert jobs["scheduled"] not in result.stdout


def test_list_filters_by_task(project: Project, jobs: dict[str, str]) -> None:
    result = conveyor("jobs", "list", "--url", project.url, "--task", f"{project.module}.add")

    assert result.exit_code == 0, result.output
    assert jobs["succeeded"] in result.stdout
    assert jobs["scheduled"] in result.stdout
    assert jobs["failed"] not in result.stdout


def test_list_says_so_when_nothing_matches(project: Project, jobs: dict[str, str]) -> None:
    result = conveyor("jobs", "list", "--url", project.url, "--queue", "nobody")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "no jobs match"


def test_list_shows_whole_job_ids_in_an_80_column_terminal(
    project: Project, jobs: dict[str, str]
) -> None:
    result = conveyor("jobs", "list", "--url", project.url, columns=80)

    assert result.exit_code == 0, result.output
    for job_id in jobs.values():
        assert job_id in result.stdout, (
            f"id {job_id} was cut, so it cannot be copied:\n{result.stdout}"
        )
