"""The correlation id of the producer's context travels in the job to `ctx.correlation_id`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conveyor import Context, Conveyor, Task
from conveyor.correlation import current_correlation_id, reset_correlation_id, set_correlation_id

from .support import work_off


async def whoami(ctx: Context = Context.INJECTED) -> tuple[str | None, str | None]:
    return ctx.correlation_id, current_correlation_id()


@pytest.fixture
def request_id() -> Iterator[str]:
    token = set_correlation_id("req-42")
    try:
        yield "req-42"
    finally:
        reset_correlation_id(token)


async def test_a_correlation_id_set_before_enqueue_reaches_the_task(
    app: Conveyor, request_id: str
) -> None:
    task: Task[..., Any] = app.task(whoami)

    handle = await task.enqueue()
    await work_off(app)

    assert (await handle.info()).headers == {"correlation_id": request_id}
    assert await handle.result(timeout=5) == (request_id, request_id)


async def test_without_a_correlation_id_the_task_sees_none(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(whoami)

    handle = await task.enqueue()
    await work_off(app)

    assert (await handle.info()).headers == {}
    assert await handle.result(timeout=5) == (None, None)


async def test_an_explicit_correlation_header_wins(app: Conveyor, request_id: str) -> None:
    task: Task[..., Any] = app.task(whoami)

    handle = await task.options(headers={"correlation_id": "batch-7"}).enqueue()
    await work_off(app)

    assert await handle.result(timeout=5) == ("batch-7", "batch-7")
