"""Awaiting a task's call under its timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from conveyor.errors import TaskTimeout

T = TypeVar("T")


async def within(timeout: float | None, call: Awaitable[T]) -> T:
    """Await `call`; after `timeout` seconds cancel it and raise TaskTimeout."""
    if timeout is None:
        return await call
    try:
        async with asyncio.timeout(timeout) as scope:
            return await call
    except TimeoutError:
        if scope.expired():
            raise TaskTimeout(timeout) from None
        raise
