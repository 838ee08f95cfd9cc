"""A pause is read by each claim inside its own write transaction, so one committed by
another process before the claim began holds for it; and an idle worker's wait does not
take a paused queue's jobs, nor another queue's, for work."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from conveyor.backends.sqlite import SQLiteBackend
from conveyor.job import JobRecord

from .support import Recorder

SWITCH = """
import asyncio, sys
from conveyor.backends.sqlite import SQLiteBackend

async def main(url, action, queue):
    backend = SQLiteBackend(url)
    await backend.open()
    try:
        await (backend.pause_queue if action == "pause" else backend.resume_queue)(queue)
    finally:
        await backend.close()

asyncio.run(main(*sys.argv[1:]))
"""


def job(job_id: str, queue: str, delay: float = 0.0) -> JobRecord:
    return JobRecord(id=job_id, task="tasks.work", queue=queue, payload=b"{}", delay=delay)


async def switch(store: SQLiteBackend, action: str, queue: str) -> None:
    """Pause or resume `queue` from another process, and wait until it has committed."""
    command = [sys.executable, "-c", SWITCH, store.url, action, queue]
    await asyncio.to_thread(subprocess.run, command, check=True, timeout=60)


async def claimed(store: SQLiteBackend, *queues: str) -> list[str]:
    return [record.id for record in await store.claim(queues, 10, "w", 30.0)]


async def test_a_pause_by_another_process_holds_for_the_next_claim(store: SQLiteBackend) -> None:
    await store.enqueue([job("j", "q"), job("k", "other")])
    assert await store.paused_queues() == frozenset()  # this instance keeps nothing of it

    await switch(store, "pause", "q")
    assert await claimed(store, "q", "other") == ["k"]
    assert await claimed(store, "q") == []

    await switch(store, "resume", "q")
    assert await claimed(store, "q") == ["j"]


async def test_the_claim_reads_the_pauses_inside_its_write_transaction(
    store: SQLiteBackend, recorder: Recorder
) -> None:
    await store.enqueue([job("j", "q")])

    with recorder.recording():
        await claimed(store, "q")

    ran = [statement.split(" ")[0:2] for statement in recorder.statements]
    read = ran.index(["SELECT", "queue"])  # SELECT queue FROM conveyor_paused
    assert ran[0] == ["BEGIN", "IMMEDIATE"]  # the write lock is held from the start
    assert ["UPDATE", "conveyor_jobs"] in ran[read:]
    assert ["COMMIT"] not in ran[:read]


async def waited(store: SQLiteBackend, queues: list[str], timeout: float) -> float:
    started = time.monotonic()
    await store.wait_for_work(queues, timeout)
    return time.monotonic() - started


async def test_a_paused_queues_job_falling_due_does_not_end_a_wait(store: SQLiteBackend) -> None:
    await store.pause_queue("q")
    await store.enqueue([job("soon", "q", delay=0.1), job("due", "q")])

    assert await waited(store, ["q"], 0.4) >= 0.35


async def test_a_job_falling_due_in_a_queue_not_waited_for_does_not_end_a_wait(
    store: SQLiteBackend,
) -> None:
    await store.enqueue([job("soon", "elsewhere", delay=0.1)])
    await asyncio.sleep(0.15)  # due now, and never claimed: nobody serves its queue

    assert await waited(store, ["q"], 0.4) >= 0.35


async def test_a_job_falling_due_in_a_queue_waited_for_ends_the_wait(store: SQLiteBackend) -> None:
    await store.enqueue([job("soon", "q", delay=0.1)])

    assert await waited(store, ["q"], 5.0) < 1.0
