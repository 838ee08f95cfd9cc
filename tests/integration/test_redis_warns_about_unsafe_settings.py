"""conveyor says so at start when the Redis it connects to may lose or evict jobs."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.backends import from_url
from live_services import RedisServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private Redis with an append-only file, as conveyor asks for."""
    instance = RedisServer(tmp_path / "redis")
    instance.start()
    try:
        yield instance
    finally:
        instance.close()


async def warnings_at_open(url: str, caplog: pytest.LogCaptureFixture) -> str:
    backend = from_url(url)
    with caplog.at_level(logging.WARNING, logger="conveyor.redis"):
        await backend.open()
    await backend.close()
    return caplog.text


async def test_a_redis_that_may_lose_or_evict_jobs_is_named(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    with server.client() as client:
        client.config_set("appendonly", "no")
        client.config_set("maxmemory-policy", "allkeys-lru")

    text = await warnings_at_open(server.url, caplog)

    assert f"Redis at {server.url} keeps no append-only file" in text
    assert "evicts keys when full (maxmemory-policy allkeys-lru)" in text


async def test_a_redis_set_up_for_durability_is_not_named(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    text = await warnings_at_open(server.url, caplog)

    assert "append-only" not in text
    assert "evicts" not in text


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_warning_is_for_the_worker_not_for_commands_that_look_at_the_store(
    server: RedisServer, tmp_path: Path
) -> None:
    with server.client() as client:
        client.config_set("appendonly", "no")
    (tmp_path / "redis_app.py").write_text(
        f"from conveyor import Conveyor\n\napp = Conveyor({server.url!r})\n"
    )
    looks = [
        run(tmp_path, "jobs", "list", "--url", server.url),
        run(tmp_path, "stats", "--app", "redis_app:app"),
        run(tmp_path, "jobs", "show", "--url", server.url, "no-such-job"),
    ]
    worker = run(tmp_path, "worker", "redis_app:app", "--burst")

    for done in looks:
        assert "append-only" not in done.stderr, done.args
    assert [done.returncode for done in looks] == [0, 0, 1]
    assert worker.returncode == 0, worker.stderr
    assert f"Redis at {server.url} keeps no append-only file" in worker.stderr
