"""`conveyor jobs retry|cancel|purge` change jobs and say what they did."""

from __future__ import annotations

from conveyor import JobState

from .cli_support import Project, conveyor


def test_retry_queues_a_failed_job_again_with_a_fresh_attempt_count(project: Project) -> None:
    job_id = project.enqueue("explode", "boom")
    project.work_off()

    result = conveyor("jobs", "retry", "--url", project.url, job_id)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{job_id} queued again"
    job = project.job(job_id)
    assert (job.state, job.attempts, job.error) == (JobState.QUEUED, 0, None)


def test_retry_of_a_succeeded_job_is_refused(project: Project) -> None:
    job_id = project.enqueue("add", 1)
    project.work_off()

    result = conveyor("jobs", "retry", "--url", project.url, job_id)

    assert result.exit_code == 1
    assert f"job {job_id} has succeeded: only failed" in result.stderr
    assert "only failed or cancelled jobs can be retried" in result.stderr
    assert project.job(job_id).state is JobState.SUCCEEDED


def test_retry_of_an_unknown_job_fails(project: Project) -> None:
    project.create_store()

    result = conveyor("jobs", "retry", "--url", project.url, "nope")

    assert result.exit_code == 1
    assert "no job with id 'nope'" in result.stderr


def test_cancel_cancels_a_queued_job(project: Project) -> None:
    job_id = project.enqueue("add", 1)

    result = conveyor("jobs", "cancel", "--app", project.app_path, job_id)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{job_id} is cancelled"
    assert project.job(job_id).state is JobState.CANCELLED


def test_cancel_of_a_job_that_ended_says_so_and_changes_nothing(project: Project) -> None:
    job_id = project.enqueue("add", 1)
    project.work_off()

    result = conveyor("jobs", "cancel", "--url", project.url, job_id)

    assert result.exit_code == 1
    assert f"job {job_id} has succeeded: only a job that has not ended can be cancelled" in (
        result.stderr
    )
    assert project.job(job_id).state is JobState.SUCCEEDED


def test_cancel_of_an_unknown_job_fails(project: Project) -> None:
    project.create_store()

    result = conveyor("jobs", "cancel", "--url", project.url, "nope")

    assert result.exit_code == 1
    assert "no job with id 'nope'" in result.stderr


def test_purge_deletes_only_the_finished_jobs_in_the_states_named(project: Project) -> None:
    succeeded = project.enqueue("add", 1)
    failed = project.enqueue("explode", "boom")
    project.work_off()
    queued = project.enqueue("add", 2)

    result = conveyor("jobs", "purge", "--url", project.url, "--state", "succeeded")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "purged 1 job"
    assert {job.id for job in project.jobs()} == {failed, queued}
    assert succeeded not in {job.id for job in project.jobs()}


def test_purge_needs_a_state_and_accepts_only_finished_ones(project: Project) -> None:
    project.enqueue("add", 1)

    missing = conveyor("jobs", "purge", "--url", project.url)
    unfinished = conveyor("jobs", "purge", "--url", project.url, "--state", "queued")

    assert missing.exit_code == 2
    assert "Missing option '--state'" in missing.stderr
    assert unfinished.exit_code == 2
    assert "'queued' is not one of" in unfinished.stderr
    assert len(project.jobs()) == 1
