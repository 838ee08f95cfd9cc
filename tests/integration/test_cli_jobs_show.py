"""`conveyor jobs show ID` prints everything about one job."""

from __future__ import annotations

from .cli_support import Project, conveyor


def _field(output: str, name: str) -> str:
    """The value cell of the row `name` in the show table."""
    [line] = [line for line in output.splitlines() if line.strip("│ ").startswith(name + " ")]
    return line.strip("│ ").removeprefix(name).strip(" │")


def test_show_prints_a_succeeded_jobs_arguments_and_result(project: Project) -> None:
    job_id = project.enqueue("add", 1, 2)
    project.work_off()

    result = conveyor("jobs", "show", "--url", project.url, job_id)

    assert result.exit_code == 0, result.output
    assert _field(result.stdout, "id") == job_id
    assert _field(result.stdout, "task") == f"{project.module}.add"
    assert _field(result.stdout, "state") == "succeeded"
    assert _field(result.stdout, "attempts") == "1/4"
    assert _field(result.stdout, "arguments") == '{"a":1,"b":2}'
    assert _field(result.stdout, "result") == "3"


def test_show_prints_a_failed_jobs_error_and_traceback(project: Project) -> None:
    job_id = project.enqueue("explode", "kaboom")
    project.work_off()

    result = conveyor("jobs", "show", "--app", project.app_path, job_id)

    assert result.exit_code == 0, result.output
    assert _field(result.stdout, "state") == "failed"
    assert _field(result.stdout, "error") == "RuntimeError: kaboom (exception)"
    assert "Traceback (most recent call last):" in result.stdout
    assert "raise RuntimeError(reason)" in result.stdout


def test_show_of_an_unknown_id_fails(project: Project) -> None:
    project.create_store()

    result = conveyor("jobs", "show", "--url", project.url, "no-such-job")

    assert result.exit_code == 1
    assert "no job with id 'no-such-job'" in result.stderr


def test_show_prints_the_limits_a_job_waits_on(project: Project) -> None:
    job_id = project.enqueue("sync", "acme")

    result = conveyor("jobs", "show", "--url", project.url, job_id)

    assert result.exit_code == 0, result.output
    sync = f"{project.module}.sync"
    assert _field(result.stdout, "concurrency") == f"at most 2 running with key {sync}:acme"
    assert _field(result.stdout, "rate") == f"100 per 60 s (bucket {sync})"
