"""Celery's call sites work on conveyor tasks: `delay` and `apply_async`, from sync code."""

from __future__ import annotations

import asyncio
import datetime
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from conveyor import (
    ArgumentError,
    ConfigurationError,
    Conveyor,
    ConveyorError,
    JobState,
    Task,
    Worker,
)


def resize(image_id: int, width: int = 100) -> str:
    return f"image {image_id} at {width}px"


@pytest.fixture
async def app(url: str) -> AsyncIterator[Conveyor]:
    app = Conveyor(url)
    yield app
    await app.close()


@pytest.fixture
def task(app: Conveyor) -> Task[..., Any]:
    return app.task(resize)


async def test_delay_enqueues_the_call_from_sync_code(app: Conveyor, task: Task[..., Any]) -> None:
    handle = await asyncio.to_thread(task.delay, 7, width=640)

    await Worker(app, burst=True, idle_poll=0.05).run()

    assert await handle.result(timeout=5) == "image 7 at 640px"


async def test_apply_async_maps_celerys_options(app: Conveyor, task: Task[..., Any]) -> None:
    def call() -> Any:
        return task.apply_async(
            (7,), {"width": 50}, countdown=60, task_id="resize-7", queue="images", priority=9
        )

    handle = await asyncio.to_thread(call)
    again = await asyncio.to_thread(call)

    info = await handle.info()
    assert (handle.id, info.queue, info.priority, info.state) == (
        "resize-7",
        "images",
        9,
        JobState.SCHEDULED,
    )
    assert 50 <= info.due_at - info.enqueued_at <= 70  # the countdown, on the store's clock
    assert again.created is False  # the task_id makes it idempotent, as Celery's does not


async def test_apply_async_with_an_eta_and_no_options(app: Conveyor, task: Task[..., Any]) -> None:
    eta = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    later = await asyncio.to_thread(task.apply_async, [1], eta=eta)
    now = await asyncio.to_thread(task.apply_async, [2])

    assert abs((await later.info()).due_at - eta.timestamp()) < 60
    assert await now.status() is JobState.QUEUED
    await Worker(app, burst=True, idle_poll=0.05).run()
    assert await now.result(timeout=5) == "image 2 at 100px"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        ({"args": "ab"}, ArgumentError, "resize.apply_async(): args must be a list or tuple"),
        ({"args": [1], "kwargs": [2]}, ArgumentError, "kwargs must be a dict"),
        ({"args": [1, 2, 3]}, ArgumentError, "too many positional arguments"),
        ({"args": [1], "countdown": -1}, ConfigurationError, "countdown must be >= 0 seconds"),
        ({"args": [1], "expires": 5}, ConfigurationError, "expires not supported; it takes args"),
        (
            {"args": [1], "countdown": 5, "eta": datetime.datetime.now(datetime.UTC)},
            ConfigurationError,
            "give countdown or eta, not both",
        ),
        (
            {"args": [1], "eta": datetime.datetime.now()},
            ConfigurationError,
            "resize.apply_async(): eta must be a timezone-aware datetime",
        ),
        (
            {"args": [1], "priority": 5000},
            ConfigurationError,
            "resize.apply_async(): priority must be an int from",
        ),
        (
            {"args": [1], "task_id": "two\nlines"},
            ConfigurationError,
            "resize.apply_async(): task_id must be a string of 1 to 200 characters",
        ),
    ],
)
async def test_bad_calls_fail_in_one_line_and_store_nothing(
    app: Conveyor,
    task: Task[..., Any],
    call: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=re.escape(message)) as raised:
        await asyncio.to_thread(lambda: task.apply_async(**call))
    assert "\n" not in str(raised.value)
    assert await (await app.connected()).counts() in ({}, {"default": {}})


async def test_delay_in_async_code_points_to_enqueue(task: Task[..., Any]) -> None:
    with pytest.raises(ConveyorError, match=r"in async code write await task.enqueue\(...\)"):
        task.delay(1)
