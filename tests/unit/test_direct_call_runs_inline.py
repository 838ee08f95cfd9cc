"""Calling a task directly runs the function here and now, as a plain call; nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Context, Conveyor, Task

from .support import assert_nothing_stored


def add(a: int, b: int = 2) -> int:
    """Add two numbers."""
    return a + b


async def double(n: int) -> int:
    return n * 2


async def report(total: int, ctx: Context = Context.INJECTED) -> tuple[str, int, float]:
    await ctx.progress(0.5, "half way")
    ctx.save_checkpoint({"done": total // 2}).wait(timeout=1)
    return ctx.job_id, ctx.attempt, total / 2


def context_first(ctx: Context, n: int) -> tuple[int, int]:
    return ctx.attempt, n


async def test_a_sync_task_called_directly_returns_its_value(app: Conveyor) -> None:
    add_task = app.task(add)

    assert add_task(1) == 3
    assert add_task(1, b=5) == 6
    await assert_nothing_stored(app)


async def test_an_async_task_called_directly_returns_an_awaitable_of_its_value(
    app: Conveyor,
) -> None:
    double_task = app.task(double)

    assert await double_task(21) == 42
    await assert_nothing_stored(app)


def test_a_task_keeps_the_name_and_docstring_of_its_function() -> None:
    add_task: Task[..., Any] = Conveyor("memory://").task(add)

    assert add_task.__name__ == "add"  # type: ignore[attr-defined]
    assert add_task.__doc__ == "Add two numbers."
    assert add_task.name == f"{__name__}.add"


async def test_a_task_that_wants_a_context_gets_an_inline_one(app: Conveyor) -> None:
    report_task = app.task(report)

    assert await report_task(10) == ("inline", 1, 5.0)
    await assert_nothing_stored(app)


async def test_a_context_passed_explicitly_is_used() -> None:
    report_task = Conveyor("memory://").task(report)
    ctx = Context.inline("by-hand")
    ctx.attempt = 3

    assert await report_task(4, ctx=ctx) == ("inline", 3, 2.0)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param("keyword", id="keyword"),
        pytest.param("positional", id="positional"),
    ],
)
def test_the_inline_context_is_injected_wherever_the_parameter_sits(call: str) -> None:
    task: Task[..., tuple[int, int]] = Conveyor("memory://").task(context_first)

    result = task(n=7) if call == "keyword" else task(7)

    assert result == (1, 7)
