"""The two sides of the comparison, each a private server set started for the run: one
redis-server, and a Redis Cluster of three masters (no replicas), all with persistence off.

A side hands out store URLs by prefix, empties itself between cells and tells how much CPU
its servers have used so far. On the cluster, a store keeps its keys under the hash tag
`{prefix}`, so a prefix picks the one master that holds the store.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import redis

from benchmarks.redis_bench.server import RedisServer

SLOTS = 16384
MASTERS = 3


@dataclasses.dataclass(frozen=True, slots=True)
class Side:
    name: str  # as the report heads its column
    described: str  # what the servers are, for the report's notes
    nodes: Sequence[redis.Redis]  # a client per server; the first is the one URLs name

    def url(self, prefix: str) -> str:
        kwargs = self.nodes[0].get_connection_kwargs()
        return f"redis://{kwargs['host']}:{kwargs['port']}/0?prefix={prefix}"

    def flush(self) -> None:
        """Every server empty: a fresh state for the next cell."""
        for node in self.nodes:
            node.flushall()

    def server_cpu(self) -> float:
        """The servers' user + system CPU seconds so far, summed over every node."""
        total = 0.0
        for node in self.nodes:
            cpu = node.info("cpu")
            total += float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])
        return total


@contextmanager
def single_redis(folder: Path) -> Iterator[Side]:
    folder.mkdir()
    server = RedisServer(folder)  # persistence off: the throughput runs' setting
    try:
        described = f"Redis {server.version()}, one server, persistence off"
        yield Side("single Redis", described, [server.client])
    finally:
        server.close()


@contextmanager
def redis_cluster(folder: Path, masters: int = MASTERS) -> Iterator[Side]:
    """Start the masters, share the slots evenly between them, let them meet, and wait
    until every one of them says the cluster is ok."""
    with ExitStack() as stack:
        nodes = []
        for i in range(masters):
            (folder / f"node{i}").mkdir(parents=True)
            node = RedisServer(folder / f"node{i}", cluster=True)
            stack.callback(node.close)
            nodes.append(node)
        step = SLOTS // masters
        for i, node in enumerate(nodes):
            last = SLOTS - 1 if i == masters - 1 else (i + 1) * step - 1
            _command(node.client, "CLUSTER", "ADDSLOTSRANGE", i * step, last)
            for other in nodes:
                _command(node.client, "CLUSTER", "MEET", "127.0.0.1", other.port, other.bus_port)
        _wait_until_ok(nodes)
        version = nodes[0].client.info("server")["redis_version"]
        described = (
            f"Redis {version}, {masters} masters in cluster mode, no replicas, persistence off"
        )
        yield Side("Redis Cluster", described, [node.client for node in nodes])


def _wait_until_ok(nodes: Sequence[RedisServer], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    whole = ("cluster_state:ok", f"cluster_known_nodes:{len(nodes)}")
    while True:
        try:
            infos = [str(_command(node.client, "CLUSTER", "INFO")) for node in nodes]
            if all(all(part in info for part in whole) for info in infos):
                return
        except redis.exceptions.RedisError:
            pass
        if time.monotonic() > deadline:
            tails = "\n".join(node.tail() for node in nodes)
            raise RuntimeError(f"the Redis Cluster was not ok in {timeout:g} s:\n{tails}")
        time.sleep(0.05)


def prefixes_on_each_master(cluster: Side, count: int) -> list[str]:
    """`count` store prefixes whose hash tags `{prefix}` fall on `count` different masters."""
    client = cluster.nodes[0]
    owners = [
        (int(first), int(last), int(master[1]))
        for first, last, master, *_ in _command(client, "CLUSTER", "SLOTS")
    ]
    chosen: dict[int, str] = {}  # master's port -> prefix
    for i in range(10_000):
        prefix = f"bench-{i}"
        slot = int(_command(client, "CLUSTER", "KEYSLOT", f"{{{prefix}}}"))
        port = next(port for first, last, port in owners if first <= slot <= last)
        chosen.setdefault(port, prefix)
        if len(chosen) == count:
            return list(chosen.values())
    raise RuntimeError(f"no {count} prefixes on {count} different masters")


def _command(client: redis.Redis, *args: str | int) -> Any:
    """A raw command: redis-py types CLUSTER's subcommands only on its cluster client."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]
