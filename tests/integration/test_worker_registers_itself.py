"""A running worker lists itself in the store's registry (the dashboard's Workers page): its
queues, concurrency, pid and host, and how many jobs it finished; it leaves when it stops."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from typing import Any

import pytest

from conveyor import Conveyor, JobState, Task
from conveyor.backends.base import WorkerInfo
from waiting import wait_until

from .support import LIMIT, fast_worker, running_worker, wait_for


async def noop(n: int) -> int:
    return n


async def registered(
    app: Conveyor, name: str, holds: Callable[[WorkerInfo], bool] = lambda _: True
) -> WorkerInfo:
    """Poll until the worker `name` is listed (as `holds` wants it); fail after LIMIT s."""
    backend = await app.connected()
    found: list[WorkerInfo] = []

    async def listed() -> bool:
        found[:] = [w for w in await backend.workers() if w.name == name and holds(w)]
        return bool(found)

    await wait_until(listed, LIMIT, f"worker {name} in the registry", pytest.fail)
    return found[0]


async def test_a_running_worker_is_listed_and_gone_once_it_stops(app: Conveyor) -> None:
    app.task(noop)
    worker = fast_worker(app, concurrency=3, queues=["default", "reports"])
    backend = await app.connected()
    started = await backend.now()

    running = asyncio.create_task(worker.run())
    try:
        info = await registered(app, worker.name)
        assert [w.name for w in await backend.workers()] == [worker.name]
    finally:
        worker.stop(hurry=True)
        async with asyncio.timeout(LIMIT):
            await running

    assert info.queues == ("default", "reports")
    assert info.concurrency == 3
    assert info.pid == os.getpid()
    assert info.host == socket.gethostname()
    assert info.processed == 0
    assert started - 5.0 <= info.started_at <= await backend.now() + 5.0
    assert info.last_seen >= started
    assert await backend.workers() == []  # it left on the way out: no wait for expiry


async def test_the_worker_renews_its_entry_with_the_jobs_it_finished(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(noop)
    backend = await app.connected()

    async with running_worker(app) as worker:
        first = await registered(app, worker.name)
        handles = [await task.enqueue(n) for n in range(3)]
        for handle in handles:
            await wait_for(handle, JobState.SUCCEEDED)
        info = await registered(app, worker.name, lambda w: w.processed >= 3)

    assert info.processed == 3
    assert info.last_seen > first.last_seen  # renewed with each heartbeat
    assert info.started_at == first.started_at
    assert await backend.workers() == []


async def test_two_workers_are_listed_by_name(app: Conveyor) -> None:
    app.task(noop)
    backend = await app.connected()
    workers = [fast_worker(app), fast_worker(app)]
    runs = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        for worker in workers:
            await registered(app, worker.name)
        listed = [w.name for w in await backend.workers()]
        workers[0].stop(hurry=True)
        async with asyncio.timeout(LIMIT):
            await runs[0]
        left = [w.name for w in await backend.workers()]
    finally:
        for worker in workers:
            worker.stop(hurry=True)
        async with asyncio.timeout(LIMIT):
            await asyncio.gather(*runs)

    assert listed == sorted(worker.name for worker in workers)
    assert left == [workers[1].name]
    assert await backend.workers() == []
