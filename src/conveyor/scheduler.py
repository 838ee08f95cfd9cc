"""Cron: schedules, and the scheduler that every worker runs to enqueue their ticks.

Exactly once per tick without a leader: every scheduler enqueues a tick under the same job
id, `cron:{name}:{tick in epoch seconds}`, and a backend stores a known id only once while
its record lives. A record lives until its job finishes plus the task's `result_ttl`, so a
scheduler never enqueues a tick older than that (less a margin): past it the first job's
record may be gone, and the tick would run again.

Ticks are computed by cronsim in the schedule's timezone and compared with the backend's
clock, so schedulers on machines whose clocks disagree still agree on what is due.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import math
import re
from typing import TYPE_CHECKING, Any, Literal, TypedDict, get_args

from conveyor.errors import ConfigurationError
from conveyor.job import JobHandle
from conveyor.task import Signature

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conveyor.app import Conveyor

logger = logging.getLogger("conveyor.scheduler")

MissedTicks = Literal["once", "skip"]
SKIP_GRACE = 60.0  # under missed="skip", how late a scheduler may see a tick and still run it
# seconds of a record's TTL that are not relied on: they cover the time between a
# scheduler reading the clock and its enqueue reaching the store
TTL_MARGIN = 30.0
MIN_RESULT_TTL = 2 * TTL_MARGIN
MAX_PAUSE = 5.0  # longest sleep between two looks: schedules added at run time wait no longer
TICK_HEADER = "cron_tick"  # the tick a job was enqueued for, ISO 8601 in the schedule's zone
SCHEDULE_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,150}$")


class ScheduleOptions(TypedDict, total=False):
    """Enqueue options that every job of a schedule gets (a subset of `EnqueueOptions`)."""

    queue: str
    priority: int
    retries: int
    timeout: float | None
    headers: dict[str, str]


@dataclasses.dataclass(frozen=True, eq=False)
class Schedule:
    """A cron expression, its timezone and the call it enqueues at each tick."""

    name: str
    expression: str
    timezone: datetime.tzinfo
    call: Signature[Any]
    missed: MissedTicks = "once"

    @property
    def task_name(self) -> str:
        return self.call.task.name

    def latest_tick(self, now: float) -> int | None:
        """The last tick at or before `now` (epoch seconds), None if there was none."""
        # cronsim's reverse walk starts one second before the time it is given
        start = datetime.datetime.fromtimestamp(math.floor(now) + 1, self.timezone)
        try:
            return int(next(_ticks(self.expression, start, reverse=True)).timestamp())
        except StopIteration:
            return None

    def next_tick(self, now: float) -> int | None:
        """The first tick after `now`, None if the expression never fires again."""
        start = datetime.datetime.fromtimestamp(math.floor(now), self.timezone)
        try:
            return int(next(_ticks(self.expression, start)).timestamp())
        except StopIteration:
            return None

    @property
    def lateness_limit(self) -> float:
        """How old a tick may be and still be enqueued (see the module's docstring)."""
        limit = SKIP_GRACE if self.missed == "skip" else math.inf
        ttl = self.call.record.result_ttl
        return limit if ttl is None else min(limit, ttl - TTL_MARGIN)

    def job_id(self, tick: int) -> str:
        return f"cron:{self.name}:{tick}"

    def signature(self, tick: int) -> Signature[Any]:
        """The call of one tick: the schedule's call under the tick's job id, due now."""
        when = datetime.datetime.fromtimestamp(tick, self.timezone).isoformat()
        template = self.call.record
        record = dataclasses.replace(
            template,
            id=self.job_id(tick),
            headers={**template.headers, TICK_HEADER: when},
            delay=0.0,
        )
        return Signature(self.call.task, record)


def make_schedule(
    name: str,
    expression: str,
    call: Signature[Any],
    *,
    timezone: str | datetime.tzinfo = "UTC",
    missed: MissedTicks = "once",
) -> Schedule:
    """A checked schedule: every mistake is a ConfigurationError that says what to change."""
    if not isinstance(name, str) or not SCHEDULE_NAME.match(name):
        raise ConfigurationError(
            f"a schedule name must be 1 to 150 letters, digits or _.:- characters, got {name!r}"
        )
    where = f"schedule {name!r}"
    if not isinstance(call, Signature):
        raise ConfigurationError(f"{where}: give a task call, task.s(...), got {call!r}")
    ttl = call.record.result_ttl
    if ttl is not None and ttl < MIN_RESULT_TTL:
        raise ConfigurationError(
            f"{where}: task {call.task.name!r} keeps finished jobs {ttl:g} s; a cron task "
            f"needs result_ttl >= {MIN_RESULT_TTL:g} s, since its job record is what keeps "
            "a tick from running twice"
        )
    zone = check_timing(expression, timezone, missed, where)
    return Schedule(name, expression, zone, call, missed)


def check_timing(
    expression: str, timezone: str | datetime.tzinfo, missed: str, where: str
) -> datetime.tzinfo:
    """Check an expression, timezone and missed-tick policy; return the timezone."""
    if missed not in get_args(MissedTicks):
        raise ConfigurationError(
            f"{where}: missed must be one of {list(get_args(MissedTicks))}, got {missed!r}"
        )
    zone = _timezone(timezone, where)
    if not isinstance(expression, str) or len(expression.split()) not in (5, 6):
        raise ConfigurationError(
            f"{where}: {expression!r} is not a cron expression; give 5 fields (minute hour "
            "day-of-month month day-of-week, such as '*/5 * * * *') or 6 with seconds first"
        )
    from cronsim import CronSimError

    try:
        next(_ticks(expression, datetime.datetime.now(zone)))
    except CronSimError as exc:
        raise ConfigurationError(f"{where}: bad cron expression {expression!r}: {exc}") from None
    except StopIteration:
        raise ConfigurationError(f"{where}: {expression!r} never fires") from None
    return zone


def _ticks(
    expression: str, start: datetime.datetime, reverse: bool = False
) -> Iterator[datetime.datetime]:
    """The expression's ticks from `start`, forward or backward."""
    from cronsim import CronSim  # a cached lookup; an app without schedules never loads it

    return CronSim(expression, start, reverse=reverse)


def _timezone(timezone: str | datetime.tzinfo, where: str) -> datetime.tzinfo:
    if isinstance(timezone, datetime.tzinfo):
        return timezone
    import zoneinfo  # read once per schedule, and an app without one never needs it

    try:
        return zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigurationError(
            f"{where}: unknown timezone {timezone!r}; give an IANA name such as 'UTC' or "
            "'Europe/Paris'"
        ) from None


class Scheduler:
    """Enqueues the due ticks of an app's schedules; one runs inside every worker."""

    def __init__(self, app: Conveyor) -> None:
        self.app = app
        # the newest tick this scheduler has enqueued or given up on, per schedule: it
        # spares the store a write per look, and is why a running scheduler never goes back
        self._done: dict[Schedule, int] = {}

    async def enqueue_due(self, now: float) -> list[JobHandle[Any]]:
        """Enqueue each schedule's due tick, given the backend's time; one store write."""
        schedules = list(self.app.schedules.values())
        self._done = {s: t for s, t in self._done.items() if s in schedules}
        calls: list[Signature[Any]] = []
        for schedule in schedules:
            tick = schedule.latest_tick(now)
            if tick is None or tick <= self._done.get(schedule, -1):
                continue
            self._done[schedule] = tick
            late = now - tick
            if late > schedule.lateness_limit:
                logger.info(
                    "schedule %s: the tick of %s was missed %.0f s ago and is not run "
                    "(missed=%r)", schedule.name, _iso(schedule, tick), late, schedule.missed,
                )  # fmt: skip
                continue
            calls.append(schedule.signature(tick))
        if not calls:
            return []
        handles = await self.app.enqueue_many(calls)
        for handle in handles:
            if handle.created:
                logger.info("enqueued %s (%s)", handle.id, handle.task_name)
        return handles

    def pause(self, now: float) -> float:
        """Seconds until the next tick of any schedule, at most MAX_PAUSE."""
        ticks = [s.next_tick(now) for s in self.app.schedules.values()]
        upcoming = [t for t in ticks if t is not None]
        if not upcoming:
            return MAX_PAUSE
        return min(MAX_PAUSE, max(0.0, min(upcoming) - now))


def _iso(schedule: Schedule, tick: int) -> str:
    return datetime.datetime.fromtimestamp(tick, schedule.timezone).isoformat()
