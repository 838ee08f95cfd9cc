"""`conveyor_queue_jobs` and `conveyor_queue_oldest_age_seconds` show what the store holds,
read when scraped, at most every few seconds."""

from __future__ import annotations

import asyncio
import time

from conveyor import JobState

from .support import Harness, free_port

STATES = ("scheduled", "queued", "active", "failed")


async def test_the_queue_gauges_agree_with_the_store(harness: Harness) -> None:
    tasks, port = harness.tasks, free_port()
    # "other" is served by no worker: its jobs wait, some of them not due yet
    waiting_since = time.time()
    await tasks.ok.options(queue="other").enqueue()
    await asyncio.sleep(0.3)
    for delay in (0, 0, 600, 600):
        await tasks.ok.options(queue="other", delay=delay).enqueue()
    worker = harness.start_worker("--queues", "default", port=port)
    await harness.serving(port, worker)
    flop, sleeper = await tasks.flop.enqueue(), await tasks.nap.enqueue(60)
    await harness.wait_for_state(flop.id, JobState.FAILED)
    await harness.wait_for_state(sleeper.id, JobState.ACTIVE)

    scraped = await harness.scrape(port)
    counts = await (await harness.app.connected()).counts()
    waited = time.time() - waiting_since
    await tasks.ok.options(queue="other").enqueue()
    again = await harness.scrape(port)  # within the sampling period: the same reading

    gauges = {
        (queue, state): scraped.value("conveyor_queue_jobs", queue=queue, state=state)
        for queue in ("default", "other")
        for state in STATES
    }
    assert gauges == {
        (queue, state): counts.get(queue, {}).get(JobState(state), 0)
        for queue in ("default", "other")
        for state in STATES
    }
    assert gauges[("other", "queued")] == 3
    assert gauges[("other", "scheduled")] == 2
    assert (gauges[("default", "failed")], gauges[("default", "active")]) == (1, 1)
    oldest = scraped.value("conveyor_queue_oldest_age_seconds", queue="other")
    assert 0.3 <= oldest <= waited
    assert scraped.value("conveyor_queue_oldest_age_seconds", queue="default") == 0
    assert again.value("conveyor_queue_jobs", queue="other", state="queued") == 3
