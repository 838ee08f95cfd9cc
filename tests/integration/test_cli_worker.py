"""`conveyor worker APP --burst` works off the queued jobs and exits."""

from __future__ import annotations

import subprocess
import sys

from conveyor import JobState

from .cli_support import Project


def test_a_burst_worker_process_runs_every_queued_job_then_exits(project: Project) -> None:
    added = [project.enqueue("add", n, 10) for n in range(3)]
    exploded = project.enqueue("explode", "boom")

    done = subprocess.run(
        [sys.executable, "-m", "conveyor", "worker", project.app_path, "--burst"],
        cwd=project.folder,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert [project.job(job_id).state for job_id in added] == [JobState.SUCCEEDED] * 3
    assert [project.job(job_id).result for job_id in added] == [b"10", b"11", b"12"]
    assert project.job(exploded).state is JobState.FAILED
    assert "stopped after 4 jobs" in done.stderr
    assert f"job {exploded} ({project.module}.explode) failed after 1 attempt: " in done.stderr
