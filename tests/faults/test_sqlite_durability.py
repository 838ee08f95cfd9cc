"""SQLite: a producer killed with SIGKILL mid-enqueue leaves a sound file and loses nothing."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from .harness import Harness


@pytest.fixture
def harness(sqlite_harness: Harness) -> Harness:
    """These faults write SQLite's file or rows directly: they run on SQLite alone."""
    return sqlite_harness


pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]

ROUNDS = 5


def integrity(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


def stored_ids(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM conveyor_jobs")}
    finally:
        conn.close()


async def kill_producer_after(harness: Harness, mode: str, count: int) -> list[str]:
    """Start a producer, SIGKILL it once `count` enqueues returned; every id it printed."""
    producer = harness.start_producer(mode, 100_000)
    await harness.wait_until(
        lambda: len(producer.acknowledged) >= count, 30, f"{count} acknowledged enqueues"
    )
    producer.kill()
    return producer.drain()


@pytest.mark.parametrize("mode", ["serial", "concurrent"])
async def test_kill_9_during_thousands_of_enqueues(harness: Harness, mode: str) -> None:
    """Reliability #7: integrity_check ok; every acknowledged enqueue present."""
    path = harness.sqlite_path()
    rng = random.Random(mode)
    acknowledged: list[str] = []
    for round_ in range(ROUNDS):
        # killed at a different point of its work each round
        acknowledged += await kill_producer_after(harness, mode, rng.randint(500, 2500))

        assert integrity(path) == ["ok"], f"round {round_}: the file is damaged"
        missing = set(acknowledged) - stored_ids(path)
        assert not missing, f"round {round_}: {len(missing)} acknowledged jobs are gone"

    assert len(set(acknowledged)) == len(acknowledged), "one job id acknowledged twice"
    # the store still opens and reads through conveyor itself
    records = await harness.records()
    assert set(acknowledged) <= records.keys()
