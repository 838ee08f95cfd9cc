"""A Redis URL may carry a password and a database; messages and logs never show the password."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor import Conveyor
from conveyor.backends import from_url
from conveyor.errors import BackendUnavailable
from live_services import RedisServer

from .support import work_off

PASSWORD = "s3cret-pw"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    instance = RedisServer(tmp_path / "redis")
    instance.start()
    with instance.client() as client:
        client.config_set("requirepass", PASSWORD)
    try:
        yield instance
    finally:
        instance.close()


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
