"""Limits hold while claimers on separate connections race for the same keys.

The contract suite checks one claim at a time; here eight backend instances, each with a
pool of its own as eight worker processes would have, claim at once, so that their
transactions really overlap in PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from collections import Counter
from collections.abc import AsyncIterator

import psycopg
import pytest

from conveyor.backends.base import Ack, JobFilter, Lease
from conveyor.backends.postgres import PostgresBackend
from conveyor.job import JobRecord, JobState

CLAIMERS = 8
QUEUES = ["default", "other"]
# what each claimer asks for: claimers of different queues meet only through their keys
ASKS = [["default"], ["other"], QUEUES]


def job(
    job_id: str, queue: str = "default", limit_key: str | None = None, limit: int | None = None
) -> JobRecord:
    return JobRecord(
        id=job_id, task="tasks.work", queue=queue, payload=b"{}", limit_key=limit_key, limit=limit
    )


@pytest.fixture
async def claimers(pg_url: str, backend: PostgresBackend) -> AsyncIterator[list[PostgresBackend]]:
    """Backend instances on the test's schema, each with its own connections."""
    instances = [PostgresBackend(pg_url) for _ in range(CLAIMERS)]
    try:
        for instance in instances:
            await instance.open()
        yield instances
    finally:
        for instance in instances:
            await instance.close()


async def test_racing_claimers_never_exceed_a_limit(
    backend: PostgresBackend, claimers: list[PostgresBackend], conninfo: str
) -> None:
    # key "a" in both queues (a limit holds across queues), "b" in one, and free jobs
    await backend.enqueue(
        [job(f"a{i}", QUEUES[i % 2], limit_key="a", limit=2) for i in range(60)]
        + [job(f"b{i}", limit_key="b", limit=1) for i in range(30)]
        + [job(f"free{i}", QUEUES[i % 2]) for i in range(60)]
    )
    done = {"default": {JobState.SUCCEEDED: 90}, "other": {JobState.SUCCEEDED: 60}}
    # claimed and not yet acked: counted up after a claim commits and down before its ack,
    # so never more than the jobs the table holds active
    running: Counter[str | None] = Counter()
    peak: Counter[str | None] = Counter()
    seen: Counter[str] = Counter()  # the most active jobs of a key a look at the table found

    async def claim_until_done(instance: PostgresBackend, n: int) -> None:
        while await instance.counts() != done:
            asked = random.randint(1, 4)
            claimed = await instance.claim(ASKS[n % len(ASKS)], asked, f"worker-{n}", 30.0)
            for record in claimed:
                running[record.limit_key] += 1
                peak[record.limit_key] = max(peak[record.limit_key], running[record.limit_key])
            await asyncio.sleep(random.uniform(0, 0.005))
            for record in claimed:
                running[record.limit_key] -= 1
            await instance.ack(
                [Ack(Lease(r.id, r.lease_token or ""), JobState.SUCCEEDED) for r in claimed]
            )

    async def look_at_the_table() -> None:
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
            while True:
                cursor = await conn.execute(
                    f"SELECT limit_key, count(*) FROM {backend.sql.jobs} "
                    "WHERE state = 'active' AND limit_key IS NOT NULL GROUP BY limit_key".encode()
                )
                for key, n in await cursor.fetchall():
                    seen[key] = max(seen[key], n)

    looking = asyncio.create_task(look_at_the_table())
    try:
        racing = (claim_until_done(c, n) for n, c in enumerate(claimers))
        await asyncio.wait_for(asyncio.gather(*racing), 120)
    finally:
        looking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await looking

    # never over a limit, and the race did reach it
    assert (peak["a"], peak["b"]) == (2, 1), peak
    assert seen["a"] <= 2, seen
    assert seen["b"] <= 1, seen
    finished = await backend.list_jobs(JobFilter(state=JobState.SUCCEEDED, limit=1000))
    assert sorted(r.attempts for r in finished) == [1] * 150


async def test_racing_claimers_never_spend_a_token_twice(
    backend: PostgresBackend, claimers: list[PostgresBackend]
) -> None:
    rated = JobRecord(
        id="", task="tasks.work", queue="default", payload=b"{}", rate_key="r", rate_limit=5,
        rate_period=3600.0,
    )  # fmt: skip
    await backend.enqueue([dataclasses.replace(rated, id=f"r{i}") for i in range(40)])

    async def claim_twice(instance: PostgresBackend, worker: str) -> list[JobRecord]:
        first = await instance.claim(["default"], 3, worker, 30.0)
        return first + await instance.claim(["default"], 3, worker, 30.0)

    taken = await asyncio.gather(*(claim_twice(c, f"worker-{i}") for i, c in enumerate(claimers)))

    assert sum(len(records) for records in taken) == 5
    assert (await backend.counts())["default"][JobState.QUEUED] == 35


async def test_a_claim_whose_limited_stage_fails_hands_over_what_it_took(
    backend: PostgresBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first statement commits the unlimited jobs it leased; if the look past the
    limited ones then fails (a dropped connection, a statement timeout), those jobs are
    still returned, not left active under a lease no worker holds."""

    async def lost(*_: object) -> list[object]:
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    await backend.enqueue([job("limited", limit_key="k", limit=1), job("free")])
    monkeypatch.setattr(backend, "_claim_limited", lost)

    claimed = await backend.claim(["default"], 10, "worker-1", 30.0)

    assert [record.id for record in claimed] == ["free"]
    limited = await backend.get("limited")
    assert limited is not None
    assert (limited.state, limited.attempts) == (JobState.QUEUED, 0)
