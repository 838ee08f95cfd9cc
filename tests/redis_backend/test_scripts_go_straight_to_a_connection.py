"""The store sends its scripts on connections of its own, beside redis-py's pool: what goes
wrong on one (Redis closed it, the script cache was flushed, a call was cut off before its
reply) is mended, and no call reads another's reply."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys

import pytest

from conveyor.backends.redis import RedisBackend
from conveyor.errors import BackendUnavailable
from conveyor.job import JobRecord, JobState
from live_services import RedisServer

from .conftest import opened


def job(queue: str = "q") -> JobRecord:
    return JobRecord(id=secrets.token_hex(8), task="t", queue=queue, payload=b"{}")


def clients(server: RedisServer) -> int:
    with server.client() as client:
        return int(client.info("clients")["connected_clients"])


async def test_an_enqueue_after_redis_closed_the_connection_is_stored_once(
    backend: RedisBackend, server: RedisServer
) -> None:
    first = job()
    await backend.enqueue([first])
    with server.client() as client:
        killed = client.client_kill_filter(_type="normal", skipme=True)
    assert killed >= 1
    second = job()
    (stored,) = await backend.enqueue([second])
    assert stored.created
    counts = await backend.counts()
    assert counts["q"][JobState.QUEUED] == 2
    found = await backend.get(second.id)
    assert found is not None
    assert found.id == second.id


async def test_a_flushed_script_cache_is_loaded_again(
    backend: RedisBackend, server: RedisServer
) -> None:
    await backend.enqueue([job()])
    with server.client() as client:
        client.script_flush()
    later = job()
    (stored,) = await backend.enqueue([later])
    assert stored.created
    with server.client() as client:
        assert client.script_exists(backend._scripts["ENQUEUE"].sha) == [True]
    found = await backend.get(later.id)
    assert found is not None
    assert found.state == JobState.QUEUED


async def test_a_call_cut_off_before_its_reply_leaves_no_reply_for_the_next_call(
    server: RedisServer,
) -> None:
    url = f"{server.url}?prefix=t-{secrets.token_hex(4)}&socket_timeout=0.3"
    async with opened(url) as backend:
        first = job()
        await backend.enqueue([first])
        with server.client() as client:
            client.execute_command("CLIENT", "PAUSE", "1000", "ALL")
        late = job()
        with pytest.raises(BackendUnavailable, match=r"no answer in 0\.3 s"):
            await backend.enqueue([late])
        await asyncio.sleep(1.0)  # the pause is over
        # each call reads its own reply, on a connection that was given nothing else
        for _ in range(3):
            found = await backend.get(first.id)
            assert found is not None
            assert found.id == first.id
        # the cut-off enqueue closed its connection, and Redis drops a closed client's
        # held command: the job was not stored, as the caller was told
        assert await backend.get(late.id) is None
        (again,) = await backend.enqueue([job()])
        assert again.created


async def test_a_closed_store_leaves_no_connection_open(server: RedisServer) -> None:
    before = clients(server)
    url = f"{server.url}?prefix=t-{secrets.token_hex(4)}"
    async with opened(url) as backend:
        await asyncio.gather(*(backend.enqueue([job()]) for _ in range(5)))
        assert clients(server) > before
    assert clients(server) == before


async def test_a_url_that_bounds_the_pool_holds_the_store_to_it(server: RedisServer) -> None:
    before = clients(server)
    url = f"{server.url}?prefix=t-{secrets.token_hex(4)}&max_connections=2"
    async with opened(url) as backend:
        # calls past the bound wait for a connection rather than fail
        stored = await asyncio.gather(*(backend.enqueue([job()]) for _ in range(20)))
        assert all(item.created for (item,) in stored)
        assert clients(server) - before <= 2
        counts = await backend.counts()
        assert counts["q"][JobState.QUEUED] == 20


async def test_a_burst_past_the_default_pool_size_is_stored(server: RedisServer) -> None:
    # redis-py 8's pool refuses a 101st call in flight unless the URL says otherwise
    url = f"{server.url}?prefix=t-{secrets.token_hex(4)}"
    async with opened(url) as backend:
        stored = await asyncio.gather(*(backend.enqueue([job()]) for _ in range(250)))
        assert all(item.created for (item,) in stored)
        counts = await backend.counts()
        assert counts["q"][JobState.QUEUED] == 250


def test_without_hiredis_the_store_says_which_extra_to_install() -> None:
    code = (
        "import sys; sys.modules['hiredis'] = None\n"  # as if it were not installed
        "from conveyor.backends import from_url\n"
        "try:\n"
        "    from_url('redis://127.0.0.1:6379/0')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc, sep=': ')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == (
        "ConfigurationError: the Redis backend needs redis-py and hiredis (hiredis is "
        "missing): pip install 'conveyor[redis]'"
    )
