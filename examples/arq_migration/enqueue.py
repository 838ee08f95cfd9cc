"""Enqueue jobs of the ARQ app in app.py and wait for a result, as ARQ code does."""

from __future__ import annotations

import asyncio

from conveyor.compat.arq import create_pool

from .app import REDIS_SETTINGS


async def main() -> None:
    redis = await create_pool(REDIS_SETTINGS)
    job = await redis.enqueue_job("send_email", "ada@example.com", "Welcome")
    assert job is not None
    print(await job.status())
    print(await job.result(timeout=30))
    first = await redis.enqueue_job("record_signup", 42, _job_id="signup-42")
    again = await redis.enqueue_job("record_signup", 42, _job_id="signup-42")
    print(first, again)  # the second is None: that job exists already
    await redis.close()


if __name__ == "__main__":
    asyncio.run(main())
