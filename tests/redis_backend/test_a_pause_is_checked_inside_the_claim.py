"""A pause is read by the claim script itself: no claim that runs after `pause_queue`
returned takes a job, whichever process sends it and however many race; a paused queue's
jobs are not even read; and an idle worker on a paused queue waits instead of spinning."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from conveyor import Conveyor, Worker
from conveyor.backends.redis import RedisBackend
from conveyor.job import JobState
from live_services import RedisServer

from .conftest import opened
from .support import counted, job

CLAIMERS = 4
QUEUED = 3000


async def test_no_claim_racing_the_pause_takes_a_job_after_it(url: str) -> None:
    async with contextlib.AsyncExitStack() as stack:
        pauser = await stack.enter_async_context(opened(url))
        peers = [await stack.enter_async_context(opened(url)) for _ in range(CLAIMERS)]
        await pauser.enqueue([job("p") for _ in range(QUEUED)])
        taken = [0] * CLAIMERS
        racing, paused = asyncio.Event(), asyncio.Event()
        after_pause = [0] * CLAIMERS  # claims sent once the pause had returned

        async def claim_until_stopped(i: int) -> None:
            while after_pause[i] < 50:
                sent_after_pause = paused.is_set()
                taken[i] += len(await peers[i].claim(["p"], 3, f"worker-{i}", 60.0))
                after_pause[i] += sent_after_pause
                if sum(taken) >= 60:
                    racing.set()

        claimers = [asyncio.create_task(claim_until_stopped(i)) for i in range(CLAIMERS)]
        await racing.wait()
        await pauser.pause_queue("p")
        paused.set()
        active_at_pause = (await pauser.counts())["p"][JobState.ACTIVE]
        await asyncio.gather(*claimers)

        assert 60 <= active_at_pause < QUEUED
        assert (await pauser.counts())["p"] == {
            JobState.ACTIVE: active_at_pause,
            JobState.QUEUED: QUEUED - active_at_pause,
        }
        assert sum(taken) == active_at_pause  # the claims answered after the pause ran before it


async def test_a_claim_of_a_paused_queue_reads_none_of_its_jobs(
    backend: RedisBackend, server: RedisServer
) -> None:
    await backend.enqueue([job("p") for _ in range(10)] + [job("p", delay=0.01)])
    await backend.pause_queue("p")
    await asyncio.sleep(0.02)  # the scheduled job falls due: not promoted either

    with counted(server) as commands:
        assert await backend.claim(["p"], 10, "worker-1", 60.0) == []

    assert commands.calls == {"get": 1, "exists": 1, "time": 1}  # its receipt, the pause


async def test_an_unpaused_queue_pays_one_command_for_the_pause(
    backend: RedisBackend, server: RedisServer
) -> None:
    await backend.enqueue([job("q") for _ in range(10)])
    await backend.pause_queue("other")

    with counted(server) as commands:
        assert len(await backend.claim(["q"], 10, "worker-1", 60.0)) == 10

    assert commands.calls["exists"] == 1
    assert commands.calls["hgetall"] == commands.calls["hset"] == 10


@contextlib.asynccontextmanager
async def idle_worker(url: str) -> AsyncIterator[Worker]:
    app = Conveyor(url)
    worker = Worker(app, queues=["p"], lease=30.0, heartbeat=5.0, sweep_interval=30.0,
                    idle_poll=0.5)  # fmt: skip
    running = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop(hurry=True)
        async with asyncio.timeout(10):
            await running
        await app.close()


async def scripts_run_by_an_idle_worker(url: str, server: RedisServer) -> int:
    async with idle_worker(url):
        await asyncio.sleep(0.3)  # started: registered, swept
        with counted(server) as commands:
            await asyncio.sleep(1.5)
    return commands.calls.get("time", 0)  # every script asks the server's clock once


async def test_an_idle_worker_waits_on_a_paused_queue_as_on_an_empty_one(
    server: RedisServer,
) -> None:
    empty = f"{server.url}?prefix=empty-queue"
    paused = f"{server.url}?prefix=paused-queue"
    async with opened(paused) as backend:
        await backend.enqueue([job("p") for _ in range(5)])
        await backend.pause_queue("p")

    on_empty = await scripts_run_by_an_idle_worker(empty, server)
    on_paused = await scripts_run_by_an_idle_worker(paused, server)

    assert on_empty <= 10
    assert on_paused <= on_empty + 2, "the paused queue's jobs woke the worker"
