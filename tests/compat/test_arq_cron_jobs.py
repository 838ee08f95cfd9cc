"""An ARQ cron job runs at its seconds, once a tick, with the startup state in its ctx."""

from __future__ import annotations

import asyncio
import re
from types import ModuleType
from typing import Any

import pytest

from conveyor import JobState, Worker
from conveyor.backends.base import JobFilter
from conveyor.compat.arq import conveyor_app, cron
from conveyor.errors import ConfigurationError
from waiting import wait_until


async def test_the_cron_job_runs_on_its_seconds(
    example: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    app = conveyor_app(example.WorkerSettings)
    worker = Worker(app, lease=2.0, heartbeat=0.1, idle_poll=0.05, grace=1.0)
    running = asyncio.create_task(worker.run())
    store = await app.connected()
    done = JobFilter(task="cron:ping", state=JobState.SUCCEEDED)

    async def pinged() -> bool:
        return bool(await store.list_jobs(done))

    try:
        # second=set(range(0, 60, 2)): a tick every two seconds
        await wait_until(pinged, 15, "a ping", pytest.fail)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 15)
    (ping, *_) = await store.list_jobs(done)
    tick = int(ping.id.rsplit(":", 1)[1])
    assert ping.id == f"cron:cron:ping:{tick}"
    assert tick % 2 == 0
    assert await app.job(ping.id).result() == {"mailer_ready": True, "job_try": 1}
    assert "mailer closed after sending 0 message(s)" in capsys.readouterr().out
    await app.close()


async def sample(ctx: dict[str, object]) -> None:
    pass


def test_cron_fields_become_a_cron_expression() -> None:
    assert cron(sample).expression == "0 * * * * *"
    assert cron(sample, hour={9, 17}, minute=30, second={0, 30}).expression == "0,30 30 9,17 * * *"
    # ARQ counts weekdays from Monday (0), cron from Sunday (0)
    assert cron(sample, weekday={"mon", 6}, second=None).expression == "* * * * * 0,1"
    assert cron(sample).name == "cron:sample"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"hour": 24}, "hour must be an int from 0 to 23"),
        ({"second": {1, 61}}, "second must be an int from 0 to 59"),
        ({"weekday": "someday"}, "weekday must be 0 (Monday) to 6"),
        ({"month": set()}, "month must be an int from 1 to 12"),
    ],
)
def test_a_bad_cron_field_fails_where_it_is_written(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        cron(sample, **fields)
