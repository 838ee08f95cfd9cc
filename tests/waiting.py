"""Polling a condition until it holds, for tests that watch other processes work."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

Predicate = Callable[[], bool | Awaitable[bool]]


async def wait_until(
    predicate: Predicate, timeout: float, what: str, fail: Callable[[str], object]
) -> None:
    """Poll `predicate` (sync or async) until true; `fail` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        outcome = predicate()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() >= deadline:
            fail(f"timed out after {timeout:g} s waiting for {what}")
            return
        await asyncio.sleep(0.02)
