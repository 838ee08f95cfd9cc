"""The ARQ example app, unchanged but for its imports, runs on `conveyor worker --arq`: a
real worker process on SQLite and on Redis, fed through ARQ's `create_pool`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from types import ModuleType

from conveyor.backends.base import JobFilter
from conveyor.compat.arq import JobResult, JobStatus, create_pool

from .conftest import ROOT

SETTINGS = "examples.arq_migration.app.WorkerSettings"


def start_worker(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "conveyor", "worker", "--arq", SETTINGS, "--heartbeat", "0.5"],
        cwd=ROOT,
        env={**os.environ, "REDIS_DSN": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_retry_dedupe_and_hooks_with_a_worker_process(shared_example: ModuleType) -> None:
    redis = await create_pool(shared_example.REDIS_SETTINGS)
    worker = start_worker(shared_example.REDIS_SETTINGS.conveyor_url)
    try:
        email = await redis.enqueue_job("send_email", "ada@example.com", "Welcome")
        signup = await redis.enqueue_job("record_signup", 42, _job_id="signup-42")
        again = await redis.enqueue_job("record_signup", 42, _job_id="signup-42")
        assert email is not None
        assert signup is not None
        assert again is None

        # the mailer (made by on_startup) refuses the first try: Retry(defer=1 * 5)
        assert await email.result(timeout=60) == {
            "to": "ada@example.com",
            "subject": "Welcome",
            "job_try": 2,
        }
        assert (await signup.result(timeout=30)).startswith("user 42 signed up (job signup-42,")
        assert await redis.enqueue_job("record_signup", 42, _job_id="signup-42") is None
        info = await signup.info()
        assert isinstance(info, JobResult)
        assert (info.function, info.args, info.job_try, info.success) == (
            "record_signup",
            (42,),
            1,
            True,
        )
        assert await signup.status() is JobStatus.complete
        store = await redis.app.connected()
        signups = await store.list_jobs(JobFilter(task="record_signup"))
        assert [job.id for job in signups] == ["signup-42"]
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
        await redis.close()
    assert worker.returncode == 0, err
    # on_shutdown saw the ctx on_startup filled
    assert "mailer closed after sending 1 message(s)" in out


async def test_run_worker_runs_the_settings_as_arqs_does(shared_example: ModuleType) -> None:
    redis = await create_pool(shared_example.REDIS_SETTINGS)
    signup = await redis.enqueue_job("record_signup", 7)
    assert signup is not None
    script = (
        "from conveyor.compat.arq import run_worker\n"
        "from examples.arq_migration.app import WorkerSettings\n"
        "run_worker(WorkerSettings, burst=True)\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        cwd=ROOT,
        env={**os.environ, "REDIS_DSN": shared_example.REDIS_SETTINGS.conveyor_url},
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert (await signup.result(timeout=5)).startswith("user 7 signed up")
    await redis.close()
