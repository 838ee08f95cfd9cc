"""Edges of the Redis scripts: a record gone from under its index, a claim sent twice."""

from __future__ import annotations

import asyncio
import json

import redis

from conveyor.backends import from_url
from conveyor.backends.redis import RedisBackend
from conveyor.job import JobRecord, JobState
from live_services import fresh_redis


def job(job_id: str) -> JobRecord:
    return JobRecord(id=job_id, task="tasks.work", queue="default", payload=b"{}")


async def test_a_claim_skips_a_missing_record_and_takes_the_rest() -> None:
    url = fresh_redis()
    backend = from_url(url)
    await backend.open()
    try:
        await backend.enqueue([job("a"), job("gone"), job("c")])
        assert isinstance(backend, RedisBackend)
        raw = redis.Redis.from_url(url.split("?")[0])
        assert raw.delete(f"{backend.prefix}:{{default}}:job:gone") == 1

        claimed = await backend.claim(["default"], 10, "worker-1", 30.0)

        assert [record.id for record in claimed] == ["a", "c"]
        assert await backend.get("gone") is None
        assert await backend.claim(["default"], 10, "worker-1", 30.0) == []
        assert await backend.counts() == {"default": {JobState.ACTIVE: 2}}
    finally:
        await backend.close()


async def test_a_claim_sent_twice_leases_its_jobs_once() -> None:
    # what a retry does when the first reply was lost: the same script, the same token
    backend = RedisBackend(fresh_redis())
    await backend.open()
    try:
        await backend.enqueue([job("a"), job("b"), job("c")])
        args = ["token-1", 30.0, "worker-1", 2, "default", 1]  # a queue, then its weight

        first = [json.loads(raw)["id"] for raw in await backend._run("CLAIM", args)]
        again = [json.loads(raw)["id"] for raw in await backend._run("CLAIM", args)]

        assert first == again == ["a", "b"]
        assert [r.id for r in await backend.claim(["default"], 10, "worker-2", 30.0)] == ["c"]
        record = await backend.get("a")
        assert record is not None
        assert record.attempts == 1, "the second send counted no second attempt"
    finally:
        await backend.close()


async def test_recovery_frees_the_slot_of_a_limited_job_whose_record_is_gone() -> None:
    url = fresh_redis()
    backend = RedisBackend(url)
    await backend.open()
    try:
        limited = [
            JobRecord(id=i, task="tasks.work", queue="default", payload=b"{}", limit_key="k",
                      limit=1)
            for i in ("gone", "next")
        ]  # fmt: skip
        await backend.enqueue(limited)
        assert [r.id for r in await backend.claim(["default"], 10, "worker-1", 0.05)] == ["gone"]
        raw = redis.Redis.from_url(url.split("?")[0])
        assert raw.delete(f"{backend.prefix}:{{default}}:job:gone") == 1
        assert await backend.claim(["default"], 10, "worker-1", 30.0) == []

        await asyncio.sleep(0.1)  # the lease runs out
        await backend._run("RECOVER", [3, "{}", 100])

        assert [r.id for r in await backend.claim(["default"], 10, "worker-1", 30.0)] == ["next"]
        assert raw.smembers(f"{backend.prefix}:limit:k") == {b"next"}
        assert raw.hgetall(f"{backend.prefix}:limits") == {b"next": b"k"}
    finally:
        await backend.close()
