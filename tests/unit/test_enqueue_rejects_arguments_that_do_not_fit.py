"""Arguments that do not fit the task's signature raise ArgumentError, and nothing is stored."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conveyor import ArgumentError, Conveyor, EnqueueError, Task

from .support import assert_nothing_stored


async def add(a: int, b: int = 2) -> int:
    return a + b


@pytest.fixture
def add_task(app: Conveyor) -> Task[..., Any]:
    return app.task(add)


BAD_CALLS = [
    pytest.param((), {}, "missing a required argument: 'a'", id="missing"),
    pytest.param((1, 2, 3), {}, "too many positional arguments", id="extra-positional"),
    pytest.param((1,), {"c": 3}, "unexpected keyword argument 'c'", id="unknown-keyword"),
    pytest.param((1,), {"a": 1}, "multiple values for argument 'a'", id="given-twice"),
]


@pytest.mark.parametrize(("args", "kwargs", "problem"), BAD_CALLS)
async def test_enqueue_raises_argument_error_naming_the_task_and_the_problem(
    app: Conveyor,
    add_task: Task[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    problem: str,
) -> None:
    with pytest.raises(ArgumentError) as caught:
        await add_task.enqueue(*args, **kwargs)

    message = str(caught.value)
    assert problem in message
    assert add_task.name in message
    await assert_nothing_stored(app)


def test_the_message_shows_the_signature_as_written_in_the_source() -> None:
    add_task = Conveyor("memory://").task(add)

    # this module uses `from __future__ import annotations`, as many projects do
    with pytest.raises(ArgumentError) as caught:
        add_task.s()  # type: ignore[call-arg]
    assert f"{add_task.name}(a: int, b: int = 2) -> int:" in str(caught.value)


@pytest.mark.parametrize(("args", "kwargs", "problem"), BAD_CALLS)
async def test_a_signature_is_checked_when_it_is_made(
    app: Conveyor,
    add_task: Task[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    problem: str,
) -> None:
    with pytest.raises(ArgumentError, match=re.escape(problem)):
        add_task.s(*args, **kwargs)
    await assert_nothing_stored(app)


async def test_argument_error_is_an_enqueue_error_and_a_type_error(
    app: Conveyor, add_task: Task[..., Any]
) -> None:
    with pytest.raises(ArgumentError) as caught:
        await add_task.options(delay=1).enqueue()
    assert isinstance(caught.value, EnqueueError)
    assert isinstance(caught.value, TypeError)
    await assert_nothing_stored(app)
