"""Fixtures of the PostgreSQL-only tests: each test gets a schema of its own, dropped after."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from conveyor.backends.postgres import PostgresBackend, parse_url
from live_services import fresh_postgres


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A conveyor URL naming a new, empty schema."""
    with fresh_postgres() as url:
        yield url


@pytest.fixture
def conninfo(pg_url: str) -> str:
    """The same database as a plain libpq URL, for connections of the test's own."""
    return parse_url(pg_url)[0]


@pytest.fixture
def schema(pg_url: str) -> str:
    return parse_url(pg_url)[1]


@pytest.fixture
async def backend(pg_url: str) -> AsyncIterator[PostgresBackend]:
    instance = PostgresBackend(pg_url)
    await instance.open()
    try:
        yield instance
    finally:
        await instance.close()
