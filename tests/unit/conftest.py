"""Fixtures of the unit tests: a fresh app per test, once per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conveyor import Conveyor

BACKENDS = ["memory", "sqlite"]


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty store."""
    return "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/jobs.db"


@pytest.fixture
async def app(url: str) -> AsyncIterator[Conveyor]:
    """An app with no tasks yet, on a fresh store; closed after the test."""
    conveyor = Conveyor(url)
    try:
        yield conveyor
    finally:
        await conveyor.close()
