"""Lifecycle and waiting: open/close are idempotent, wait_for_work wakes and times out."""

from __future__ import annotations

import asyncio
import time

from conveyor.backends.base import Backend
from conveyor.job import JobState

from .support import claim, enqueue, get, ids, make_job


async def test_open_and_close_are_safe_to_call_twice(backend: Backend) -> None:
    await backend.open()
    await enqueue(backend, make_job("j"))
    assert (await get(backend, "j")).id == "j"

    await backend.close()
    await backend.close()


async def test_now_is_the_epoch_clock_and_moves_forward(backend: Backend) -> None:
    first = await backend.now()
    await asyncio.sleep(0.01)
    second = await backend.now()

    assert first > 1_577_836_800  # epoch seconds (after 2020), not a monotonic clock
    assert second > first


async def test_wait_for_work_wakes_when_a_job_is_enqueued(backend: Backend) -> None:
    async def enqueue_soon() -> None:
        await asyncio.sleep(0.05)
        await enqueue(backend, make_job("j"))

    producer = asyncio.create_task(enqueue_soon())
    started = time.monotonic()
    await backend.wait_for_work(["default"], timeout=5)
    elapsed = time.monotonic() - started
    await producer

    assert 0.04 <= elapsed < 1.0


async def test_wait_for_work_wakes_when_a_scheduled_job_falls_due(backend: Backend) -> None:
    await enqueue(backend, make_job("j", delay=0.2))

    started = time.monotonic()
    await backend.wait_for_work(["default"], timeout=5)

    assert time.monotonic() - started < 1.0


async def test_a_delayed_job_enqueued_during_a_wait_wakes_it_when_due(backend: Backend) -> None:
    async def enqueue_soon() -> None:
        await asyncio.sleep(0.05)
        await enqueue(backend, make_job("j", delay=0.2))

    producer = asyncio.create_task(enqueue_soon())
    started = time.monotonic()
    await backend.wait_for_work(["default"], timeout=5)
    await producer

    assert time.monotonic() - started < 2.0


async def test_several_waiters_on_one_backend_all_wake(backend: Backend) -> None:
    waiters = [asyncio.create_task(backend.wait_for_work(["default"], timeout=5)) for _ in "abc"]
    await asyncio.sleep(0.1)
    await enqueue(backend, make_job("j"))

    async with asyncio.timeout(2.0):
        await asyncio.gather(*waiters)


async def test_wait_for_work_returns_at_once_when_work_is_waiting(backend: Backend) -> None:
    await enqueue(backend, make_job("j"))

    async with asyncio.timeout(2.0):
        await backend.wait_for_work(["default"], timeout=5)


async def test_wait_for_work_returns_after_its_timeout(backend: Backend) -> None:
    started = time.monotonic()
    await backend.wait_for_work(["default"], timeout=0.1)
    elapsed = time.monotonic() - started

    assert 0.09 <= elapsed < 1.0


async def test_a_closed_backend_opens_again_with_its_jobs(backend: Backend) -> None:
    await enqueue(backend, make_job("kept"))

    await backend.close()
    await backend.open()

    assert (await get(backend, "kept")).state is JobState.QUEUED
    assert ids(await claim(backend)) == ["kept"]
