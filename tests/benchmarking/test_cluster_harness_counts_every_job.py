"""The cluster benchmark's harness with tiny sizes: it must still start a single Redis and a
Redis Cluster of three masters, put its three stores on three different masters, and count
every job of every cell on both sides; otherwise the comparison could rot unnoticed between
the runs that publish it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import redis
from benchmarks.cluster.cli import STORES, measure
from benchmarks.cluster.report import SIDES, WORKLOADS, Run, Sizes, render
from benchmarks.cluster.servers import prefixes_on_each_master, redis_cluster
from benchmarks.cluster.workloads import BULK, DRAIN, SINGLE, SPREAD

from live_services import missing

TINY = Sizes(drain=200, single=20, bulk=1_500, spread=100, rounds=1)


@pytest.fixture(autouse=True)
def _redis_server() -> None:
    if shutil.which("redis-server") is None:
        missing("redis-server", "no redis-server on PATH")


def test_every_cell_counts_every_job_and_the_report_has_a_ratio_per_workload(
    tmp_path: Path,
) -> None:
    said: list[str] = []
    cells, prefixes, servers = measure(TINY, tmp_path, said.append)

    assert [(cell.workload, cell.side) for cell in cells] == [
        (workload, side) for workload in WORKLOADS for side in SIDES
    ]
    wanted = {DRAIN: 200, SINGLE: 20, BULK: 1_500, SPREAD: 100 * STORES}
    for cell in cells:
        assert cell.problem is None, said
        assert (cell.done, cell.wanted) == (wanted[cell.workload], wanted[cell.workload])
        assert cell.client_cpu > 0, cell
        assert cell.server_cpu > 0, cell

    run = Run("python -m benchmarks cluster", TINY, prefixes, cells, servers, "?", ("0", "0"), 1)
    rows = [line for line in render(run).splitlines() if line.startswith("| ") and "µs" in line]
    assert len(rows) == len(WORKLOADS)
    for row in rows:
        assert re.search(r"\| \d+\.\d\dx \|", row), row


def test_the_stores_prefixes_fall_on_different_masters(tmp_path: Path) -> None:
    with redis_cluster(tmp_path) as cluster:
        prefixes = prefixes_on_each_master(cluster, STORES)
        # a master answers a key of a slot it does not hold with MOVED: one master takes each
        owners = [
            [node for node in cluster.nodes if _holds(node, f"{{{prefix}}}:probe")]
            for prefix in prefixes
        ]

    assert [len(holders) for holders in owners] == [1] * STORES
    assert len({id(holders[0]) for holders in owners}) == STORES


def _holds(node: redis.Redis, key: str) -> bool:
    try:
        node.set(key, 1)
    except redis.exceptions.MovedError:
        return False
    return True
