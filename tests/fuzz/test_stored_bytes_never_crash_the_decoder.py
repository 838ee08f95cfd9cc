"""Whatever bytes a store holds as a payload or a result, decoding them gives a value or the
codec's own `SerializationError`, never another exception (which would escape the worker's
dead-lettering, or a client's `result()`).

Random bytes are rarely JSON, so the bytes are also drawn as JSON texts of any shape, as
good payloads damaged by a byte or two, and as deep nesting.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import json
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor import Conveyor, SerializationError, Task
from conveyor.job import JobRecord, JobState


class Point(pydantic.BaseModel):
    x: int
    y: float
    tags: list[str] = []


@dataclasses.dataclass
class Reading:
    sensor: uuid.UUID
    taken_at: datetime.datetime
    value: decimal.Decimal
    raw: bytes
    where: Point | None = None


def shipment(
    order: int,
    reading: Reading,
    points: list[Point],
    when: datetime.datetime | None = None,
    note: str = "",
    *extra: bytes,
    **labels: decimal.Decimal,
) -> dict[str, Point]:
    return {}


def anything(value: Any, other: Any = None) -> Any:
    return value


T = TypeVar("T")

app = Conveyor("memory://")
TASKS = [app.task(name="fuzz.shipment")(shipment), app.task(name="fuzz.anything")(anything)]
GOOD_PAYLOADS = [
    TASKS[0]
    .s(
        7,
        Reading(uuid.UUID(int=1), datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
                decimal.Decimal("1.5"), b"\x00\xff", Point(x=1, y=2.5, tags=["a"])),
        [Point(x=3, y=-1.0)],
        None,
        "é",
        b"x",
        rate=decimal.Decimal("0.1"),
    )
    .record.payload,
    TASKS[1].s({"a": [1, 2.5, None, True]}, "b").record.payload,
]  # fmt: skip

json_texts = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
).map(lambda value: json.dumps(value).encode())


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A good payload with a few bytes replaced, inserted or cut out."""
    payload = bytearray(draw(st.sampled_from(GOOD_PAYLOADS)))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(payload)))
        action = draw(st.sampled_from(["replace", "insert", "cut"]))
        byte = draw(st.integers(0, 255))
        if action == "insert" or at == len(payload):
            payload.insert(at, byte)
        elif action == "replace":
            payload[at] = byte
        else:
            del payload[at]
    return bytes(payload)


deep = st.integers(1, 50_000).map(lambda depth: b'{"value": ' + b"[" * depth + b"]" * depth + b"}")
# past the 4300 digits Python converts to an int from text by default
long_numbers = st.integers(4000, 5000).map(lambda digits: b'{"order": 1' + b"0" * digits + b"}")
stored_bytes = st.binary() | json_texts | damaged() | deep | long_numbers


def decodes_or_refuses(decode: Callable[[T], object], data: T) -> None:
    try:
        decode(data)
    except SerializationError as exc:
        message = str(exc)
    else:
        return
    assert message, "a decode error with no message"


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.name)
def test_any_payload_decodes_or_is_refused(task: Task[..., Any]) -> None:
    @given(stored_bytes)
    def payload(data: bytes) -> None:
        decodes_or_refuses(task.codec.decode, data)

    payload()


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.name)
def test_any_stored_result_decodes_or_is_refused(task: Task[..., Any]) -> None:
    """Through the app, as `JobHandle.result()` reads a result: by its task's annotation."""

    @given(stored_bytes)
    def result(data: bytes) -> None:
        record = JobRecord(id="j", task=task.name, queue="default", payload=b"{}", result=data)
        record.state = JobState.SUCCEEDED
        decodes_or_refuses(app.decode_result, record)

    result()


@given(stored_bytes)
def test_a_result_of_an_unknown_task_decodes_or_is_refused(data: bytes) -> None:
    record = JobRecord(id="j", task="gone.task", queue="default", payload=b"{}", result=data)
    decodes_or_refuses(app.decode_result, record)
