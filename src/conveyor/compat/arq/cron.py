"""ARQ's `cron(...)`: the same fields (sets of months, days, weekdays, hours, minutes,
seconds) written as the 6-field cron expression conveyor's scheduler reads."""

from __future__ import annotations

import dataclasses
import datetime
import inspect
from collections.abc import Iterable

from conveyor.errors import ConfigurationError

from .functions import JobFunction, import_path, seconds

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # ARQ's: Monday is 0

Option = int | Iterable[int] | None
WeekdayOption = int | str | Iterable[int | str] | None


@dataclasses.dataclass
class CronJob:
    name: str
    coroutine: JobFunction
    month: Option
    day: Option
    weekday: WeekdayOption
    hour: Option
    minute: Option
    second: Option
    microsecond: int
    run_at_startup: bool
    unique: bool
    timeout_s: float | None
    keep_result_s: float | None
    keep_result_forever: bool | None
    max_tries: int | None

    @property
    def expression(self) -> str:
        """seconds minutes hours day-of-month month day-of-week, as cronsim reads them."""
        where = f"cron job {self.name!r}"
        weekdays = None if self.weekday is None else _weekdays(self.weekday, where)
        return " ".join(
            (
                _field(self.second, 0, 59, "second", where),
                _field(self.minute, 0, 59, "minute", where),
                _field(self.hour, 0, 23, "hour", where),
                _field(self.day, 1, 31, "day", where),
                _field(self.month, 1, 12, "month", where),
                _field(weekdays, 0, 6, "weekday", where),
            )
        )


def cron(
    coroutine: str | JobFunction,
    *,
    name: str | None = None,
    month: Option = None,
    day: Option = None,
    weekday: WeekdayOption = None,
    hour: Option = None,
    minute: Option = None,
    second: Option = 0,
    microsecond: int = 123_456,
    run_at_startup: bool = False,
    unique: bool = True,
    timeout: float | datetime.timedelta | None = None,
    keep_result: float | None = 0,
    keep_result_forever: bool | None = False,
    max_tries: int | None = 1,
) -> CronJob:
    """A job run at the times the fields name (None: any), as ARQ's `cron`. conveyor runs
    each time once however many workers run (ARQ's `unique=True`, whatever `unique` says),
    on the second (`microsecond` is not used)."""
    if isinstance(coroutine, str):
        name = name or f"cron:{coroutine}"
        coroutine = import_path(coroutine, f"cron({coroutine!r})")
    if not inspect.iscoroutinefunction(coroutine):
        raise ConfigurationError(f"cron: {coroutine!r} is not a coroutine function (async def)")
    job = CronJob(
        name=name or f"cron:{coroutine.__qualname__}",
        coroutine=coroutine,
        month=month,
        day=day,
        weekday=weekday,
        hour=hour,
        minute=minute,
        second=second,
        microsecond=microsecond,
        run_at_startup=run_at_startup,
        unique=unique,
        timeout_s=seconds(timeout),
        keep_result_s=keep_result,
        keep_result_forever=keep_result_forever,
        max_tries=max_tries,
    )
    _ = job.expression  # a bad field fails here, where the cron job is written
    return job


def _field(value: Option, low: int, high: int, what: str, where: str) -> str:
    if value is None:
        return "*"
    values = [value] if isinstance(value, int) else list(value)
    if not values or not all(
        isinstance(v, int) and not isinstance(v, bool) and low <= v <= high for v in values
    ):
        raise ConfigurationError(
            f"{where}: {what} must be an int from {low} to {high}, or a set of them, got {value!r}"
        )
    return ",".join(str(v) for v in sorted(set(values)))


def _weekdays(value: WeekdayOption, where: str) -> list[int]:
    """ARQ's weekdays (0 or "mon" is Monday) as cron's (0 is Sunday)."""
    given = [value] if isinstance(value, int | str) else list(value or ())
    days = []
    for day in given:
        if isinstance(day, str) and day.lower() in WEEKDAYS:
            day = WEEKDAYS.index(day.lower())
        if not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= 6:
            raise ConfigurationError(
                f"{where}: weekday must be 0 (Monday) to 6 or 'mon' to 'sun', or a set of "
                f"them, got {value!r}"
            )
        days.append((day + 1) % 7)
    return days
