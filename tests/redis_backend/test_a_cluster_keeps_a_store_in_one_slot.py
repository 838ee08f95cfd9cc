"""A Redis Cluster, given any one node's URL: the store finds out it is a cluster and keeps
every key in one hash slot, so each script touches one slot; an idle worker is handed its
job as on a single server; stores with different prefixes spread over the masters."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest

from conveyor.backends.base import Ack, JobFilter, Lease, WorkerInfo
from conveyor.backends.redis import RedisBackend
from conveyor.errors import BackendUnavailable, ConfigurationError
from conveyor.job import JobState
from live_services import RedisClusterServers, shared_redis_cluster

from .conftest import opened
from .support import job


@pytest.fixture(scope="module")
def cluster() -> RedisClusterServers:
    return shared_redis_cluster()


def store_url(cluster: RedisClusterServers, prefix: str) -> str:
    """The URL of a node that does not hold the store's slot, as a user may well give."""
    owner = cluster.node_of(f"{{{prefix}}}")
    other = next(node for node in cluster.nodes if node is not owner)
    return f"{other.url}?prefix={prefix}"


def worker_info(name: str) -> WorkerInfo:
    return WorkerInfo(
        name=name, host="h", pid=1, queues=("a", "b"), concurrency=1, started_at=0.0,
        processed=0, last_seen=0.0,
    )  # fmt: skip


def keys_by_node(cluster: RedisClusterServers, prefix: str) -> dict[int, list[bytes]]:
    found: dict[int, list[bytes]] = {}
    for node in cluster.nodes:
        with node.client() as client:
            keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
        if keys:
            found[node.port] = keys
    return found


async def test_every_key_of_a_store_lives_in_one_slot(cluster: RedisClusterServers) -> None:
    prefix = f"t-{secrets.token_hex(4)}"
    async with opened(store_url(cluster, prefix)) as backend:
        assert backend.cluster is True
        await backend.enqueue([job("a"), job("b"), job("b", delay=60.0)])
        claimed = await backend.claim(["a", "b"], 10, "w1", 30.0)
        assert len(claimed) == 2
        acks = [Ack(Lease(r.id, r.lease_token or ""), JobState.SUCCEEDED) for r in claimed]
        assert await backend.ack(acks) == [True, True]
        await backend.pause_queue("a")
        assert await backend.paused_queues() == frozenset({"a"})
        counts = await backend.counts()
        assert counts["b"] == {JobState.SUCCEEDED: 1, JobState.SCHEDULED: 1}
        await backend.register_worker(worker_info("w1"), 60.0)
        assert [w.name for w in await backend.workers()] == ["w1"]
        await backend.outcome_counts(0.0)
        assert len(await backend.list_jobs(JobFilter(limit=10))) == 3

    (port, keys), *elsewhere = keys_by_node(cluster, prefix).items()
    assert not elsewhere, f"keys of one store on several nodes: {port} and {elsewhere}"
    assert port == cluster.node_of(f"{{{prefix}}}").port
    with cluster.nodes[0].client() as client:
        slots = {client.execute_command("CLUSTER", "KEYSLOT", key) for key in keys}
    assert len(slots) == 1, f"{len(keys)} keys over {len(slots)} slots"


async def test_an_idle_worker_is_handed_its_job_on_a_cluster(
    cluster: RedisClusterServers,
) -> None:
    prefix = f"t-{secrets.token_hex(4)}"
    async with (
        opened(store_url(cluster, prefix)) as worker,
        opened(store_url(cluster, prefix)) as producer,
    ):
        waiter = asyncio.create_task(worker.wait_for_jobs(["q"], 30.0, "worker-1", 60.0))
        owner = cluster.node_of(f"{{{prefix}}}")
        offers = f"{{{prefix}}}:{{q}}:offers"

        def offered() -> bool:
            with owner.client() as client:
                return bool(client.zcard(offers))

        for _ in range(500):
            if offered():
                break
            await asyncio.sleep(0.02)
        assert offered(), "the idle worker made no offer"
        (stored,) = await producer.enqueue([job("q")])
        (handed,) = await asyncio.wait_for(waiter, 10.0)

    assert handed.id == stored.record.id
    assert (handed.state, handed.worker, handed.attempts) == (JobState.ACTIVE, "worker-1", 1)


async def test_stores_with_different_prefixes_spread_over_the_masters(
    cluster: RedisClusterServers,
) -> None:
    # a prefix for each master: drawn until each master holds one's slot
    prefixes: dict[int, str] = {}
    while len(prefixes) < len(cluster.nodes):
        prefix = f"t-{secrets.token_hex(4)}"
        prefixes.setdefault(cluster.node_of(f"{{{prefix}}}").port, prefix)
    for prefix in prefixes.values():
        async with opened(f"{cluster.url}?prefix={prefix}") as backend:
            await backend.enqueue([job("q")])
    for port, prefix in prefixes.items():
        assert list(keys_by_node(cluster, prefix)) == [port]


async def test_a_cluster_url_with_a_database_is_refused_in_one_line(
    cluster: RedisClusterServers,
) -> None:
    backend = RedisBackend(f"{cluster.url.rsplit('/', 1)[0]}/9?prefix=t-db")
    with pytest.raises(ConfigurationError) as caught:
        await backend.open()
    message = str(caught.value)
    assert "\n" not in message
    assert "a Redis Cluster has only database 0, drop /9 from the URL" in message


async def test_the_master_of_the_store_down_is_a_store_out_of_reach_until_it_is_back(
    tmp_path: Path,
) -> None:
    cluster = RedisClusterServers(tmp_path / "cluster")
    try:
        cluster.start()
        async with opened(store_url(cluster, "down")) as backend:
            (stored,) = await backend.enqueue([job("q")])
            master = cluster.node_of("{down}")
            master.kill()
            for read in (backend.counts(), backend.get(stored.record.id)):
                with pytest.raises(BackendUnavailable, match=r"^cannot reach Redis at redis://"):
                    await read
            with pytest.raises(BackendUnavailable, match=r"^cannot reach Redis at redis://"):
                await backend.enqueue([job("q")])
            master.start()  # reloads its AOF
            cluster.wait_until_whole()
            assert (await backend.counts())["q"] == {JobState.QUEUED: 1}
    finally:
        cluster.close()
