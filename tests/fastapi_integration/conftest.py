"""Fixtures of the FastAPI tests.

The folder is not named `fastapi`: as a package it would shadow FastAPI itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conveyor import Conveyor


@pytest.fixture
async def conveyor(tmp_path: Path) -> AsyncIterator[Conveyor]:
    """A Conveyor app on a fresh SQLite file, with no tasks yet."""
    app = Conveyor(f"sqlite:///{tmp_path}/jobs.db")
    try:
        yield app
    finally:
        await app.close()
