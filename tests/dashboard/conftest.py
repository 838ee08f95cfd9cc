"""Fixtures of the dashboard tests: an app with tasks and a schedule, once per backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from conveyor import Conveyor
from live_services import fresh_postgres, fresh_redis

from .support import Seeded, build_app, seed

BACKENDS = ["memory", "sqlite", "redis", "postgres"]


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty store."""
    if request.param == "memory":
        yield "memory://"
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/jobs.db"
    elif request.param == "redis":
        yield fresh_redis()
    else:
        with fresh_postgres() as schema_url:  # a schema of its own, dropped afterwards
            yield schema_url


@pytest.fixture
async def app(url: str) -> AsyncIterator[Conveyor]:
    conveyor = build_app(url)
    try:
        yield conveyor
    finally:
        await conveyor.close()


@pytest.fixture
async def seeded(app: Conveyor) -> Seeded:
    """The ids of jobs of every state in the app's store."""
    return await seed(app)
