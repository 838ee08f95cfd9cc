"""Bad limits are refused where they are written, with a message that says how to fix them."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import ConfigurationError, Conveyor
from conveyor.limits import parse_rate


def sync_account(tenant: str, n: int = 0) -> None:
    return None


@pytest.mark.parametrize("concurrency", [0, -1, True, 1.5, "2", 2**31])
def test_concurrency_must_be_a_positive_whole_number(concurrency: Any) -> None:
    app = Conveyor("memory://")

    with pytest.raises(ConfigurationError, match="concurrency must be a whole number from 1"):
        app.task(concurrency=concurrency)(sync_account)
    assert not app.tasks


def test_a_concurrency_key_needs_a_concurrency() -> None:
    with pytest.raises(ConfigurationError, match="concurrency_key needs concurrency=N"):
        Conveyor("memory://").task(concurrency_key=lambda tenant, **_: tenant)(sync_account)


def test_a_concurrency_key_must_be_a_function() -> None:
    with pytest.raises(ConfigurationError, match="must be a function of the task's arguments"):
        Conveyor("memory://").task(concurrency=1, concurrency_key="tenant")(sync_account)  # type: ignore[call-overload]


@pytest.mark.parametrize(
    "rate",
    [
        "100",
        "100/x",
        "0/m",
        "-1/m",
        "1/0s",
        "1/00s",
        "5/000m",
        "",
        "1.5/s",
        "100/minute",
        100,
        "1/367d",
        "3000000000/s",
    ],
)
def test_a_rate_limit_must_read_like_100_per_minute(rate: Any) -> None:
    with pytest.raises(ConfigurationError, match="rate_limit must read like '100/m'"):
        Conveyor("memory://").task(rate_limit=rate)(sync_account)


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [("100/m", (100, 60.0)), ("5/10s", (5, 10.0)), ("1/d", (1, 86400.0)),
     (" 3 / h ", (3, 3600.0))],
)  # fmt: skip
def test_rate_limits_read_as_jobs_per_seconds(rate: str, parsed: tuple[int, float]) -> None:
    assert parse_rate(rate, "here") == parsed


async def test_the_concurrency_key_names_the_limit_of_each_call() -> None:
    app = Conveyor("memory://")
    task = app.task(concurrency=2, concurrency_key=lambda tenant, **_: tenant)(sync_account)

    handle = await task.enqueue("acme", 3)

    record = await app.backend.get(handle.id)
    assert record is not None
    assert (record.limit_key, record.limit) == (f"{task.name}:acme", 2)


@pytest.mark.parametrize(
    ("rule", "problem"),
    [(lambda tenant, **_: None, "must return a str"), (lambda tenant, **_: "", "must return"),
     (lambda other: other, "could not be called with the task's arguments")],
)  # fmt: skip
async def test_a_concurrency_key_that_fails_stores_nothing(rule: Any, problem: str) -> None:
    app = Conveyor("memory://")
    task = app.task(concurrency=1, concurrency_key=rule)(sync_account)

    with pytest.raises(ConfigurationError, match=problem):
        await task.enqueue("acme")
    assert await app.backend.counts() == {}


def test_a_task_with_limits_needs_a_name_that_leaves_room_for_its_keys() -> None:
    with pytest.raises(ConfigurationError, match="a task with limits needs a name of at most"):
        Conveyor("memory://").task(name="t" * 101, rate_limit="1/s")(sync_account)
