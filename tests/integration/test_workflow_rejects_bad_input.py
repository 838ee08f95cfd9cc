"""A workflow is checked when it is built: bad input raises there, and nothing is stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conveyor import ArgumentError, ConfigurationError, Conveyor, chain, group
from conveyor.backends.base import JobFilter


async def pair(a: int, b: int) -> int:
    return a + b


async def nothing() -> int:
    return 0


async def keyword_only(*, a: int) -> int:
    return a


BuildWorkflow = Callable[[Any, Any], object]  # Any: the calls are wrong on purpose

NOT_A_STEP: Any = "b"  # Any: the calls are wrong on purpose
NOT_A_SIGNATURE: Any = print

BAD_WORKFLOWS: list[Any] = [
    pytest.param(lambda t, n: chain(), ConfigurationError, "at least one step", id="empty-chain"),
    pytest.param(lambda t, n: group(), ConfigurationError, "at least one member", id="empty-group"),
    pytest.param(
        lambda t, n: group([]), ConfigurationError, "at least one member", id="empty-iterable"
    ),
    pytest.param(
        lambda t, n: chain(t.s(1, 2), NOT_A_STEP), TypeError, "must be task.step", id="not-a-step"
    ),
    pytest.param(
        lambda t, n: chain(t.s(1, 2), t.s(3, 4)), TypeError, "must be task.step", id="complete-call"
    ),
    pytest.param(
        lambda t, n: chain(t.step(1)), TypeError, "starts with a complete call", id="step-first"
    ),
    pytest.param(
        lambda t, n: group(t.s(1, 2), NOT_A_SIGNATURE), TypeError, "member 2", id="not-a-signature"
    ),
    pytest.param(
        lambda t, n: chain(t.s(1, 2), t.step(1, 2)),
        ArgumentError,
        "too many positional",
        id="too-many",
    ),
    pytest.param(
        lambda t, n: chain(t.s(1, 2), t.step(a=1)),
        ArgumentError,
        "multiple values",
        id="result-given-twice",
    ),
    pytest.param(
        lambda t, n: chain(t.s(1, 2), n.step()), ArgumentError, "first parameter", id="no-parameter"
    ),
    pytest.param(
        lambda t, n: group(t.s(1, 2)).then(t.s(1, 2)),
        TypeError,
        "the callback receives",
        id="complete-callback",
    ),
]


@pytest.mark.parametrize(("build", "error", "message"), BAD_WORKFLOWS)
async def test_bad_workflows_raise_when_built_and_store_nothing(
    app: Conveyor, build: BuildWorkflow, error: type[Exception], message: str
) -> None:
    task = app.task(pair)
    none = app.task(nothing)

    with pytest.raises(error, match=message):
        build(task, none)
    await _assert_nothing_stored(app)


async def test_a_step_whose_first_parameter_is_keyword_only_is_refused(app: Conveyor) -> None:
    task = app.task(keyword_only)

    with pytest.raises(ArgumentError, match="by position"):
        task.step(a=1)  # type: ignore[call-arg]  # a type checker sees it too
    await _assert_nothing_stored(app)


async def test_a_chord_needs_results_kept_long_enough_to_join(app: Conveyor) -> None:
    brief = app.task(result_ttl=1)(pair)
    keep = app.task(name="keep")(pair)

    with pytest.raises(ConfigurationError, match="result_ttl"):
        group(brief.s(1, 2)).then(keep.step(1))
    await _assert_nothing_stored(app)


async def test_tasks_of_another_app_are_refused(app: Conveyor) -> None:
    task = app.task(pair)
    other = Conveyor("memory://").task(pair)

    with pytest.raises(ConfigurationError, match="another Conveyor app"):
        chain(task.s(1, 2), other.step(3))
    await _assert_nothing_stored(app)


async def _assert_nothing_stored(app: Conveyor) -> None:
    backend = await app.connected()
    assert await backend.list_jobs(JobFilter(limit=10)) == []
