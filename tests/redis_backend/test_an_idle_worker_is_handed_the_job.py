"""An idle worker offers to take the next job, and the enqueue that stores it leases it to
that worker and publishes it to it: the job arrives with the wake-up, no claim after it.
Only while the worker listens, only one job per offer, never past a job already waiting,
a pause or a limit; the lease fences as a claim's does, and a busy queue is still claimed in
batches. A plain enqueue runs fewer commands than before (the script ran ten)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

from conveyor import Conveyor, Worker
from conveyor.backends.base import Ack, Lease
from conveyor.backends.redis import RedisBackend, _confirmed
from conveyor.job import JobRecord, JobState
from live_services import RedisServer
from waiting import Predicate, wait_until

from .support import counted, job


async def eventually(predicate: Predicate, what: str = "the idle worker's offer") -> None:
    def fail(message: str) -> None:
        raise AssertionError(message)

    await wait_until(predicate, 10.0, what, fail)


async def waiting_with_an_offer(
    backend: RedisBackend, queues: list[str], timeout: float = 30.0
) -> asyncio.Task[list[JobRecord]]:
    """An idle worker's wait, returned once its offer is made."""
    waiter = asyncio.create_task(backend.wait_for_jobs(queues, timeout, "worker-1", 60.0))
    client = backend._client()
    offers = [f"{backend.prefix}:{{{q}}}:offers" for q in queues]
    await eventually(lambda: all_offered(client, offers))
    return waiter


async def all_offered(client: object, keys: list[str]) -> bool:
    return all([await client.zcard(key) for key in keys])  # type: ignore[attr-defined]


async def test_the_enqueue_hands_the_job_to_the_idle_worker_leased(
    backend: RedisBackend, server: RedisServer
) -> None:
    waiter = await waiting_with_an_offer(backend, ["q"])

    with counted(server) as commands:
        (stored,) = await backend.enqueue([job("q")])
        (handed,) = await waiter

    assert handed.id == stored.record.id
    assert (handed.state, handed.worker, handed.attempts) == (JobState.ACTIVE, "worker-1", 1)
    assert "get" not in commands.calls  # no claim ran: a claim looks up its receipt first
    record = await backend.get(handed.id)
    assert record is not None
    assert (record.state, record.lease_token) == (JobState.ACTIVE, handed.lease_token)
    assert record.lease_expires_at is not None
    assert record.started_at is not None
    # the lease fences as a claim's does: a wrong token is refused, the right one accepted
    wrong = Ack(Lease(handed.id, "not-the-lease"), JobState.SUCCEEDED, task="t", queue="q")
    assert await backend.ack([wrong]) == [False]
    right = Ack(Lease(handed.id, handed.lease_token or ""), JobState.SUCCEEDED, task="t", queue="q")
    assert await backend.ack([right]) == [True]


async def test_one_job_per_offer_and_the_rest_claimed_in_one_batch(
    backend: RedisBackend,
) -> None:
    waiter = await waiting_with_an_offer(backend, ["q"])

    await backend.enqueue([job("q") for _ in range(20)])
    handed = await waiter
    claimed = await backend.claim(["q"], 100, "worker-2", 60.0)

    assert len(handed) == 1
    assert len(claimed) == 19
    assert handed[0].id not in {r.id for r in claimed}


async def test_a_busy_queue_is_not_handed_over_but_claimed_in_batches(
    backend: RedisBackend,
) -> None:
    await backend.enqueue([job("q") for _ in range(30)])

    assert await backend.wait_for_jobs(["q"], 30.0, "worker-1", 60.0) == []  # work is due
    assert len(await backend.claim(["q"], 30, "worker-1", 60.0)) == 30
    assert await backend._client().zcard(f"{backend.prefix}:{{q}}:offers") == 0


async def test_a_job_does_not_jump_ahead_of_one_waiting(backend: RedisBackend) -> None:
    waiter = await waiting_with_an_offer(backend, ["q"])

    # the limited job cannot be handed over and waits in the queue: the plain one after it
    # in the same batch waits behind it rather than go first
    first, second = await backend.enqueue([job("q", limit_key="k", limit=1), job("q")])

    assert await waiter == []  # woken instead
    claimed = await backend.claim(["q"], 10, "worker-1", 60.0)
    assert [r.id for r in claimed] == [first.record.id, second.record.id]


async def test_a_paused_queue_or_a_limited_job_is_not_handed_over(
    backend: RedisBackend,
) -> None:
    await backend.pause_queue("p")
    waiter = await waiting_with_an_offer(backend, ["p", "q"], timeout=1.0)

    await backend.enqueue([job("p"), job("q", limit_key="k", limit=5)])

    assert await waiter == []  # woken by the limited job, given neither
    counts = await backend.counts()
    assert counts["p"] == {JobState.QUEUED: 1}
    assert counts["q"] == {JobState.QUEUED: 1}


async def test_no_job_is_handed_to_a_worker_no_longer_listening(
    backend: RedisBackend,
) -> None:
    assert await backend.wait_for_jobs(["q"], 0.05, "worker-1", 60.0) == []  # it withdrew
    # an offer whose worker died before withdrawing it: nobody listens on its channel
    token = secrets.token_hex(8)
    await backend._run("OFFER", [token, "worker-gone", 60.0, 60.0, "q"])
    # while a worker that makes no offer waits on the queue
    listener = asyncio.create_task(backend.wait_for_work(["q"], 30.0))
    channel = f"{backend.prefix}:{{q}}:work"

    async def listening() -> bool:
        ((_, subscribers),) = await backend._client().pubsub_numsub(channel)
        return bool(subscribers)

    await eventually(listening, "the listener")

    (stored,) = await backend.enqueue([job("q")])

    await listener  # woken as before
    record = await backend.get(stored.record.id)
    assert record is not None
    assert record.state is JobState.QUEUED
    assert await backend._client().exists(f"{backend.prefix}:offer:{token}") == 0
    assert await backend._client().zcard(f"{backend.prefix}:{{q}}:offers") == 0


async def test_a_plain_enqueue_runs_nine_commands(
    backend: RedisBackend, server: RedisServer
) -> None:
    await backend.enqueue([job("q")])  # the queue exists, the script is loaded

    with counted(server) as commands:
        await backend.enqueue([job("q")])

    assert commands.total <= 9, commands.calls
    assert "publish" not in commands.calls  # no worker waits: no wake-up to send


async def test_an_idle_worker_runs_the_job_handed_to_it(url: str) -> None:
    app = Conveyor(url)
    ran: list[int] = []

    @app.task(name="tests.handed")
    async def handed(n: int) -> int:
        ran.append(n)
        return n * 2

    worker = Worker(app, queues=["q"], idle_poll=30.0, scheduler=False)
    running = asyncio.create_task(worker.run())
    try:
        backend = await app.connected()
        assert isinstance(backend, RedisBackend)
        key = f"{backend.prefix}:{{q}}:offers"
        await eventually(lambda: all_offered(backend._client(), [key]))

        job_handle = await handed.options(queue="q").enqueue(21)

        assert await job_handle.result(timeout=10) == 42
        record = await backend.get(job_handle.id)
        assert record is not None
        assert (record.attempts, record.worker) == (1, worker.name)
        assert ran == [21]
    finally:
        worker.stop()
        async with asyncio.timeout(10):
            await running
        await app.close()


async def test_a_job_come_due_keeps_its_place_ahead_of_a_new_one(backend: RedisBackend) -> None:
    (due,) = await backend.enqueue([job("q", delay=0.05)])
    await asyncio.sleep(0.1)  # due now, not yet promoted to the ready jobs

    (new,) = await backend.enqueue([job("q")])

    claimed = await backend.claim(["q"], 10, "worker-1", 60.0)
    assert [r.id for r in claimed] == [due.record.id, new.record.id]


async def offered_on_a_subscribed_connection(backend: RedisBackend, token: str) -> Any:
    """An offer of `token` to take the next job of queue q, its worker listening."""
    pubsub = backend._pubsub()
    await pubsub.subscribe(f"{backend.prefix}:{{q}}:work", f"{backend.prefix}:hand:{token}")
    await _confirmed(pubsub, 2)
    await backend._run("OFFER", [token, "worker-1", 60.0, 60.0, "q"])
    return pubsub


async def test_an_offer_withdrawn_twice_is_withdrawn_at_once(backend: RedisBackend) -> None:
    # a stop may cut a withdrawal short after Redis deleted the offer: the one that follows
    # finds nothing, and does not wait for a job nobody sent
    token = secrets.token_hex(8)
    pubsub = await offered_on_a_subscribed_connection(backend, token)
    try:
        assert await backend._withdraw(pubsub, token, ["q"]) == []
        async with asyncio.timeout(5):  # a wait for the job would take CONFIRM_TIMEOUT
            assert await backend._withdraw(pubsub, token, ["q"]) == []
    finally:
        await pubsub.aclose()


async def test_an_offer_taken_before_its_withdrawal_hands_over_the_job(
    backend: RedisBackend,
) -> None:
    token = secrets.token_hex(8)
    pubsub = await offered_on_a_subscribed_connection(backend, token)
    try:
        (stored,) = await backend.enqueue([job("q")])  # takes the offer first

        handed = await backend._withdraw(pubsub, token, ["q"])

        assert [r.id for r in handed] == [stored.record.id]
        assert handed[0].state is JobState.ACTIVE
    finally:
        await pubsub.aclose()


async def test_a_wait_cancelled_by_a_stop_leaves_no_offer_and_no_listener(
    backend: RedisBackend,
) -> None:
    waiter = await waiting_with_an_offer(backend, ["q"])
    client = backend._client()
    (member,) = await client.zrange(f"{backend.prefix}:{{q}}:offers", 0, -1)
    assert isinstance(member, bytes)
    token = member.decode()

    waiter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiter

    assert await client.zcard(f"{backend.prefix}:{{q}}:offers") == 0
    assert await client.exists(f"{backend.prefix}:offer:{token}") == 0
    # nobody listens for a job on its behalf: an enqueue now leaves the job queued
    hand = f"{backend.prefix}:hand:{token}"
    ((_, listeners),) = await client.pubsub_numsub(hand)
    assert listeners == 0
    (stored,) = await backend.enqueue([job("q")])
    record = await backend.get(stored.record.id)
    assert record is not None
    assert record.state is JobState.QUEUED
