"""Bad task definitions raise ConfigurationError at decoration time and register nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from conveyor import ConfigurationError, Conveyor

if TYPE_CHECKING:
    from decimal import Decimal


def job(n: int) -> int:
    return n


def other_job(n: int) -> int:
    return -n


def job_with_a_type_known_only_to_the_type_checker(amount: Decimal) -> None:
    return None


def test_registering_the_same_function_twice_is_refused() -> None:
    app = Conveyor("memory://")
    app.task(job)

    with pytest.raises(ConfigurationError) as caught:
        app.task(job)

    message = str(caught.value)
    assert f"{__name__}.job" in message
    assert "already registered" in message
    assert "name=" in message, "the message says how to tell them apart"
    assert list(app.tasks) == [f"{__name__}.job"]


def test_two_tasks_given_the_same_name_are_refused() -> None:
    app = Conveyor("memory://")
    app.task(name="shared")(job)

    with pytest.raises(ConfigurationError, match="'shared' is already registered"):
        app.task(name="shared")(other_job)
    assert app.tasks["shared"].func is job


def test_a_function_defined_inside_a_function_is_refused() -> None:
    app = Conveyor("memory://")

    def local(n: int) -> int:
        return n

    with pytest.raises(ConfigurationError) as caught:
        app.task(local)

    message = str(caught.value)
    assert "local" in message
    assert "inside a function" in message
    assert "module level" in message, "the message gives the first fix"
    assert "name=" in message, "the message gives the second fix"
    assert app.tasks == {}


def test_a_local_function_with_an_explicit_name_is_accepted() -> None:
    app = Conveyor("memory://")

    def local(n: int) -> int:
        return n

    task = app.task(name="jobs.local")(local)
    assert app.tasks == {"jobs.local": task}


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        pytest.param(
            {"backoff": "fibonacci"}, "backoff must be 'constant', 'linear'", id="backoff"
        ),
        pytest.param({"backoff_base": -1.0}, "backoff_base must be >= 0", id="backoff-base"),
        pytest.param({"retries": -1}, "retries must be an int from 0 to 1000", id="retries"),
        pytest.param({"retries": 1001}, "retries must be an int from 0 to 1000", id="retries-max"),
        pytest.param({"timeout": 0}, "timeout must be a positive number", id="timeout"),
        pytest.param({"queue": "a queue"}, "queue must be 1 to 100 letters", id="queue"),
        pytest.param({"result_ttl": -1.0}, "result_ttl must be a finite number", id="result-ttl"),
        pytest.param(
            {"result_ttl": float("nan")}, "result_ttl must be a finite number", id="nan-result-ttl"
        ),
    ],
)
def test_bad_task_options_are_refused(options: dict[str, Any], problem: str) -> None:
    app = Conveyor("memory://")
    decorate: Callable[[Callable[[int], int]], object] = app.task(**options)

    with pytest.raises(ConfigurationError, match=re.escape(problem)):
        decorate(job)
    assert app.tasks == {}


def test_a_callable_backoff_is_accepted() -> None:
    app = Conveyor("memory://")
    task = app.task(backoff=lambda attempt: 0.1 * attempt)(job)
    assert app.tasks == {task.name: task}


def test_an_annotation_that_cannot_be_resolved_is_refused() -> None:
    app = Conveyor("memory://")

    with pytest.raises(ConfigurationError) as caught:
        app.task(job_with_a_type_known_only_to_the_type_checker)

    message = str(caught.value)
    assert "job_with_a_type_known_only_to_the_type_checker" in message
    assert "Decimal" in message
    assert app.tasks == {}
