"""Redis itself fails: the server is killed, a worker's connection is cut, memory must not leak.

Each test runs its own `redis-server` (a free port, its own directory, AOF on) so it can
kill it: `appendfsync always` where a test counts on every acknowledged write surviving
a SIGKILL, `everysec` elsewhere. A missing redis-server skips these tests, and fails
them under CI=true. The worker SIGKILL scenarios run on Redis through the `harness`
fixture of every other fault test.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conveyor.backends.redis_lua import DEFAULT_PREFIX
from conveyor.job import JobState
from live_services import RedisServer

from .conftest import open_harness, private_redis, private_redis_cluster
from .harness import SWEEP_INTERVAL, Harness, Producer
from .jobsapp import BRIEF_TTL
from .oracle import classify, overlaps, started_before
from .relay import Relay

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]

LEASE, HEARTBEAT = 2.0, 0.5  # as in test_crash: no lapse under a loaded machine
CLAIM_TO_START_NS = 1_000_000_000  # from reading a claim to a job's start line: slack for load
MEMORY_NOISE = 64 * 1024  # used_memory moves this much with client buffers and allocator state


def running(harness: Harness, pid: int) -> bool:
    return any(run.ended_ns is None for run in harness.ran_by(pid))


async def enqueue_naps(harness: Harness, count: int, seconds: float) -> list[str]:
    jobs = harness.jobs
    return [h.id for h in await jobs.app.enqueue_many([jobs.nap.s(seconds) for _ in range(count)])]


async def wait_for_acks(harness: Harness, producer: Producer, count: int) -> None:
    await harness.wait_until(
        lambda: len(producer.acknowledged) >= count, 60, f"{count} acknowledged enqueues"
    )


async def all_succeeded(harness: Harness, count: int) -> bool:
    return await harness.count(JobState.SUCCEEDED) == count


@contextlib.contextmanager
def killable_redis(
    kind: str, directory: Path
) -> Iterator[tuple[str, RedisServer, Callable[[], None]]]:
    """A Redis with `appendfsync always`: its URL, the server to kill (on a cluster, the
    master of the store's slot) and how to start it again (a cluster: until it is whole)."""
    if kind == "single":
        with private_redis(directory, fsync="always") as server:
            yield server.url, server, server.start
        return
    with private_redis_cluster(directory, fsync="always") as cluster:
        master = cluster.node_of(f"{{{DEFAULT_PREFIX}}}")

        def restart() -> None:
            master.start()
            cluster.wait_until_whole()

        yield cluster.url, master, restart


@pytest.mark.parametrize("kind", ["single", "cluster"])
async def test_redis_killed_under_load_keeps_every_acknowledged_enqueue(
    tmp_path: Path, kind: str
) -> None:
    """Reliability #6: with `appendfsync always`, a SIGKILLed Redis loses no acknowledged job.

    A producer enqueues jobs one by one while a worker runs them; Redis is killed mid-stream
    and restarted on the same port and directory (it reloads its AOF), twice. The producer
    retries through the outage with the same job ids, the worker reconnects by itself, and
    every job whose enqueue returned is in the store and runs to the end. (A killed process
    loses nothing it wrote to the kernel; what `always` adds over `everysec`, surviving a
    machine crash, is beyond what a test can stage.) On a Redis Cluster of 3 masters, given
    one node's URL, the master that holds the store's slot is the one killed: it rejoins
    from its nodes.conf, and the clients find it again by themselves.
    """
    total, outage = 3000, 1.0
    with killable_redis(kind, tmp_path / "redis") as (url, server, restart):
        async with open_harness(tmp_path, url) as harness:
            worker = harness.start_worker(concurrency=10, lease=LEASE, heartbeat=HEARTBEAT)
            await harness.started(worker)
            producer = harness.start_producer("retrying", total)
            for kill_after in (800, 1800):  # two crashes, at different points of the stream
                await wait_for_acks(harness, producer, kill_after)
                server.kill()
                acknowledged_at_kill = list(producer.acknowledged)
                await asyncio.sleep(outage)
                restart()  # the same port and directory: the AOF is reloaded
                restarted_ns = time.monotonic_ns()
                # this process's pooled connection died with the server: use a fresh client
                # (that a stale connection fails the next call is its own test, below)
                await harness.jobs.app.close()

                assert len(acknowledged_at_kill) < total, "the producer was done before the kill"
                records = await harness.records()
                missing = set(acknowledged_at_kill) - records.keys()
                assert not missing, f"{len(missing)} acknowledged jobs did not survive a restart"

            code = await harness.wait_exit(producer, 60)
            assert code == 0, f"the producer died ({code}):\n{producer.tail()}"
            acknowledged = producer.drain()
            assert len(acknowledged) == len(set(acknowledged)) == total
            await harness.wait_until(
                lambda: all_succeeded(harness, total), 60, "every job to succeed"
            )

            records, runs = await harness.records(), harness.runs()
            assert records.keys() == set(acknowledged), "the store holds jobs nobody enqueued"
            verdict = classify(acknowledged, records, runs)
            assert verdict.nothing_lost, verdict.summary()
            # only a job the worker held when Redis died can run twice: its lease lapsed,
            # and the sweep that handed it out again counted the recovery
            held = started_before(runs, restarted_ns)  # up to the last restart
            assert verdict.duplicated.keys() <= held, verdict.summary()
            for job_id in verdict.duplicated:
                assert records[job_id].recoveries >= 1, records[job_id]
            assert not overlaps(runs)
            assert worker.alive, "the worker should have reconnected by itself"
            resumed = [run for run in harness.ran_by(worker.pid) if run.started_ns > restarted_ns]
            assert resumed, "the worker ran nothing after Redis came back"


async def test_worker_cut_off_from_redis_reconnects_and_loses_nothing(tmp_path: Path) -> None:
    """Reliability #5: the worker's connections are reset for 2 x L + S.

    The cut-off worker stops starting jobs; its leases lapse and a second worker, which
    still reaches Redis, runs what it held. Once the connections go through again, the
    cut-off worker reconnects by itself: with the rescuer gone, it runs a new batch alone.
    Only the jobs it held at the cut run twice, never two at once.
    """
    cut_for = 2 * LEASE + SWEEP_INTERVAL  # every held lease lapses, and is swept, meanwhile
    with private_redis(tmp_path / "redis") as server:
        async with open_harness(tmp_path, server.url) as harness:
            relay = Relay("127.0.0.1", server.port)
            await relay.start()
            try:
                first = await enqueue_naps(harness, 200, 0.2)
                cut_off = harness.start_worker(
                    concurrency=10, lease=LEASE, heartbeat=HEARTBEAT, url=relay.url()
                )
                # cut while it runs jobs, not in the moment between two claims
                await harness.wait_until(
                    lambda: harness.completions() >= 50 and running(harness, cut_off.pid),
                    30,
                    "50 jobs done and more running",
                )
                relay.cut()
                cut_ns = time.monotonic_ns()
                rescuer = harness.start_worker(concurrency=10, lease=LEASE, heartbeat=HEARTBEAT)
                await asyncio.sleep(cut_for)
                # it can only start a job whose claim it read before the cut: at once
                late = [
                    run
                    for run in harness.ran_by(cut_off.pid)
                    if run.started_ns > cut_ns + CLAIM_TO_START_NS
                ]
                relay.restore()
                restored_ns = time.monotonic_ns()
                assert relay.reset > 0, "the cut reset no connection"
                assert not late, f"the cut-off worker started jobs during the cut: {late[:3]}"

                await harness.wait_until(
                    lambda: all_succeeded(harness, len(first)), 30, "the first batch to succeed"
                )
                rescuer.send(signal.SIGTERM)
                assert await harness.wait_exit(rescuer, 15) == 0
                second = await enqueue_naps(harness, 100, 0)
                await harness.wait_until(
                    lambda: all_succeeded(harness, len(first) + len(second)),
                    30,
                    "the cut-off worker to run the second batch",
                )
            finally:
                await relay.close()

            records, runs = await harness.records(), harness.runs()
            verdict = classify(first + second, records, runs)
            assert verdict.nothing_lost, verdict.summary()
            # what it claimed before the cut (it claimed nothing during it: `late` above)
            held = started_before(runs, restored_ns, pid=cut_off.pid)
            assert verdict.duplicated.keys() <= held, verdict.summary()
            assert not overlaps(runs)
            assert cut_off.alive, "the cut-off worker should have reconnected, not died"
            assert {run.pid for job_id in second for run in runs[job_id]} == {cut_off.pid}

            # what it was running at the cut lapsed, and the rescuer took it over
            in_flight = {
                run.job_id
                for run in harness.ran_by(cut_off.pid)
                if run.started_ns < cut_ns and (run.ended_ns or 2**63) > cut_ns
            }
            assert in_flight, "the cut came when the worker was running no job"
            for job_id in in_flight:
                record = records[job_id]
                assert (record.recoveries, record.worker) == (1, rescuer.name), record


async def test_an_idle_worker_takes_new_work_after_redis_restarts(tmp_path: Path) -> None:
    """Reliability #6: a worker waiting for work when Redis dies is woken by the next job.

    An idle worker sits on its wake-up subscription, not in a claim: that connection dies
    with the server and must be made again, or new jobs wait for nobody.
    """
    with private_redis(tmp_path / "redis", fsync="always") as server:
        async with open_harness(tmp_path, server.url) as harness:
            worker = harness.start_worker(concurrency=5, lease=LEASE, heartbeat=HEARTBEAT)
            await harness.started(worker)
            warm_up = (await harness.jobs.nap.enqueue(0)).id
            await harness.wait_until(lambda: warm_up in harness.runs(), 10, "the first job")
            await asyncio.sleep(0.5)  # idle now, waiting on its wake-up connection
            server.kill()
            await asyncio.sleep(1.0)
            server.start()
            await harness.jobs.app.close()  # see the stale-connection test below
            job = (await harness.jobs.nap.enqueue(0)).id
            await harness.wait_until(
                lambda: all_succeeded(harness, 2), 15, "the job enqueued after the restart"
            )
            assert [run.pid for run in harness.runs()[job]] == [worker.pid]


async def test_a_client_connected_before_a_redis_restart_works_once_redis_is_back(
    tmp_path: Path,
) -> None:
    """Reliability #6: after a restart, the next enqueue succeeds; no spurious error.

    An app (a web process, say) that enqueued before Redis restarted holds pooled
    connections to the old server. Redis is back and reachable, so an enqueue must not fail
    with "cannot reach Redis": the dead connection is replaced, not reported.
    """
    with private_redis(tmp_path / "redis", fsync="always") as server:
        async with open_harness(tmp_path, server.url) as harness:
            before = await harness.jobs.nap.enqueue(0)
            server.kill()
            server.start()
            after = await harness.jobs.nap.enqueue(0)
            for job_id in (before.id, after.id):
                assert (await harness.record(job_id)).state is JobState.QUEUED


class Round:
    """One round of jobs of each ending: succeeded and cancelled expire, failed is kept."""

    def __init__(self, succeeded: list[str], failed: list[str], cancelled: list[str]) -> None:
        self.succeeded = succeeded
        self.failed = failed
        self.cancelled = cancelled

    @property
    def expiring(self) -> list[str]:
        return self.succeeded + self.cancelled


async def run_round(harness: Harness, server: RedisServer, size: int) -> Round:
    """Enqueue `size` jobs of each ending; return once every one has ended in the store."""
    jobs, backend = harness.jobs, await harness.jobs.app.connected()
    succeeded = [h.id for h in await jobs.app.enqueue_many([jobs.brief.s(i) for i in range(size)])]
    failed = [h.id for h in await jobs.app.enqueue_many([jobs.flop.s() for _ in range(size)])]
    later = [jobs.brief.options(delay=3600).s(i) for i in range(size)]
    cancelled = [h.id for h in await jobs.app.enqueue_many(later)]
    for job_id in cancelled:
        await backend.cancel(job_id)
    client = server.client()

    def all_ended() -> bool:
        # the indexes of redis_lua's key layout, read raw: conveyor's reads drop expired jobs
        unfinished = sum(
            client.zcard(f"conveyor:{{default}}:{index}")
            for index in ("ready", "scheduled", "active")
        )
        runs = harness.runs()
        ran = all(job_id in runs for job_id in succeeded + failed)
        return ran and unfinished == 0

    try:
        await harness.wait_until(all_ended, 30, f"{3 * size} jobs to end")
    finally:
        client.close()
    return Round(succeeded, failed, cancelled)


def used_memory(server: RedisServer) -> int:
    with server.client() as client:
        info = client.info("memory")
    return int(info["used_memory"])


def keys(server: RedisServer) -> set[bytes]:
    """The store's keys, but for its per-hour outcome counters: history kept for a week by
    design (and a new one appears when a test crosses the hour), and the offer an idle
    worker holds while it waits (a new one at each wait)."""
    with server.client() as client:
        return {
            key for key in client.keys("*")
            if b":outcomes:" not in key and not key.endswith(b":offers")
            and not key.startswith(b"conveyor:offer:")
        }  # fmt: skip


def expiring_keys(server: RedisServer) -> set[bytes]:
    """Keys Redis deletes by itself within a lease (the receipts of recent claims); the
    hourly outcome counters, kept for a week, are history rather than a job's leftovers."""
    with server.client() as client:
        return {key for key in keys(server) if client.pttl(key) > 0}


async def settle(harness: Harness, server: RedisServer) -> None:
    """Wait out the keys that expire by themselves; only claim receipts may be among them."""
    receipts = expiring_keys(server)
    assert all(key.startswith(b"conveyor:claim:") for key in receipts), receipts
    await harness.wait_until(lambda: not expiring_keys(server), 3 * LEASE, "receipts to expire")


async def test_expired_results_and_purged_dead_letters_leave_redis_at_its_baseline(
    tmp_path: Path,
) -> None:
    """Memory: what a job leaves behind is gone once its result TTL passed and it was swept.

    Succeeded and cancelled jobs expire after their task's `result_ttl`: once it has
    passed they are invisible at once, and the sweep the worker runs (`purge_expired`)
    deletes their keys. Failed jobs are the dead-letter store: kept past the TTL, until
    purged. After both, Redis holds exactly the keys it held before the jobs (the queue
    registry and the id sequence) and its memory is back near the baseline.
    """
    size = 300
    with private_redis(tmp_path / "redis") as server:
        async with open_harness(tmp_path, server.url) as harness:
            backend = await harness.jobs.app.connected()
            harness.start_worker(concurrency=20, lease=LEASE, heartbeat=HEARTBEAT)

            async def sweep(round_: Round) -> None:
                await asyncio.sleep(BRIEF_TTL + 0.5)  # every result's TTL has passed
                assert await backend.purge_expired() == len(round_.expiring)
                assert await backend.purge([JobState.FAILED]) == len(round_.failed)

            # warm up: scripts loaded, connections and the queue's bookkeeping in place
            await sweep(await run_round(harness, server, 10))
            await settle(harness, server)
            baseline_keys, baseline_memory = keys(server), used_memory(server)
            assert not any(b":job:" in key for key in baseline_keys), baseline_keys

            round_ = await run_round(harness, server, size)
            peak_memory = used_memory(server)
            assert len(keys(server)) >= len(baseline_keys) + 3 * size
            await asyncio.sleep(BRIEF_TTL + 0.5)

            # expired: invisible at once, before any sweep
            for job_id in (round_.succeeded[0], round_.cancelled[0]):
                assert await backend.get(job_id) is None, job_id
            # dead letters: kept past the TTL, with their error
            for job_id in round_.failed:
                record = await harness.record(job_id)
                assert record.state is JobState.FAILED, record
                assert record.error is not None, record
            swept = await backend.purge_expired()
            assert swept == len(round_.expiring) - 2  # the two read above were dropped then
            job_keys = {key for key in keys(server) if b":job:" in key}
            assert {key.rsplit(b":", 1)[1].decode() for key in job_keys} == set(round_.failed)

            assert await backend.purge([JobState.FAILED]) == len(round_.failed)
            await settle(harness, server)
            assert keys(server) == baseline_keys
            growth = peak_memory - baseline_memory
            assert growth > 10 * MEMORY_NOISE, f"{size * 3} jobs took only {growth} bytes"
            await harness.wait_until(
                lambda: used_memory(server) <= baseline_memory + MEMORY_NOISE,
                10,
                f"used_memory back within {MEMORY_NOISE} bytes of its baseline "
                f"{baseline_memory} (it peaked at {peak_memory})",
            )


async def test_a_worker_whose_connections_go_silent_times_out_and_resumes(tmp_path: Path) -> None:
    """A cut that drops everything and closes nothing (a partition, a dead NAT entry): the
    worker's commands time out (`?socket_timeout=`) instead of waiting forever on those
    connections, and it carries on over new ones. The silent ones stay silent for good."""
    with private_redis(tmp_path / "redis") as server:
        async with open_harness(tmp_path, server.url) as harness:
            relay = Relay("127.0.0.1", server.port)
            await relay.start()
            try:
                worker = harness.start_worker(
                    concurrency=4, lease=LEASE, heartbeat=HEARTBEAT,
                    url=relay.url("/0?socket_timeout=1"),
                )  # fmt: skip
                first = await enqueue_naps(harness, 20, 0)
                await harness.wait_until(
                    lambda: all_succeeded(harness, len(first)), 30, "the first batch"
                )
                relay.stall()
                await asyncio.sleep(2)  # its waits, sweeps and heartbeats meet silence
                relay.restore()
                second = await enqueue_naps(harness, 20, 0)
                await harness.wait_until(
                    lambda: all_succeeded(harness, len(first) + len(second)),
                    45,
                    "the worker to run jobs over new connections",
                )
            finally:
                await relay.close()

            runs = harness.runs()
            verdict = classify(first + second, await harness.records(), runs)
            assert verdict.nothing_lost, verdict.summary()
            assert worker.alive, "the worker should have timed out and carried on, not died"
            assert {run.pid for job_id in second for run in runs[job_id]} == {worker.pid}
