"""Fixtures of the contract suite: every test runs once per backend in `BACKENDS`.

A new backend joins the suite by adding its name here and a branch to `backend_url`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from conveyor.backends import Backend, from_url
from live_services import fresh_postgres, fresh_redis, fresh_redis_cluster

BACKENDS = ["memory", "sqlite", "redis", "redis-cluster", "postgres"]
# the backends that enforce limits (JobRecord.limit_key); the others refuse a limited job
WITH_LIMITS = ["memory", "sqlite", "redis", "redis-cluster", "postgres"]


def backend_url(name: str, tmp_path: Path) -> str:
    """A URL naming a fresh, empty store of the backend `name`."""
    if name == "memory":
        return "memory://"
    if name == "sqlite":
        return f"sqlite:///{tmp_path}/jobs.db"
    if name == "redis":
        return fresh_redis()
    if name == "redis-cluster":  # 3 masters on loopback, given one node's URL
        return fresh_redis_cluster()
    raise LookupError(f"no contract URL for backend {name!r}")


@contextlib.contextmanager
def fresh_store(name: str, tmp_path: Path) -> Iterator[str]:
    """`backend_url`, for stores that must also be removed after the test (a schema)."""
    if name == "postgres":
        with fresh_postgres() as url:
            yield url
    else:
        yield backend_url(name, tmp_path)


@contextlib.asynccontextmanager
async def open_backend(name: str, tmp_path: Path) -> AsyncIterator[Backend]:
    """An open backend `name` over a fresh store, closed afterwards."""
    with fresh_store(name, tmp_path) as url:
        instance = from_url(url)
        await instance.open()
        try:
            yield instance
        finally:
            await instance.close()


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """An open backend over a fresh store, closed after the test."""
    async with open_backend(request.param, tmp_path) as instance:
        yield instance


@pytest.fixture
async def peer(backend: Backend) -> AsyncIterator[Backend]:
    """A second backend instance on the same store, as another process would open it.

    A backend whose store lives inside one instance (memory) has no other instance that can
    see its jobs, so its peer is the instance itself.
    """
    if not backend.capabilities.shared_across_processes:
        yield backend
        return
    other = from_url(backend.url)
    await other.open()
    try:
        yield other
    finally:
        await other.close()
