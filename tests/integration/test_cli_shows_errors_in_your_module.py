"""An app module that fails to import gets one line: the user's file, line and error, not
conveyor's loader frames."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from .cli_support import Project, conveyor

BROKEN = [
    pytest.param(
        "from conveyor import Conveyor\nimport no_such_dependency\n",
        "line 2 (import no_such_dependency): ModuleNotFoundError: "
        "No module named 'no_such_dependency'",
        id="import-error",
    ),
    pytest.param(  # the missing module's name begins the app module's: still the user's
        "import broken\n",
        "line 1 (import broken): ModuleNotFoundError: No module named 'broken'",
        id="import-error-of-a-prefix",
    ),
    pytest.param(
        "from conveyor import Conveyor\napp = Conveyor('memory://')\ndef f(:\n    pass\n",
        "line 3 (def f(:): SyntaxError: invalid syntax",
        id="syntax-error",
    ),
    pytest.param(
        "def settings():\n    return {}['URL']\n\n\nURL = settings()\n",
        "line 2 (return {}['URL']): KeyError: 'URL'",
        id="error-at-import",
    ),
]


@pytest.mark.parametrize(("source", "said"), BROKEN)
@pytest.mark.parametrize("command", ["worker", "jobs list"])
def test_the_users_own_error_is_shown_in_one_line(
    project: Project, source: str, said: str, command: str
) -> None:
    module = f"broken_{uuid.uuid4().hex[:8]}"
    (project.folder / f"{module}.py").write_text(source)
    arguments = [f"{module}:app"] if command == "worker" else ["--app", f"{module}:app"]

    result = conveyor(*command.split(), *arguments)

    assert result.exit_code == 2
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert f"importing {module} failed at {module}.py, {said}" in line
    assert f"python -c 'import {module}' shows the whole traceback" in line
    assert "Traceback" not in result.output
    assert str(Path("conveyor", "loader.py")) not in result.output


def test_an_error_in_a_module_the_app_imports_names_that_module(project: Project) -> None:
    package = project.folder / f"pkg_{uuid.uuid4().hex[:8]}"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text("TIMEOUT = int('soon')\n")
    (package / "jobs.py").write_text("from . import settings\n")

    result = conveyor("worker", f"{package.name}.jobs:app")

    assert result.exit_code == 2
    where = Path(package.name, "settings.py")
    assert f"failed at {where}, line 1 (TIMEOUT = int('soon')): ValueError: " in result.stderr
    assert "Traceback" not in result.output
