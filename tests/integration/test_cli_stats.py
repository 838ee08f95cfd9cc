"""`conveyor stats` prints the number of jobs per queue and state."""

from __future__ import annotations

from conveyor import JobState

from .cli_support import Project, conveyor


def test_stats_counts_jobs_per_queue_and_state(project: Project) -> None:
    project.enqueue("add", 1)
    project.enqueue("explode", "boom")
    project.work_off()
    project.enqueue("add", 2)
    project.enqueue("add", 3, delay=600)

    result = conveyor("stats", "--url", project.url)

    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "queue" in line)
    columns = [cell.strip() for cell in header.strip("┃ ").split("┃")]
    assert columns == ["queue", *(state.value for state in JobState), "total"]
    row = next(line for line in result.stdout.splitlines() if "default" in line)
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    # scheduled, queued, active, succeeded, failed, cancelled, total
    assert cells == ["default", "1", "1", "0", "1", "1", "0", "4"]


def test_stats_of_an_empty_store_says_so(project: Project) -> None:
    project.create_store()

    result = conveyor("stats", "--app", project.app_path)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "no jobs"
