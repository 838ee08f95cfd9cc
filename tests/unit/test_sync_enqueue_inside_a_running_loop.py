"""The *_sync entry points refuse to run inside an event loop (they would block it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conveyor import Conveyor, ConveyorError, Task

from .support import assert_nothing_stored


async def ping(n: int) -> int:
    return n


@pytest.fixture
def ping_task(app: Conveyor) -> Task[..., Any]:
    return app.task(ping)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda task: task.enqueue_sync(1), id="task.enqueue_sync"),
        pytest.param(lambda task: task.options(delay=1).enqueue_sync(1), id="options.enqueue_sync"),
        pytest.param(lambda task: task.s(1).enqueue_sync(), id="signature.enqueue_sync"),
        pytest.param(lambda task: task.app.enqueue_many_sync([task.s(1)]), id="enqueue_many_sync"),
    ],
)
async def test_a_sync_enqueue_inside_a_running_loop_raises_and_stores_nothing(
    app: Conveyor, ping_task: Task[..., Any], call: Callable[[Task[[int], int]], Any]
) -> None:
    with pytest.raises(ConveyorError) as caught:
        call(ping_task)

    message = str(caught.value)
    assert "inside a running event loop" in message
    assert "await task.enqueue(" in message, "the message names the async form to use"
    await assert_nothing_stored(app)


async def test_result_sync_inside_a_running_loop_raises(
    app: Conveyor, ping_task: Task[..., Any]
) -> None:
    handle = await ping_task.enqueue(1)

    with pytest.raises(ConveyorError, match="inside a running event loop"):
        handle.result_sync(timeout=0.1)
