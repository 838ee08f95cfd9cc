"""ARQ's job API and ctx on a conveyor worker in this process, on every backend."""

from __future__ import annotations

import asyncio
import datetime
import time
from typing import Any

import pytest

from conveyor import Conveyor, JobCancelled, JobFailed, Worker
from conveyor.compat.arq import (
    ArqRedis,
    Job,
    JobDef,
    JobResult,
    JobStatus,
    RedisSettings,
    Retry,
    conveyor_app,
    func,
)


async def startup(ctx: dict[str, Any]) -> None:
    ctx["started"] = True


async def hello(ctx: dict[str, Any], name: str, greeting: str = "hello") -> dict[str, Any]:
    return {
        "text": f"{greeting}, {name}",
        "job_id": ctx["job_id"],
        "job_try": ctx["job_try"],
        "enqueue_time": ctx["enqueue_time"].timestamp(),
        "score": ctx["score"],
        "startup_state": [ctx["region"], ctx["started"]],
        "redis": type(ctx["redis"]).__name__,
        "conveyor": type(ctx["conveyor"]).__name__,
    }


async def always_retry(ctx: dict[str, Any]) -> None:
    raise Retry(defer=datetime.timedelta(0))


async def slow(ctx: dict[str, Any]) -> None:
    await asyncio.sleep(30)


async def boom(ctx: dict[str, Any]) -> None:
    raise ValueError("boom")


def settings(url: str) -> dict[str, Any]:
    return {
        "functions": [
            hello,
            func(always_retry, max_tries=2),
            # tries to spare: as in ARQ, a timeout or an exception fails the job at once
            func(slow, timeout=0.2, max_tries=3),
            func(boom, max_tries=3),
        ],
        "redis_settings": RedisSettings.from_dsn(url),
        "ctx": {"region": "eu"},
        "on_startup": startup,
    }


@pytest.fixture
async def app(url: str) -> Any:
    app = conveyor_app(settings(url))
    yield app
    await app.close()


async def work_off(app: Conveyor, job: Job) -> None:
    """Burst workers until `job` is complete (a retry due at once may need another)."""
    for _ in range(20):
        await Worker(app, burst=True, idle_poll=0.05, lease=2.0, heartbeat=0.1).run()
        if await job.status() is JobStatus.complete:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"{job} never completed")


async def test_a_job_sees_arq_ctx_and_the_startup_state(app: Conveyor) -> None:
    pool = ArqRedis(app)
    before = time.time()
    job = await pool.enqueue_job("hello", "Ada", greeting="hi", _job_id="hello-1")
    after = time.time()
    assert job is not None
    assert await job.status() is JobStatus.queued
    assert isinstance(await job.info(), JobDef)

    await work_off(app, job)

    result = await job.result(timeout=5)
    assert result["text"] == "hi, Ada"
    assert (result["job_id"], result["job_try"]) == ("hello-1", 1)
    assert before - 1 <= result["enqueue_time"] <= after + 1  # the store's clock, not ours
    assert isinstance(result["score"], int)
    assert result["startup_state"] == ["eu", True]
    assert (result["redis"], result["conveyor"]) == ("ArqRedis", "Context")
    info = await job.info()
    assert isinstance(info, JobResult)
    assert (info.args, info.kwargs, info.success, info.queue_name) == (
        ("Ada",),
        {"greeting": "hi"},
        True,
        "arq:queue",
    )


async def test_statuses_carry_arq_names(app: Conveyor) -> None:
    pool = ArqRedis(app)
    later = await pool.enqueue_job("hello", "Ada", _defer_by=60)
    until = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
    at_five = await pool.enqueue_job("hello", "Bob", _defer_until=until)
    assert later is not None
    assert at_five is not None
    assert await later.status() is JobStatus.deferred
    assert await at_five.status() is JobStatus.deferred
    unknown = Job("no-such-job", pool)
    assert await unknown.status() is JobStatus.not_found
    assert await unknown.info() is None


async def test_a_job_out_of_tries_fails(app: Conveyor) -> None:
    job = await ArqRedis(app).enqueue_job("always_retry")
    assert job is not None

    await work_off(app, job)

    with pytest.raises(JobFailed, match="Retry") as failed:
        await job.result(timeout=5)
    assert failed.value.reason == "exception"
    info = await job.result_info()
    assert info is not None
    assert (info.success, info.job_try) == (False, 2)


async def test_a_job_past_its_timeout_fails_as_a_timeout(app: Conveyor) -> None:
    job = await ArqRedis(app).enqueue_job("slow")
    assert job is not None

    await work_off(app, job)

    with pytest.raises(JobFailed) as failed:
        await job.result(timeout=5)
    assert failed.value.reason == "timeout"
    info = await job.result_info()
    assert info is not None
    assert info.job_try == 1, "a timeout is not retried, as in ARQ"


async def test_an_exception_in_the_job_is_its_failure(app: Conveyor) -> None:
    job = await ArqRedis(app).enqueue_job("boom")
    assert job is not None

    await work_off(app, job)

    with pytest.raises(JobFailed, match="ValueError: boom"):
        await job.result(timeout=5)
    info = await job.result_info()
    assert info is not None
    assert info.job_try == 1, "an exception is not retried, as in ARQ"


async def test_abort_cancels_a_waiting_job(app: Conveyor) -> None:
    job = await ArqRedis(app).enqueue_job("hello", "Ada", _defer_by=60)
    assert job is not None

    assert await job.abort(timeout=5) is True

    assert await job.status() is JobStatus.complete
    with pytest.raises(JobCancelled):
        await job.result(timeout=5)
