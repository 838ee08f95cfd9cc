"""Fixtures of the Redis-only tests: a private `redis-server` per module, so what a test
counts (`INFO commandstats`) is what its own backend sent, and a fresh prefix per test."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest

from conveyor.backends.redis import RedisBackend
from live_services import RedisServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    instance = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        instance.start()
        yield instance
    finally:
        instance.close()


@pytest.fixture
def url(server: RedisServer) -> str:
    """A store of its own on the private server."""
    return f"{server.url}?prefix=t-{secrets.token_hex(4)}"


@pytest.fixture
async def backend(url: str) -> AsyncIterator[RedisBackend]:
    async with opened(url) as instance:
        yield instance


@contextlib.asynccontextmanager
async def opened(url: str) -> AsyncIterator[RedisBackend]:
    instance = RedisBackend(url)
    await instance.open()
    try:
        yield instance
    finally:
        await instance.close()
