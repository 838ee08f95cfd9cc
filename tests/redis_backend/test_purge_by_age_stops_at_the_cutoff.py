"""A purge by age walks a finished state oldest first, by enqueue order, and stops at the
first job enqueued after the cutoff: what it reads follows what it deletes (and the old jobs
that finished late), not the history kept after the cutoff."""

from __future__ import annotations

import asyncio

from conveyor.backends.base import Ack, JobFilter, Lease
from conveyor.backends.redis import RedisBackend
from conveyor.job import JobState
from live_services import RedisServer

from .support import counted, finish, job

OK = JobState.SUCCEEDED


async def test_a_purge_by_age_reads_only_up_to_the_cutoff(
    backend: RedisBackend, server: RedisServer
) -> None:
    old = [job("q") for _ in range(3)]
    await finish(backend, old)
    late = job("q")  # enqueued before the cutoff, finished after it: kept
    await backend.enqueue([late])
    [running] = await backend.claim(["q"], 1, "worker-1", 60.0)
    await asyncio.sleep(0.3)
    for _ in range(4):
        await finish(backend, [job("q") for _ in range(250)])  # the history after the cutoff
    assert await backend.ack([Ack(Lease(late.id, running.lease_token or ""), OK)])

    with counted(server) as commands:
        assert await backend.purge([OK], older_than=0.25) == 3

    assert commands.calls["hmget"] == 5  # the 3 old, the late one, the first of the rest
    listed = await backend.list_jobs(JobFilter(state=OK, limit=2000))
    assert len(listed) == 1001
    assert late.id in {record.id for record in listed}
    assert not {j.id for j in old} & {record.id for record in listed}
