"""Arguments whose encoding is over `max_payload_bytes` raise PayloadTooLarge; nothing is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from conveyor import ConfigurationError, Conveyor, PayloadTooLarge, SerializationError, Task

from .support import assert_nothing_stored

LIMIT = 200


async def upload(data: str) -> int:
    return len(data)


@pytest.fixture
async def small_app(url: str) -> AsyncIterator[Conveyor]:
    app = Conveyor(url, max_payload_bytes=LIMIT)
    try:
        yield app
    finally:
        await app.close()


@pytest.fixture
def upload_task(small_app: Conveyor) -> Task[..., Any]:
    return small_app.task(upload)


def _room_left(task: Task[..., Any]) -> int:
    """How many characters of data fit before the encoded payload reaches the limit."""
    return LIMIT - len(task.s("").record.payload)


async def test_a_payload_over_the_limit_raises_payload_too_large(
    small_app: Conveyor, upload_task: Task[..., Any]
) -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        await upload_task.enqueue("x" * (_room_left(upload_task) + 1))

    message = str(caught.value)
    assert upload_task.name in message
    assert f"{LIMIT + 1} bytes" in message
    assert f"{LIMIT}-byte limit" in message
    assert "max_payload_bytes" in message, "the message says how to raise the limit"
    assert isinstance(caught.value, SerializationError)
    await assert_nothing_stored(small_app)


async def test_a_payload_of_exactly_the_limit_is_accepted(
    small_app: Conveyor, upload_task: Task[..., Any]
) -> None:
    handle = await upload_task.enqueue("x" * _room_left(upload_task))

    stored = await (await small_app.connected()).get(handle.id)
    assert stored is not None
    assert len(stored.payload) == LIMIT


async def test_an_oversized_call_in_a_batch_fails_before_the_batch_is_built(
    small_app: Conveyor, upload_task: Task[..., Any]
) -> None:
    with pytest.raises(PayloadTooLarge):
        await small_app.enqueue_many([upload_task.s("small"), upload_task.s("x" * LIMIT)])
    await assert_nothing_stored(small_app)


@pytest.mark.parametrize("limit", [0, -1])
def test_a_limit_that_is_not_positive_is_a_configuration_error(limit: int) -> None:
    with pytest.raises(ConfigurationError, match="max_payload_bytes must be positive"):
        Conveyor("memory://", max_payload_bytes=limit)
