"""Fixtures of the fault suite: a `Harness` per test, on every backend in `BACKENDS`.

A backend joins the suite by adding its name here and a branch to `open_store`; tests of a
fault specific to one store take `sqlite_harness` (SQLite's file) or build their own (the
Redis server). Redis runs as a private `redis-server` per test (AOF on), so a test may
kill it, and the shared test database is never touched.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from live_services import RedisClusterServers, RedisServer, fresh_postgres

from .harness import Harness

BACKENDS = ["sqlite", "redis", "redis-cluster", "postgres"]


Servers = TypeVar("Servers", RedisServer, RedisClusterServers)


@contextlib.contextmanager
def running(servers: Servers) -> Iterator[Servers]:
    """`servers` started, and killed afterwards."""
    try:
        servers.start()
        yield servers
    finally:
        servers.close()


def private_redis(
    directory: Path, *, fsync: str = "everysec"
) -> contextlib.AbstractContextManager[RedisServer]:
    """A running private Redis server, killed afterwards."""
    return running(RedisServer(directory, fsync=fsync))


def private_redis_cluster(
    directory: Path, *, fsync: str = "everysec"
) -> contextlib.AbstractContextManager[RedisClusterServers]:
    """A running private Redis Cluster of 3 masters, killed afterwards."""
    return running(RedisClusterServers(directory, fsync=fsync))


@contextlib.asynccontextmanager
async def open_harness(directory: Path, url: str) -> AsyncIterator[Harness]:
    """A harness on the store at `url`; every process the test starts is killed afterwards."""
    instance = Harness(directory, url)
    await instance.jobs.app.open()  # creates the schema before any worker starts
    try:
        yield instance
    finally:
        await instance.close()


@contextlib.asynccontextmanager
async def open_store(name: str, directory: Path) -> AsyncIterator[Harness]:
    """A harness on a fresh, empty store of the backend `name`, shared by processes."""
    if name == "sqlite":
        async with open_harness(directory, f"sqlite:///{directory}/jobs.db") as harness:
            yield harness
    elif name == "redis":
        with private_redis(directory / "redis") as server:
            async with open_harness(directory, server.url) as harness:
                yield harness
    elif name == "redis-cluster":  # 3 masters on loopback, given one node's URL
        with private_redis_cluster(directory / "redis-cluster") as cluster:
            async with open_harness(directory, cluster.url) as harness:
                yield harness
    elif name == "postgres":  # a fresh schema of the shared server, dropped afterwards
        with fresh_postgres() as url:
            async with open_harness(directory, url) as harness:
                yield harness
    else:
        raise LookupError(f"no fault-suite store for backend {name!r}")


@pytest.fixture(params=BACKENDS)
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    """A fresh store and oracle log; every process the test starts is killed afterwards."""
    async with open_store(request.param, tmp_path) as instance:
        yield instance


@pytest.fixture
async def sqlite_harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """A harness on a fresh SQLite file, for faults of that store: its file, raw rows."""
    async with open_store("sqlite", tmp_path) as instance:
        yield instance
