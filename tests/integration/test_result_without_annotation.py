"""A result with no useful return annotation comes back as plain JSON values."""

from __future__ import annotations

from typing import Any

from conveyor import Conveyor, Task

from .support import work_off


async def untyped(n):  # type: ignore[no-untyped-def]
    return {"n": n, "items": [n, n + 1]}


async def returns_nothing(n: int) -> None:
    return None


async def returns_any(n: int) -> Any:
    return (n, "two")


async def test_an_unannotated_result_is_plain_json(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(untyped)

    handle = await task.enqueue(3)
    await work_off(app)

    assert await handle.result(timeout=5) == {"n": 3, "items": [3, 4]}


async def test_a_none_result_is_none(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(returns_nothing)

    handle = await task.enqueue(3)
    await work_off(app)

    assert await handle.result(timeout=5) is None


async def test_an_any_result_comes_back_as_json_would_carry_it(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(returns_any)

    handle = await task.enqueue(3)
    await work_off(app)

    assert await handle.result(timeout=5) == [3, "two"]
