"""*args and **kwargs travel by name and arrive typed by their annotations."""

from __future__ import annotations

import datetime
from typing import Any

from conveyor import Conveyor, Task

from .support import work_off


async def schedule(
    name: str, *days: datetime.date, **times: datetime.time
) -> tuple[str, tuple[datetime.date, ...], dict[str, datetime.time]]:
    assert all(isinstance(day, datetime.date) for day in days)
    assert all(isinstance(at, datetime.time) for at in times.values())
    return name, days, times


async def test_star_args_and_star_star_kwargs_round_trip(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(schedule)
    days = (datetime.date(2024, 1, 1), datetime.date(2024, 1, 2))
    times = {"open": datetime.time(9, 0), "close": datetime.time(17, 30)}

    handle = await task.enqueue("shop", *days, **times)
    await work_off(app)

    assert await handle.result(timeout=5) == ("shop", days, times)


async def test_no_variadic_arguments_at_all_arrive_empty(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(schedule)

    handle = await task.enqueue("closed")
    await work_off(app)

    assert await handle.result(timeout=5) == ("closed", (), {})
