"""A bad schedule fails where it is written, with a message that says what to change."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from conveyor import ArgumentError, ConfigurationError, Conveyor, Task
from conveyor.scheduler import TICK_HEADER


def cleanup(older_than: int = 30) -> int:
    return older_than


async def ping() -> None: ...


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 * * * *", "Bad minute"),
        ("* * *", "not a cron expression"),
        ("every day", "not a cron expression"),
        ("*/0 * * * *", "Bad minute"),
        ("0 0 31 4 *", "Bad day-of-month"),
        ("0 0 * * * * *", "not a cron expression"),
    ],
)
def test_a_bad_expression_is_refused_at_decoration(expression: str, message: str) -> None:
    app = Conveyor("memory://")
    with pytest.raises(ConfigurationError, match=message):
        app.cron(expression)
    assert not app.schedules
    assert not app.tasks


@pytest.mark.parametrize("timezone", ["Mars/Olympus", "", "../etc/passwd"])
def test_an_unknown_timezone_is_refused_at_decoration(timezone: str) -> None:
    app = Conveyor("memory://")
    with pytest.raises(ConfigurationError, match="unknown timezone"):
        app.cron("0 3 * * *", timezone=timezone)


def test_an_unknown_missed_policy_or_option_is_refused() -> None:
    app = Conveyor("memory://")
    with pytest.raises(ConfigurationError, match="missed must be one of"):
        app.cron("0 3 * * *", missed="all")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"unknown option\(s\) \['delay'\]"):
        app.cron("0 3 * * *", delay=5)  # type: ignore[call-arg]


def test_arguments_that_do_not_fit_leave_nothing_registered() -> None:
    app = Conveyor("memory://")
    with pytest.raises(ArgumentError, match="older_than"):
        app.cron("0 3 * * *", kwargs={"newer_than": 1})(cleanup)
    assert not app.tasks
    assert not app.schedules


def test_a_task_that_forgets_its_jobs_too_soon_cannot_be_scheduled() -> None:
    app = Conveyor("memory://")
    brief = app.task(result_ttl=5)(cleanup)
    with pytest.raises(ConfigurationError, match="result_ttl >= 60"):
        app.cron("0 3 * * *")(brief)
    assert app.tasks == {brief.name: brief}
    assert not app.schedules


def test_a_schedule_name_is_unique_and_removal_of_an_unknown_one_fails() -> None:
    app = Conveyor("memory://")
    task = app.task(cleanup)
    app.add_schedule("nightly", "0 3 * * *", task.s())
    with pytest.raises(ConfigurationError, match="exists already"):
        app.add_schedule("nightly", "0 4 * * *", task.s())
    with pytest.raises(ConfigurationError, match="no schedule named 'weekly'; known: nightly"):
        app.remove_schedule("weekly")
    with pytest.raises(ConfigurationError, match="schedule name"):
        app.add_schedule("night ly", "0 3 * * *", task.s())
    with pytest.raises(ConfigurationError, match=r"task\.s\(\.\.\.\)"):
        app.add_schedule("other", "0 3 * * *", task)  # type: ignore[arg-type]
    assert app.remove_schedule("nightly").expression == "0 3 * * *"
    assert not app.schedules


def test_a_task_of_another_app_cannot_be_scheduled() -> None:
    app, other = Conveyor("memory://"), Conveyor("memory://")
    task = other.task(cleanup)
    with pytest.raises(ConfigurationError, match="another Conveyor app"):
        app.add_schedule("nightly", "0 3 * * *", task.s())
    with pytest.raises(ConfigurationError, match="another Conveyor app"):
        app.cron("0 3 * * *")(task)


def test_cron_registers_a_plain_function_or_schedules_an_existing_task() -> None:
    app = Conveyor("memory://")
    pinged = app.cron("*/5 * * * *", timezone="Europe/Paris")(ping)
    assert isinstance(pinged, Task)
    assert app.tasks[pinged.name] is pinged
    tidy = app.task(cleanup)
    assert (
        app.cron("0 3 * * *", name="tidy-week", kwargs={"older_than": 7}, queue="low")(tidy) is tidy
    )
    assert app.cron("0 4 * * *", name="tidy-month", args=[30], priority=5)(tidy) is tidy

    first = app.schedules[pinged.name]
    assert (first.expression, str(first.timezone), first.missed) == (
        "*/5 * * * *",
        "Europe/Paris",
        "once",
    )
    week, month = app.schedules["tidy-week"], app.schedules["tidy-month"]
    assert (week.call.record.queue, week.task_name) == ("low", tidy.name)
    assert month.call.record.priority == 5
    assert week.call.record.payload != month.call.record.payload  # their own arguments


def test_the_tick_header_and_a_timezone_object_are_kept() -> None:
    app = Conveyor("memory://")
    task = app.task(cleanup)
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    nightly = app.add_schedule(
        "n", "0 3 * * *", task.options(headers={"a": "b"}).s(), timezone=plus_two
    )
    tick = nightly.latest_tick(datetime.datetime(2025, 6, 1, 12, tzinfo=plus_two).timestamp())
    assert tick is not None
    headers: dict[str, Any] = nightly.signature(tick).record.headers
    assert headers == {"a": "b", TICK_HEADER: "2025-06-01T03:00:00+02:00"}
