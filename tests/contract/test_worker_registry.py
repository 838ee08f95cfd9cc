"""The worker registry: workers register and renew with each heartbeat, are listed by name,
leave when they stop, and are gone once their entry outlives its ttl without renewal."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time

import pytest

from conveyor.backends.base import Backend, WorkerInfo

LONG_TTL = 30.0  # an entry that outlives the test
SHORT_TTL = 0.5  # an entry a test lets expire
GIVE_UP = 10.0  # seconds a test polls for an expired entry to leave before it fails


def info(
    name: str,
    *,
    processed: int = 0,
    queues: tuple[str, ...] = ("default", "reports"),
    host: str = "web-1.example",
    pid: int = 4242,
) -> WorkerInfo:
    return WorkerInfo(
        name=name,
        host=host,
        pid=pid,
        queues=queues,
        concurrency=16,
        started_at=1_700_000_000.25,
        processed=processed,
    )


def without_last_seen(workers: list[WorkerInfo]) -> list[WorkerInfo]:
    return [dataclasses.replace(worker, last_seen=0.0) for worker in workers]


async def names(backend: Backend) -> list[str]:
    return [worker.name for worker in await backend.workers()]


async def wait_gone(backend: Backend, name: str) -> float:
    """Poll until `name` leaves the registry; return the store's clock then."""
    deadline = time.monotonic() + GIVE_UP
    while name in await names(backend):
        assert time.monotonic() < deadline, f"{name} still registered after {GIVE_UP} s"
        await asyncio.sleep(0.05)
    return await backend.now()


async def test_no_worker_is_registered_at_first(backend: Backend) -> None:
    assert await backend.workers() == []


async def test_a_registered_worker_is_listed_as_it_registered(backend: Backend) -> None:
    before = await backend.now()
    await backend.register_worker(info("w-1", processed=3), LONG_TTL)
    after = await backend.now()

    [seen] = await backend.workers()

    assert dataclasses.replace(seen, last_seen=0.0) == info("w-1", processed=3)
    assert isinstance(seen.queues, tuple)
    assert before <= seen.last_seen <= after  # the store's clock, set by the store


async def test_text_and_numbers_round_trip(backend: Backend) -> None:
    worker = info("wörker:1:a3f0", host="hôte-ünïcode", pid=2**22, queues=("a", "b c", "ç"))

    await backend.register_worker(worker, LONG_TTL)

    assert without_last_seen(await backend.workers()) == [worker]


async def test_a_worker_without_queues_round_trips(backend: Backend) -> None:
    await backend.register_worker(info("w", queues=()), LONG_TTL)

    [seen] = await backend.workers()

    assert seen.queues == ()


async def test_a_renewal_moves_last_seen_on_and_updates_what_it_did(backend: Backend) -> None:
    await backend.register_worker(info("w-1"), LONG_TTL)
    [first] = await backend.workers()
    await asyncio.sleep(0.05)

    await backend.register_worker(info("w-1", processed=17), LONG_TTL)

    [renewed] = await backend.workers()
    assert renewed.processed == 17
    assert renewed.last_seen > first.last_seen
    assert renewed.started_at == first.started_at


async def test_workers_are_listed_by_name(backend: Backend) -> None:
    for name in ("w-c", "w-a", "w-b"):
        await backend.register_worker(info(name, pid=ord(name[-1])), LONG_TTL)

    listed = await backend.workers()

    assert [worker.name for worker in listed] == ["w-a", "w-b", "w-c"]
    assert [worker.pid for worker in listed] == [ord("a"), ord("b"), ord("c")]


async def test_two_workers_renew_independently(backend: Backend) -> None:
    await backend.register_worker(info("w-1"), LONG_TTL)
    await backend.register_worker(info("w-2"), LONG_TTL)
    await backend.register_worker(info("w-2", processed=5), LONG_TTL)

    assert without_last_seen(await backend.workers()) == [info("w-1"), info("w-2", processed=5)]


async def test_a_deregistered_worker_leaves_at_once(backend: Backend) -> None:
    await backend.register_worker(info("w-1"), LONG_TTL)
    await backend.register_worker(info("w-2"), LONG_TTL)

    await backend.deregister_worker("w-1")

    assert await names(backend) == ["w-2"]


async def test_deregistering_an_unknown_worker_does_nothing(backend: Backend) -> None:
    await backend.register_worker(info("w-1"), LONG_TTL)

    await backend.deregister_worker("w-unknown")
    await backend.deregister_worker("w-1")
    await backend.deregister_worker("w-1")  # twice

    assert await backend.workers() == []


async def test_a_worker_registers_again_after_leaving(backend: Backend) -> None:
    await backend.register_worker(info("w-1", processed=9), LONG_TTL)
    await backend.deregister_worker("w-1")

    await backend.register_worker(info("w-1"), LONG_TTL)

    assert without_last_seen(await backend.workers()) == [info("w-1")]


async def test_an_entry_not_renewed_is_gone_after_its_ttl(backend: Backend) -> None:
    await backend.register_worker(info("w-short"), SHORT_TTL)
    await backend.register_worker(info("w-long"), LONG_TTL)
    [_, short] = await backend.workers()  # by name: w-long, w-short
    assert short.name == "w-short"  # listed while its ttl runs

    gone_at = await wait_gone(backend, "w-short")

    assert gone_at >= short.last_seen + SHORT_TTL - 0.05  # not before its ttl ran out
    assert await names(backend) == ["w-long"]


async def test_a_renewal_keeps_an_entry_past_its_first_ttl(backend: Backend) -> None:
    ttl = 1.5
    await backend.register_worker(info("w-1"), ttl)
    [first] = await backend.workers()
    await asyncio.sleep(0.5)
    await backend.register_worker(info("w-1", processed=1), ttl)

    # past the first registration's expiry, well before the renewal's
    await asyncio.sleep(max(0.0, first.last_seen + ttl - await backend.now()) + 0.1)
    assert without_last_seen(await backend.workers()) == [info("w-1", processed=1)]

    await wait_gone(backend, "w-1")


async def test_a_renewal_with_a_shorter_ttl_shortens_the_entry(backend: Backend) -> None:
    await backend.register_worker(info("w-1"), LONG_TTL)

    await backend.register_worker(info("w-1"), SHORT_TTL)

    await wait_gone(backend, "w-1")


@pytest.mark.parametrize("ttl", [0.0, -1.0, math.nan, math.inf, -math.inf])
async def test_a_ttl_that_is_not_a_positive_number_of_seconds_is_refused(
    backend: Backend, ttl: float
) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await backend.register_worker(info("w-1"), ttl)

    assert await backend.workers() == []


async def test_another_process_sees_the_registry(backend: Backend, peer: Backend) -> None:
    await backend.register_worker(info("w-1", processed=2), LONG_TTL)

    assert without_last_seen(await peer.workers()) == [info("w-1", processed=2)]

    await peer.deregister_worker("w-1")

    assert await backend.workers() == []
