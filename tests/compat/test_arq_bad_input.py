"""What conveyor cannot do as ARQ does is refused where it is written, in one line."""

from __future__ import annotations

import datetime
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import conveyor.compat.arq
from conveyor import ConfigurationError, SerializationError
from conveyor.compat.arq import ArqRedis, RedisSettings, conveyor_app, create_pool, func

from .conftest import ROOT


async def job(ctx: dict[str, Any], value: Any) -> None:
    pass


def not_async(ctx: dict[str, Any]) -> None:
    pass


@pytest.fixture
async def pool(tmp_path: Path) -> Any:
    app = conveyor_app({"functions": [job], "redis_settings": RedisSettings.from_dsn("memory://")})
    yield ArqRedis(app)
    await app.close()


async def test_arguments_must_be_json(pool: ArqRedis) -> None:
    with pytest.raises(SerializationError, match="cannot encode argument 'args'"):
        await pool.enqueue_job("job", object())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"_defer_by": 5, "_defer_until": datetime.datetime.now(datetime.UTC)},
            "use either _defer_by or _defer_until, not both",
        ),
        ({"_expires": 10}, "_expires is not supported"),
        ({"_job_try": 3}, "_job_try is not supported"),
        ({"_defer_by": -1}, "delay must be >= 0 seconds"),
        ({"_job_id": "two\nlines"}, "job_id must be a string of 1 to 200 characters"),
    ],
)
async def test_unsupported_enqueue_options_are_refused(
    pool: ArqRedis, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        await pool.enqueue_job("job", 1, **options)


async def test_pickling_serializers_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="never pickles"):
        await create_pool(RedisSettings.from_dsn("memory://"), job_serializer=pickle.dumps)


def test_settings_mistakes_are_named() -> None:
    with pytest.raises(ConfigurationError, match="not a coroutine function"):
        func(not_async)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="give at least one of functions, cron_jobs"):
        conveyor_app({"redis_settings": RedisSettings.from_dsn("memory://")})
    with pytest.raises(ConfigurationError, match="needs a URL"):
        RedisSettings.from_dsn("localhost")
    memory = RedisSettings.from_dsn("memory://")
    with pytest.raises(ConfigurationError, match="after_job_end: not supported"):
        conveyor_app({"functions": [job], "after_job_end": job, "redis_settings": memory})
    with pytest.raises(ConfigurationError, match="retry_jobs=False is not supported"):
        conveyor_app({"functions": [job], "retry_jobs": False, "redis_settings": memory})


def test_redis_settings_name_a_redis_url() -> None:
    assert RedisSettings().conveyor_url == "redis://localhost:6379/0"
    settings = RedisSettings(host="cache", port=6380, database=2, password="p@ss", ssl=True)
    assert settings.conveyor_url == "rediss://:p%40ss@cache:6380/2"
    assert RedisSettings.from_dsn("sqlite:///jobs.db").conveyor_url == "sqlite:///jobs.db"


def test_the_pool_is_not_a_redis_client(pool: ArqRedis) -> None:
    with pytest.raises(AttributeError, match="not a Redis client"):
        pool.set("key", "value")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["examples.nowhere.WorkerSettings"], "cannot import examples.nowhere"),
        (
            ["examples.arq_migration.app.WorkerSettings", "--processes", "2"],
            "--arq runs one worker process: drop --processes",
        ),
    ],
)
def test_the_cli_refuses_what_it_cannot_run_in_one_line(arguments: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "conveyor", "worker", "--arq", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert message in done.stderr


def test_the_compat_module_exports_its_pinned_names() -> None:
    assert sorted(conveyor.compat.arq.__all__) == [
        "ArqRedis",
        "CronJob",
        "Function",
        "Job",
        "JobDef",
        "JobResult",
        "JobStatus",
        "RedisSettings",
        "Retry",
        "conveyor_app",
        "create_pool",
        "cron",
        "func",
        "run_worker",
    ]
