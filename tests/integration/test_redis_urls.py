"""Redis URLs: a password and a database, and conveyor's own `?prefix=` namespace.

Messages and logs never show the password.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from conveyor import Conveyor
from conveyor.backends import from_url
from conveyor.errors import BackendUnavailable, ConfigurationError
from conveyor.job import JobRecord, JobState
from live_services import RedisServer, fresh_redis

from .support import work_off

PASSWORD = "s3cret-pw"


@pytest.fixture
def private(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of the test's own, which it may pause."""
    instance = RedisServer(tmp_path / "redis")
    instance.start()
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def server(private: RedisServer) -> RedisServer:
    with private.client() as client:
        client.config_set("requirepass", PASSWORD)
    return private


def pause(instance: RedisServer, milliseconds: int) -> None:
    """Redis holds every client's commands for that long: they are answered late."""
    with instance.client() as client:
        client.execute_command("CLIENT", "PAUSE", str(milliseconds), "ALL")


async def ping() -> str:
    return "pong"


async def test_jobs_run_on_a_password_protected_database(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{server.port}/3"
    async with Conveyor(url) as app:
        task = app.task(ping)
        handle = await task.enqueue()
        with caplog.at_level(logging.INFO, logger="conveyor"):
            await work_off(app)
        assert await handle.result(timeout=5) == "pong"
        assert PASSWORD not in repr(app)

    assert f"redis://:***@127.0.0.1:{server.port}/3" in caplog.text, "the worker names its store"
    assert PASSWORD not in caplog.text


async def test_a_wrong_password_is_an_error_that_does_not_show_it(server: RedisServer) -> None:
    backend = from_url(f"redis://:wrong-{PASSWORD}@127.0.0.1:{server.port}/0")

    with pytest.raises(BackendUnavailable) as caught:
        await backend.open()

    assert "cannot reach Redis at redis://:***@127.0.0.1" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def job(job_id: str) -> JobRecord:
    return JobRecord(id=job_id, task="tasks.work", queue="default", payload=b"{}")


async def test_stores_with_other_prefixes_share_a_database_without_meeting() -> None:
    base = fresh_redis().split("?")[0]
    first, second = from_url(f"{base}?prefix=app-one"), from_url(f"{base}?prefix=app-two")
    for backend in (first, second):
        await backend.open()
    try:
        await first.enqueue([job("same-id")])
        [created] = await second.enqueue([job("same-id")])

        assert created.created, "the other store had no job with that id"
        assert [r.id for r in await second.claim(["default"], 10, "w", 30.0)] == ["same-id"]
        assert [r.id for r in await first.claim(["default"], 10, "w", 30.0)] == ["same-id"]
    finally:
        for backend in (first, second):
            await backend.close()
        with redis.Redis.from_url(base) as client:
            for key in [*client.scan_iter(match="app-one:*"), *client.scan_iter("app-two:*")]:
                client.unlink(key)


@pytest.mark.parametrize("prefix", ["", "has space", "x" * 65, "quote'd"])
def test_a_bad_prefix_is_refused_with_what_is_allowed(prefix: str) -> None:
    with pytest.raises(ConfigurationError, match="prefix must be 1 to 64 letters"):
        from_url(f"redis://127.0.0.1:6379/0?prefix={prefix}")


async def test_a_command_without_an_answer_fails_within_the_socket_timeout() -> None:
    # a server that accepts the connection and never answers: the command must not hang
    server = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    backend = from_url(f"redis://127.0.0.1:{port}/0?socket_timeout=0.3")
    try:
        async with asyncio.timeout(10):
            with pytest.raises(BackendUnavailable, match="cannot reach Redis"):
                await backend.open()
    finally:
        server.close()


async def test_a_slow_answer_within_the_socket_timeout_is_waited_for(
    private: RedisServer,
) -> None:
    # redis-py drops the connection after 5 s of its own unless told otherwise, and sends
    # the command again on a new one: the URL's timeout rules, on the same connection
    async with Conveyor(f"{private.url}?socket_timeout=20") as app:
        task = app.task(ping)
        await task.enqueue()  # connected
        with private.client() as client:
            connections = client.info("stats")["total_connections_received"]
        pause(private, 6000)
        handle = await task.enqueue()
        assert await handle.status() == JobState.QUEUED
        with private.client() as client:
            made = client.info("stats")["total_connections_received"] - connections
        assert made == 2, "only the two looks at the server's stats connected"


async def test_a_call_the_server_leaves_unanswered_fails_after_the_socket_timeout(
    private: RedisServer,
) -> None:
    async with Conveyor(f"{private.url}?socket_timeout=0.5") as app:
        task = app.task(ping)
        await task.enqueue()  # connected
        pause(private, 4000)
        with pytest.raises(BackendUnavailable, match=r"no answer in 0\.5 s"):
            await task.enqueue()


@pytest.mark.parametrize("value", ["abc", "0", "-1", "inf", "nan", ""])
def test_a_bad_socket_timeout_is_refused_with_what_is_allowed(value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        from_url(f"redis://127.0.0.1:6379/0?socket_timeout={value}")
    assert str(caught.value) == (
        f"bad Redis URL 'redis://127.0.0.1:6379/0?socket_timeout={value}': socket_timeout must "
        f"be a number of seconds above 0, such as ?socket_timeout=30, got {value!r}"
    )
