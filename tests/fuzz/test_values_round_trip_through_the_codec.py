"""Any value a task's annotation accepts comes back equal from the codec, as an argument
(encoded at the call site, decoded on the worker) and as a result.

A value the codec cannot represent must be refused when it is encoded, at the caller,
never stored and then found undecodable by the worker.
"""

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
from hypothesis import given
from hypothesis import strategies as st

from conveyor import Conveyor, SerializationError, Task


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Point(pydantic.BaseModel):
    x: int
    y: float
    label: str | None = None


@dataclasses.dataclass(frozen=True)
class Reading:
    sensor: uuid.UUID
    taken_at: datetime.datetime
    value: decimal.Decimal
    raw: bytes
    color: Color
    points: list[Point]


finite_floats = st.floats(allow_nan=False, allow_infinity=False)
# offsets whole to the minute: the ISO 8601 form that JSON carries has no seconds field
offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
    lambda minutes: datetime.timezone(datetime.timedelta(minutes=minutes))
)
aware_datetimes = st.datetimes(timezones=offsets)
finite_decimals = st.decimals(allow_nan=False, allow_infinity=False)
points = st.builds(Point, x=st.integers(), y=finite_floats, label=st.none() | st.text())
readings = st.builds(
    Reading,
    sensor=st.uuids(),
    taken_at=aware_datetimes,
    value=finite_decimals,
    raw=st.binary(),
    color=st.sampled_from(Color),
    points=st.lists(points, max_size=3),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | finite_floats | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)

CASES = [
    pytest.param(int, st.integers(), id="int"),
    pytest.param(float, st.floats(), id="float"),  # NaN and the infinities too
    pytest.param(str, st.text(), id="str"),
    pytest.param(bytes, st.binary(), id="bytes"),
    pytest.param(bool, st.booleans(), id="bool"),
    pytest.param(datetime.datetime, aware_datetimes, id="aware-datetime"),
    pytest.param(datetime.date, st.dates(), id="date"),
    pytest.param(datetime.timedelta, st.timedeltas(), id="timedelta"),
    pytest.param(uuid.UUID, st.uuids(), id="uuid"),
    pytest.param(decimal.Decimal, st.decimals(), id="decimal"),  # NaN, sNaN and infinities too
    pytest.param(Color, st.sampled_from(Color), id="enum"),
    pytest.param(Point, points, id="pydantic-model"),
    pytest.param(Reading, readings, id="dataclass"),
    pytest.param(
        list[dict[str, int]],
        st.lists(st.dictionaries(st.text(), st.integers())),
        id="list-of-dicts",
    ),
    pytest.param(
        dict[str, list[bytes]],
        st.dictionaries(st.text(), st.lists(st.binary())),
        id="dict-of-lists",
    ),
    pytest.param(
        tuple[int, str, float], st.tuples(st.integers(), st.text(), finite_floats), id="tuple"
    ),
    pytest.param(set[int], st.sets(st.integers()), id="set"),
    pytest.param(int | None, st.none() | st.integers(), id="optional"),
    pytest.param(int | str, st.integers() | st.text(), id="union"),
    pytest.param(Point | None, st.none() | points, id="optional-model"),
    pytest.param(Any, json_values, id="unannotated-json"),
]


def same(a: object, b: object) -> bool:
    """Equal, where a NaN equals a NaN and 0.0 differs from -0.0; Decimals keep exponents."""
    if isinstance(a, decimal.Decimal) and isinstance(b, decimal.Decimal):
        return a.compare_total(b) == 0
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return type(a) is type(b) and a == b


def task_taking(annotation: Any) -> Task[..., Any]:
    """A task on an app of its own whose one parameter and result have `annotation`."""

    def echo(value: Any) -> Any:
        return value

    echo.__annotations__ = {"value": annotation, "return": annotation}
    task: Task[..., Any] = Conveyor("memory://").task(name="fuzz.echo")(echo)
    return task


@pytest.mark.parametrize(("annotation", "values"), CASES)
def test_an_argument_comes_back_equal(annotation: Any, values: st.SearchStrategy[Any]) -> None:
    task = task_taking(annotation)

    @given(values)
    def round_trip(value: Any) -> None:
        payload = task.s(value).record.payload
        assert task.codec.decode(payload).keys() == {"value"}
        back = task.codec.decode(payload)["value"]
        assert same(back, value), (value, back, payload)

    round_trip()


@pytest.mark.parametrize(("annotation", "values"), CASES)
def test_a_result_comes_back_equal(annotation: Any, values: st.SearchStrategy[Any]) -> None:
    codec = task_taking(annotation).result_codec

    @given(values)
    def round_trip(value: Any) -> None:
        stored = codec.encode(value)
        back = codec.decode(stored)
        assert same(back, value), (value, back, stored)

    round_trip()


@given(st.text(alphabet=st.characters(codec=None, categories=["Cs", "Lu", "Nd"])))
def test_text_with_lone_surrogates_is_refused_at_the_caller_or_comes_back(text: str) -> None:
    """A lone surrogate cannot be spelled in UTF-8 JSON: the codec may refuse such text, but
    only when it is encoded; whatever it stores decodes to the text it was given."""
    task = task_taking(str)
    try:
        payload = task.s(text).record.payload
    except SerializationError:
        return
    assert task.codec.decode(payload) == {"value": text}
