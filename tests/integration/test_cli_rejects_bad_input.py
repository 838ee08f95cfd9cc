"""The CLI refuses bad input with a non-zero exit and a message that says what to fix;
nothing is stored."""

from __future__ import annotations

import pytest

from .cli_support import Project, conveyor


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        pytest.param("--args", "[1,", "Invalid value for --args: not valid JSON", id="args-json"),
        pytest.param("--args", '{"a": 1}', "--args: must be a JSON list", id="args-not-list"),
        pytest.param("--args", "1", "--args: must be a JSON list", id="args-number"),
        pytest.param("--kwargs", "{a: 1}", "--kwargs: not valid JSON", id="kwargs-json"),
        pytest.param("--kwargs", "[1]", "--kwargs: must be a JSON dict", id="kwargs-not-dict"),
    ],
)
def test_bad_json_arguments_are_a_usage_error(
    project: Project, option: str, value: str, problem: str
) -> None:
    result = conveyor("enqueue", project.app_path, "add", option, value)

    assert result.exit_code == 2
    assert problem in result.stderr
    assert project.jobs() == []


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        pytest.param(["--args", "[1, 2, 3]"], "too many positional arguments", id="too-many"),
        pytest.param(["--kwargs", '{"c": 1}'], "missing a required argument: 'a'", id="missing"),
        pytest.param(["--args", '["x"]'], "a: Input should be a valid integer", id="wrong-type"),
        pytest.param(["--args", "[1]", "--queue", "a b"], "queue must be", id="bad-queue"),
    ],
)
def test_arguments_or_options_that_do_not_fit_the_task_fail_with_the_reason(
    project: Project, arguments: list[str], problem: str
) -> None:
    result = conveyor("enqueue", project.app_path, "add", *arguments)

    assert result.exit_code == 1
    assert problem in result.stderr
    assert "Traceback" not in result.output
    assert project.jobs() == []


def test_an_unknown_task_is_a_usage_error_listing_the_known_ones(project: Project) -> None:
    result = conveyor("enqueue", project.app_path, "subtract")

    assert result.exit_code == 2
    assert "no task 'subtract'" in result.stderr
    assert f"{project.module}.add" in result.stderr
    assert f"{project.module}.explode" in result.stderr
    assert project.jobs() == []


@pytest.mark.parametrize(
    ("app_path", "problem"),
    [
        pytest.param("no_such_module:app", "no module named 'no_such_module'", id="no-module"),
        pytest.param("{module}:missing", "has no attribute 'missing'", id="no-attribute"),
        pytest.param("{module}:not_an_app", "not a Conveyor app", id="not-a-conveyor"),
        pytest.param("not a path", "is not an app path", id="not-a-path"),
    ],
)
@pytest.mark.parametrize("command", ["enqueue", "worker"])
def test_a_bad_app_path_is_a_usage_error(
    project: Project, app_path: str, problem: str, command: str
) -> None:
    arguments = [app_path.format(module=project.module)]
    if command == "enqueue":
        arguments.append("add")

    result = conveyor(command, *arguments)

    assert result.exit_code == 2
    assert "Invalid value for APP" in result.stderr
    assert problem in result.stderr
    assert "Traceback" not in result.output
