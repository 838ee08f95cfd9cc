"""The worker registry is one hash whose entries carry the server's clock: a renewal sets
`last_seen` from Redis's TIME, and a listing drops the entries that expired, so the workers
that died leave nothing behind."""

from __future__ import annotations

import asyncio

from conveyor.backends.base import WorkerInfo
from conveyor.backends.redis import RedisBackend
from live_services import RedisServer


def info(name: str) -> WorkerInfo:
    return WorkerInfo(name, "host-1", 7, ("default",), 4, started_at=1_700_000_000.5)


async def test_last_seen_is_the_servers_time(backend: RedisBackend, server: RedisServer) -> None:
    await backend.register_worker(info("w"), 30.0)

    [seen] = await backend.workers()

    with server.client() as client:
        seconds, micros = client.time()
    assert 0 <= seconds + micros / 1e6 - seen.last_seen < 5


async def test_a_listing_drops_the_expired_entries(
    backend: RedisBackend, server: RedisServer
) -> None:
    for i in range(5):
        await backend.register_worker(info(f"gone-{i}"), 0.05)
    await backend.register_worker(info("alive"), 30.0)
    await asyncio.sleep(0.1)

    assert [w.name for w in await backend.workers()] == ["alive"]
    with server.client() as client:
        assert client.hkeys(f"{backend.prefix}:workers") == [b"alive"]
