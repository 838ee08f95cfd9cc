"""Arguments reach the task as the types its annotations name, and results come back typed."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import math
import uuid
from typing import Any

import pydantic
import pytest

from conveyor import Conveyor, Task

from .support import work_off

received: list[Any] = []


@pytest.fixture(autouse=True)
def _forget_received() -> None:
    received.clear()


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Point(pydantic.BaseModel):
    x: int
    y: int
    label: str | None = None


@dataclasses.dataclass(frozen=True)
class Reading:
    sensor: uuid.UUID
    taken_at: datetime.datetime
    value: decimal.Decimal
    raw: bytes
    color: Color


async def echo_point(point: Point) -> Point:
    received.append(point)
    return point


async def echo_reading(reading: Reading) -> Reading:
    received.append(reading)
    return reading


def echo_datetime(when: datetime.datetime) -> datetime.datetime:
    received.append(when)
    return when


def echo_uuid(ident: uuid.UUID) -> uuid.UUID:
    received.append(ident)
    return ident


def echo_decimal(amount: decimal.Decimal) -> decimal.Decimal:
    received.append(amount)
    return amount


def echo_bytes(raw: bytes) -> bytes:
    received.append(raw)
    return raw


def echo_color(color: Color) -> Color:
    received.append(color)
    return color


def echo_float(value: float) -> float:
    received.append(value)
    return value


async def echo_points(points: list[Point]) -> list[Point]:
    received.append(points)
    return points


READING = Reading(
    sensor=uuid.UUID("12345678-1234-5678-1234-567812345678"),
    taken_at=datetime.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=datetime.UTC),
    value=decimal.Decimal("0.1000"),
    raw=b"plain ascii",
    color=Color.GREEN,
)

CASES = [
    pytest.param(echo_point, Point(x=1, y=-2, label="é"), id="pydantic-model"),
    pytest.param(echo_reading, READING, id="dataclass-of-rich-types"),
    pytest.param(
        echo_reading,
        dataclasses.replace(READING, raw=b"\x00\xff\xfe not utf-8 \x80"),
        id="dataclass-holding-non-utf8-bytes",
    ),
    pytest.param(
        echo_datetime,
        datetime.datetime(
            2024, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))
        ),
        id="aware-datetime",
    ),
    pytest.param(echo_datetime, datetime.datetime(2024, 1, 2, 3, 4, 5), id="naive-datetime"),
    pytest.param(echo_uuid, uuid.UUID("87654321-4321-8765-4321-876543218765"), id="uuid"),
    pytest.param(echo_decimal, decimal.Decimal("12345678901234567890.000000001"), id="decimal"),
    pytest.param(echo_bytes, b"\xff\xfe\x00\x80binary", id="non-utf8-bytes"),
    pytest.param(echo_bytes, b"", id="empty-bytes"),
    pytest.param(echo_color, Color.RED, id="enum"),
    pytest.param(echo_points, [Point(x=1, y=2), Point(x=3, y=4, label="b")], id="list-of-models"),
]


@pytest.mark.parametrize(("function", "value"), CASES)
async def test_the_task_receives_the_value_with_its_type(
    app: Conveyor, function: Any, value: Any
) -> None:
    task: Task[..., Any] = app.task(function)

    await task.enqueue(value)
    await work_off(app)

    assert received == [value]
    assert type(received[0]) is type(value)


@pytest.mark.parametrize(("function", "value"), CASES)
async def test_the_result_is_restored_from_the_return_annotation(
    app: Conveyor, function: Any, value: Any
) -> None:
    task: Task[..., Any] = app.task(function)

    handle = await task.enqueue(value)
    await work_off(app)
    result = await handle.result(timeout=5)

    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")], ids=str)
async def test_a_float_that_json_cannot_spell_still_round_trips(
    app: Conveyor, value: float
) -> None:
    task: Task[..., Any] = app.task(echo_float)

    handle = await task.enqueue(value)
    await work_off(app)
    result = await handle.result(timeout=5)

    assert math.isnan(result) if math.isnan(value) else result == value
