"""Helpers of the unit tests."""

from __future__ import annotations

from conveyor import Conveyor
from conveyor.backends.base import JobFilter


async def assert_nothing_stored(app: Conveyor) -> None:
    """The app's backend holds no job at all: a rejected call wrote nothing."""
    backend = await app.connected()
    assert await backend.counts() == {}
    assert await backend.list_jobs(JobFilter(limit=10)) == []
