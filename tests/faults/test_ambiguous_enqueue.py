"""An enqueue whose write landed while its caller saw an error: retried with the same job id,
it makes exactly one job, which runs once.

The caller reaches the server through a `Relay` that, at the moment of the enqueue, carries
the request but drops the reply; the caller gives up at its own deadline, as an API handler
would, and retries once the replies come through again. SQLite has no reply to lose: its
writes are made by the caller's own process.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from pathlib import Path

import pytest

from conveyor.job import JobState

from .conftest import open_store
from .jobsapp import Jobs
from .relay import Relay

pytestmark = [pytest.mark.faults, pytest.mark.timeout(60)]

JOB_ID = "ambiguous"
CALLER_DEADLINE = 1.0  # seconds the caller waits for its enqueue before it gives up


@pytest.mark.parametrize("backend", ["redis", "postgres"])
async def test_an_enqueue_retried_after_a_lost_reply_makes_one_job(
    backend: str, tmp_path: Path
) -> None:
    """Reliability #8."""
    async with open_store(backend, tmp_path) as harness:
        server = urllib.parse.urlsplit(harness.url)
        relay = Relay(server.hostname or "127.0.0.1", server.port or 0)
        await relay.start()
        caller = Jobs(relay.route(harness.url))
        try:
            before = await caller.nap.enqueue(0)  # the caller's connections are open
            relay.deafen()
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(CALLER_DEADLINE):
                    await caller.nap.options(job_id=JOB_ID).enqueue(0)

            async def stored() -> bool:
                return await (await harness.jobs.app.connected()).get(JOB_ID) is not None

            await harness.wait_until(stored, 5, "the write the caller gave up on to land")
            relay.restore()
            retried = await caller.nap.options(job_id=JOB_ID).enqueue(0)
            assert retried.id == JOB_ID
        finally:
            await caller.app.close()
            await relay.close()

        worker = harness.start_worker(concurrency=2, burst=True, nap_scale=0)
        assert await harness.wait_exit(worker, 15) == 0
        records = await harness.records()
        assert records.keys() == {before.id, JOB_ID}, "the retry made a second job"
        assert records[JOB_ID].state is JobState.SUCCEEDED
        assert [(run.attempt, run.completed) for run in harness.runs()[JOB_ID]] == [(1, True)]
