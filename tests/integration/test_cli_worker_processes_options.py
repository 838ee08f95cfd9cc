"""`conveyor worker`'s options for several processes are checked at the call site, in one
line, before any process starts."""

from __future__ import annotations

import pytest

from .cli_support import Project, conveyor


@pytest.mark.parametrize("option", ["--max-jobs-per-child", "--max-memory-per-child"])
def test_a_per_child_limit_needs_processes(project: Project, option: str) -> None:
    result = conveyor("worker", project.app_path, option, "10")

    assert result.exit_code == 2
    assert f"{option} applies to the worker processes of --processes N" in result.stderr


def test_processes_refuses_a_broken_app_once(project: Project) -> None:
    result = conveyor("worker", f"{project.module}:nowhere", "--processes", "2")

    assert result.exit_code == 2
    assert "has no attribute 'nowhere'" in result.stderr
    assert "worker process" not in result.stderr  # none was started
