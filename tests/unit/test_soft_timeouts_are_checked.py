"""A soft timeout is checked where it is given: on the task, or for one enqueue."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conveyor import ConfigurationError, Context, Conveyor, Task


async def job() -> None:
    return None


def sync_job() -> None:
    return None


def sync_job_with_context(ctx: Context) -> None:
    return None


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"soft_timeout": 0}, "soft_timeout must be a positive number of seconds or None, got 0"),
        ({"soft_timeout": -1.5}, "soft_timeout must be a positive number of seconds"),
        ({"soft_timeout": "25"}, "soft_timeout must be a positive number of seconds"),
        ({"soft_timeout": True}, "soft_timeout must be a positive number of seconds"),
        ({"soft_timeout": float("inf")}, "soft_timeout must be a positive number of seconds"),
        (
            {"timeout": 25, "soft_timeout": 25},
            "soft_timeout (25 s) must be shorter than timeout (25 s)",
        ),
        (
            {"timeout": 10, "soft_timeout": 30},
            "soft_timeout (30 s) must be shorter than timeout (10 s)",
        ),
    ],
)
def test_a_bad_soft_timeout_on_a_task_is_refused(options: dict[str, Any], complaint: str) -> None:
    app = Conveyor("memory://")

    with pytest.raises(ConfigurationError, match=re.escape(complaint)) as caught:
        app.task(**options)(job)

    assert "\n" not in str(caught.value)
    assert f"task '{__name__}.job'" in str(caught.value)
    assert app.tasks == {}


def test_a_sync_task_in_a_thread_needs_a_context_to_be_told() -> None:
    app = Conveyor("memory://")

    with pytest.raises(ConfigurationError, match="give it a parameter annotated Context"):
        app.task(timeout=30, soft_timeout=25)(sync_job)

    app.task(timeout=30, soft_timeout=25)(sync_job_with_context)
    app.task(timeout=30, soft_timeout=25, executor="process", name="in_a_child")(sync_job)


def test_a_soft_timeout_without_a_timeout_is_allowed() -> None:
    app = Conveyor("memory://")

    task: Task[..., Any] = app.task(soft_timeout=25)(job)

    assert (task.config.timeout, task.config.soft_timeout) == (None, 25)


def test_an_enqueue_option_is_checked_against_the_tasks_timeout() -> None:
    app = Conveyor("memory://")
    task: Task[..., Any] = app.task(timeout=30, soft_timeout=25)(job)

    with pytest.raises(ConfigurationError, match=re.escape("soft_timeout (40 s) must be shorter")):
        task.options(soft_timeout=40)
    with pytest.raises(ConfigurationError, match=re.escape("than timeout (20 s)")):
        task.options(timeout=20)  # shorter than the task's soft timeout: give both

    assert task.options(timeout=20, soft_timeout=15).s().record.timeout == 20
    assert task.options(timeout=None).s().record.timeout is None


def test_a_soft_timeout_travels_with_its_job_and_only_then() -> None:
    app = Conveyor("memory://")
    plain: Task[..., Any] = app.task(timeout=30)(job)
    soft: Task[..., Any] = app.task(soft_timeout=25)(sync_job_with_context)

    assert plain.s().record.headers == {}, "no soft timeout: nothing added to the job"
    assert soft.s().record.headers == {"soft_timeout": "25.0"}
    assert plain.options(soft_timeout=0.5).s().record.headers == {"soft_timeout": "0.5"}
    assert soft.options(soft_timeout=None).s().record.headers == {}
