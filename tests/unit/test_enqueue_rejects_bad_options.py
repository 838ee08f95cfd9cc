"""Bad options for one enqueue raise ConfigurationError saying what is wrong; nothing is stored."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from conveyor import ConfigurationError, Conveyor, Task

from .support import assert_nothing_stored

SOON = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)


async def ping(n: int) -> int:
    return n


@pytest.fixture
def ping_task(app: Conveyor) -> Task[..., Any]:
    return app.task(ping)


BAD_OPTIONS = [
    pytest.param({"delay": -1}, "delay must be >= 0", id="negative-delay"),
    pytest.param(
        {"delay": datetime.timedelta(seconds=-1)}, "delay must be >= 0", id="negative-timedelta"
    ),
    pytest.param({"delay": float("nan")}, "delay", id="nan-delay"),
    pytest.param({"eta": SOON.replace(tzinfo=None)}, "timezone-aware", id="naive-eta"),
    pytest.param({"eta": "tomorrow"}, "timezone-aware", id="eta-not-a-datetime"),
    pytest.param({"delay": 5, "eta": SOON}, "delay or eta, not both", id="delay-and-eta"),
    pytest.param({"job_id": ""}, "job_id must be a string", id="empty-job-id"),
    pytest.param({"job_id": "x" * 201}, "1 to 200 characters", id="long-job-id"),
    pytest.param({"queue": "no spaces"}, "queue must be", id="bad-queue-name"),
    pytest.param({"queue": ""}, "queue must be", id="empty-queue-name"),
    pytest.param({"bogus": 1}, "unknown option(s) ['bogus']", id="unknown-option"),
    pytest.param({"retries": -1}, "retries must be an int from 0", id="negative-retries"),
    pytest.param({"retries": 2.5}, "retries must be an int", id="float-retries"),
    pytest.param({"timeout": 0}, "timeout must be a positive number", id="zero-timeout"),
    pytest.param({"timeout": -3}, "timeout must be a positive number", id="negative-timeout"),
    pytest.param({"timeout": float("nan")}, "timeout", id="nan-timeout"),
    pytest.param({"priority": "high"}, "priority must be an int", id="str-priority"),
    pytest.param({"priority": 1001}, "priority must be an int from -1000", id="priority-too-high"),
    pytest.param({"priority": -1001}, "priority must be an int from -1000", id="priority-too-low"),
    pytest.param({"headers": {"attempt": 1}}, "headers", id="non-str-header-value"),
]


@pytest.mark.parametrize(("options", "problem"), BAD_OPTIONS)
async def test_bad_options_raise_configuration_error_and_store_nothing(
    app: Conveyor, ping_task: Task[..., Any], options: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        await ping_task.options(**options).enqueue(1)

    message = str(caught.value)
    assert problem in message
    assert f"{ping_task.name}.options()" in message, "the message names the task"
    await assert_nothing_stored(app)


async def test_options_are_checked_before_any_enqueue(ping_task: Task[..., Any]) -> None:
    with pytest.raises(ConfigurationError, match="delay must be >= 0"):
        ping_task.options(delay=-1)


async def test_the_unknown_option_error_lists_the_valid_options(
    ping_task: Task[..., Any],
) -> None:
    options: dict[str, Any] = {"countdown": 10}
    with pytest.raises(ConfigurationError) as caught:
        ping_task.options(**options)
    for valid in ("delay", "eta", "job_id", "priority", "queue", "retries", "timeout", "headers"):
        assert repr(valid) in str(caught.value)
