"""Values the JSON codec cannot encode raise SerializationError naming the argument;
nothing is stored."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from conveyor import Conveyor, EnqueueError, SerializationError, Task

from .support import assert_nothing_stored


async def record(
    count: int,
    tags: list[int],
    when: datetime.datetime | None = None,
    extra: Any = None,
) -> None:
    return None


@pytest.fixture
def record_task(app: Conveyor) -> Task[..., None]:
    return app.task(record)


@pytest.mark.parametrize(
    ("arguments", "culprit"),
    [
        pytest.param({"count": "3", "tags": []}, "count", id="str-for-int"),
        pytest.param({"count": 1, "tags": {1, 2}}, "tags", id="set-for-list"),
        pytest.param({"count": 1, "tags": [1, "x"]}, "tags", id="str-inside-list-of-int"),
        pytest.param({"count": 1, "tags": [], "when": "yesterday"}, "when", id="str-for-datetime"),
        pytest.param({"count": object(), "tags": []}, "count", id="object-for-int"),
        pytest.param({"count": 1, "tags": [], "extra": object()}, "extra", id="object-for-any"),
    ],
)
async def test_enqueue_raises_serialization_error_naming_the_argument(
    app: Conveyor, record_task: Task[..., Any], arguments: dict[str, Any], culprit: str
) -> None:
    with pytest.raises(SerializationError) as caught:
        await record_task.enqueue(**arguments)

    message = str(caught.value)
    assert "cannot encode" in message
    assert culprit in message, f"the message does not say which argument is wrong: {message}"
    await assert_nothing_stored(app)


async def test_serialization_error_is_an_enqueue_error_and_a_value_error(
    app: Conveyor, record_task: Task[..., Any]
) -> None:
    with pytest.raises(SerializationError) as caught:
        record_task.s(count="many", tags=[])
    assert isinstance(caught.value, EnqueueError)
    assert isinstance(caught.value, ValueError)
    await assert_nothing_stored(app)
