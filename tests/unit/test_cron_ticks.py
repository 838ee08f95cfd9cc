"""Which ticks a schedule has: seconds, timezones, daylight saving time, and the ids."""

from __future__ import annotations

import datetime
import itertools
from zoneinfo import ZoneInfo

import pytest

from conveyor import Conveyor, Schedule
from conveyor.scheduler import SKIP_GRACE, TICK_HEADER, TTL_MARGIN, MissedTicks

UTC = datetime.UTC
BERLIN = ZoneInfo("Europe/Berlin")


def report() -> None: ...


def schedule(expression: str, timezone: str = "UTC", missed: MissedTicks = "once") -> Schedule:
    local = Conveyor("memory://")
    task = local.task(name="report")(report)
    return local.add_schedule("s", expression, task.s(), timezone=timezone, missed=missed)


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
    *, tz: datetime.tzinfo = UTC, fold: int = 0,
) -> int:  # fmt: skip
    moment = datetime.datetime(year, month, day, hour, minute, second, tzinfo=tz, fold=fold)
    return int(moment.timestamp())


def test_latest_tick_is_at_or_before_now_and_next_tick_after_it() -> None:
    every_five = schedule("*/5 * * * *")
    assert every_five.latest_tick(at(2025, 1, 1, 10, 7, 30)) == at(2025, 1, 1, 10, 5)
    assert every_five.latest_tick(at(2025, 1, 1, 10, 5)) == at(2025, 1, 1, 10, 5)  # inclusive
    assert every_five.next_tick(at(2025, 1, 1, 10, 5)) == at(2025, 1, 1, 10, 10)  # exclusive
    assert every_five.next_tick(at(2025, 1, 1, 10, 7, 30)) == at(2025, 1, 1, 10, 10)


def test_a_sixth_field_counts_seconds_first() -> None:
    every_second = schedule("* * * * * *")
    now = at(2025, 1, 1, 10, 0, 0) + 0.25  # between two seconds
    assert every_second.latest_tick(now) == at(2025, 1, 1, 10, 0, 0)
    assert every_second.next_tick(now) == at(2025, 1, 1, 10, 0, 1)
    at_fifteen = schedule("15 * * * * *")
    assert at_fifteen.next_tick(now) == at(2025, 1, 1, 10, 0, 15)


def test_the_expression_is_read_in_the_schedules_timezone() -> None:
    nine_in_new_york = schedule("0 9 * * *", "America/New_York")
    winter, summer = at(2025, 1, 15, 12), at(2025, 7, 15, 12)
    assert nine_in_new_york.next_tick(winter) == at(2025, 1, 15, 14)  # EST: UTC-5
    assert nine_in_new_york.next_tick(summer) == at(2025, 7, 15, 13)  # EDT: UTC-4


def test_a_time_skipped_by_spring_forward_runs_once_right_after_the_jump() -> None:
    # Berlin, 2025-03-30: 02:00 becomes 03:00, so 02:30 does not exist that day
    half_past_two = schedule("30 2 * * *", "Europe/Berlin")
    ticks = _ticks(half_past_two, at(2025, 3, 29, 12, tz=BERLIN), at(2025, 3, 31, 12, tz=BERLIN))
    assert ticks == [at(2025, 3, 30, 3, 0, tz=BERLIN), at(2025, 3, 31, 2, 30, tz=BERLIN)]


def test_a_time_repeated_by_fall_back_runs_once_at_its_first_occurrence() -> None:
    # Berlin, 2025-10-26: 03:00 becomes 02:00, so 02:30 happens twice
    half_past_two = schedule("30 2 * * *", "Europe/Berlin")
    first = at(2025, 10, 26, 2, 30, tz=BERLIN, fold=0)
    second = at(2025, 10, 26, 2, 45, tz=BERLIN, fold=1)
    assert second - first == 3600 + 15 * 60
    assert half_past_two.latest_tick(second) == first
    ticks = _ticks(half_past_two, at(2025, 10, 25, 12, tz=BERLIN), at(2025, 10, 27, 12, tz=BERLIN))
    assert ticks == [first, at(2025, 10, 27, 2, 30, tz=BERLIN)]


def test_an_interval_schedule_keeps_its_real_interval_across_fall_back() -> None:
    every_half_hour = schedule("*/30 * * * *", "Europe/Berlin")
    start = at(2025, 10, 26, 1, 50, tz=BERLIN)
    ticks = _ticks(every_half_hour, start, start + 3 * 3600)
    assert len(ticks) == 6
    assert {b - a for a, b in itertools.pairwise(ticks)} == {1800}


def test_a_tick_is_enqueued_under_an_id_of_the_schedule_and_its_second() -> None:
    nightly = schedule("0 3 * * *", "Europe/Berlin")
    tick = nightly.latest_tick(at(2025, 6, 1, 12))
    assert tick == at(2025, 6, 1, 3, tz=BERLIN)
    call = nightly.signature(tick)
    assert call.record.id == f"cron:s:{tick}"
    assert call.record.headers[TICK_HEADER] == "2025-06-01T03:00:00+02:00"
    assert call.record.delay == 0
    assert call.record.task == "report"


def test_how_late_a_tick_may_run_depends_on_the_policy_and_the_record_ttl() -> None:
    local = Conveyor("memory://")
    keep_day = local.task(name="day")(report)
    keep_five_minutes = local.task(name="five", result_ttl=300)(report)
    keep_forever = local.task(name="ever", result_ttl=None)(report)
    expr = "0 * * * *"
    assert local.add_schedule("a", expr, keep_day.s()).lateness_limit == 86400 - TTL_MARGIN
    assert local.add_schedule("b", expr, keep_five_minutes.s()).lateness_limit == 300 - TTL_MARGIN
    assert local.add_schedule("c", expr, keep_forever.s()).lateness_limit == float("inf")
    skip = local.add_schedule("d", expr, keep_day.s(), missed="skip")
    assert skip.lateness_limit == SKIP_GRACE


def _ticks(s: Schedule, start: float, end: float) -> list[int]:
    ticks: list[int] = []
    tick = s.next_tick(start)
    while tick is not None and tick <= end:
        ticks.append(tick)
        tick = s.next_tick(tick)
    return ticks


@pytest.mark.parametrize("now", [at(2025, 3, 30, 4, tz=BERLIN), at(2025, 10, 26, 4, tz=BERLIN)])
def test_the_latest_tick_and_the_next_one_agree(now: float) -> None:
    hourly = schedule("0 * * * *", "Europe/Berlin")
    latest = hourly.latest_tick(now)
    assert latest is not None
    assert hourly.next_tick(latest - 1) == latest
    assert hourly.next_tick(latest) == hourly.next_tick(now)
