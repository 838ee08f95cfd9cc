"""Fixtures of the metrics tests: a `Harness` on a fresh store, SQLite unless a test asks for
every backend that several processes can share."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from live_services import fresh_postgres, fresh_redis

from .support import Harness

SHARED_BACKENDS = ["sqlite", "redis", "postgres"]


@contextlib.contextmanager
def store_url(name: str, directory: Path) -> Iterator[str]:
    if name == "sqlite":
        yield f"sqlite:///{directory}/jobs.db"
    elif name == "redis":
        yield fresh_redis()
    elif name == "postgres":
        with fresh_postgres() as url:  # a schema of its own, dropped after the test
            yield url
    else:
        raise LookupError(f"no store for backend {name!r}")


@contextlib.asynccontextmanager
async def open_harness(name: str, directory: Path) -> AsyncIterator[Harness]:
    with store_url(name, directory) as url:
        harness = Harness(directory, url)
        await harness.app.open()  # the schema exists before any worker starts
        try:
            yield harness
        finally:
            await harness.close()


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """A harness on a fresh SQLite file."""
    async with open_harness("sqlite", tmp_path) as instance:
        yield instance


@pytest.fixture(params=SHARED_BACKENDS)
async def shared_harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    """A harness on a fresh store of each backend that worker processes can share."""
    async with open_harness(request.param, tmp_path) as instance:
        yield instance
