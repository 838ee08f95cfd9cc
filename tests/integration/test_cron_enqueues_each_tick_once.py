"""The scheduler on every backend: one job per tick, the missed-tick policies, a live worker.

Most tests hand the scheduler the time (`enqueue_due(now)`), standing in for the backend's
clock, so that hours of ticks and downtime take no time; the last ones run a real worker.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable

from conveyor import Context, Conveyor, JobState
from conveyor.backends.base import JobFilter
from conveyor.scheduler import SKIP_GRACE, Scheduler

from .support import LIMIT, running_worker

HOUR = 3600
T = 1_750_000_000 - 1_750_000_000 % HOUR  # an hour's first second, long ago


async def tick(ctx: Context = Context.INJECTED) -> str:
    return ctx.headers["cron_tick"]


async def stored_ids(app: Conveyor) -> list[str]:
    records = await (await app.connected()).list_jobs(JobFilter(limit=1000))
    return sorted(r.id for r in records)


async def test_two_schedulers_enqueue_each_tick_once(app: Conveyor) -> None:
    app.cron("*/10 * * * *", name="ten")(app.task(name="tick")(tick))
    first, second = Scheduler(app), Scheduler(app)
    created: list[str] = []
    for minute in range(0, 60, 5):  # both look every five minutes, a second after
        for scheduler in (first, second):
            handles = await scheduler.enqueue_due(T + minute * 60 + 1)
            created += [h.id for h in handles if h.created]
    expected = [f"cron:ten:{T + m * 60}" for m in range(0, 60, 10)]
    assert sorted(created) == expected
    assert await stored_ids(app) == expected


async def test_a_running_scheduler_writes_nothing_until_the_next_tick(app: Conveyor) -> None:
    app.cron("0 * * * *", name="hourly")(app.task(name="tick")(tick))
    scheduler = Scheduler(app)
    assert [h.id for h in await scheduler.enqueue_due(T + 5)] == [f"cron:hourly:{T}"]
    assert await scheduler.enqueue_due(T + 600) == []
    assert [h.id for h in await scheduler.enqueue_due(T + HOUR)] == [f"cron:hourly:{T + HOUR}"]


async def test_after_downtime_only_the_latest_missed_tick_runs(app: Conveyor) -> None:
    app.cron("*/5 * * * *", name="five")(app.task(name="tick")(tick))
    await Scheduler(app).enqueue_due(T + 1)
    # every worker was down for 47 minutes: nine ticks passed, one runs
    await Scheduler(app).enqueue_due(T + 47 * 60)
    assert await stored_ids(app) == [f"cron:five:{T}", f"cron:five:{T + 45 * 60}"]


async def test_missed_skip_drops_a_tick_seen_late(app: Conveyor) -> None:
    app.cron("0 * * * *", name="hourly", missed="skip")(app.task(name="tick")(tick))
    assert await Scheduler(app).enqueue_due(T + SKIP_GRACE + 1) == []
    handles = await Scheduler(app).enqueue_due(T + HOUR + SKIP_GRACE - 1)
    assert [h.id for h in handles] == [f"cron:hourly:{T + HOUR}"]


async def test_a_tick_older_than_the_record_ttl_is_never_enqueued(app: Conveyor) -> None:
    # the record of a tick is what stops a second run; past its TTL it may be gone
    app.cron("0 3 * * *", name="nightly")(app.task(name="tick", result_ttl=120)(tick))
    night = T - T % 86400 + 3 * HOUR
    assert await Scheduler(app).enqueue_due(night + 100) == []
    assert [h.id for h in await Scheduler(app).enqueue_due(night + 80)] == [f"cron:nightly:{night}"]


async def test_a_worker_runs_an_every_second_schedule_and_one_added_while_it_runs(
    app: Conveyor,
) -> None:
    task = app.task(name="tick")(tick)
    app.cron("* * * * * *", name="second")(task)
    async with running_worker(app):
        await _wait_for(app, lambda ids: sum(i.startswith("cron:second:") for i in ids) >= 3)
        app.add_schedule("added", "* * * * * *", task.s())
        await _wait_for(app, lambda ids: any(i.startswith("cron:added:") for i in ids))
        app.remove_schedule("second")
    backend = await app.connected()
    for record in await backend.list_jobs(JobFilter(limit=1000)):
        if record.state is JobState.SUCCEEDED:
            assert record.attempts == 1
            tick_header = app.decode_result(record)
            assert record.headers["cron_tick"] == tick_header
            assert record.id.endswith(f":{_epoch(tick_header)}")


async def _wait_for(app: Conveyor, done: Callable[[list[str]], bool]) -> None:
    backend = await app.connected()
    async with asyncio.timeout(LIMIT):
        while True:
            records = await backend.list_jobs(JobFilter(state=JobState.SUCCEEDED, limit=1000))
            if done([r.id for r in records]):
                return
            await asyncio.sleep(0.05)


def _epoch(iso: str) -> int:
    return int(datetime.datetime.fromisoformat(iso).timestamp())
