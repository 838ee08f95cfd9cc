"""A process task's child does not outlive a worker killed with SIGKILL."""

from __future__ import annotations

import psutil
import pytest

from .harness import Harness

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]


def alive(pid: int) -> bool:
    """Running, not merely an unreaped zombie (an orphan's reaper may be slow, or absent)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_a_killed_workers_child_stops_too(harness: Harness) -> None:
    pid_file = harness.directory / "pids"
    await harness.jobs.pid_nap.enqueue(str(pid_file), 60)

    worker = harness.start_worker(lease=2.0, heartbeat=0.5)
    await harness.wait_until(pid_file.exists, 20, "the child to start the job")
    (child,) = (int(line) for line in pid_file.read_text().split())
    assert child != worker.pid
    assert alive(child)
    worker.kill()

    await harness.wait_until(lambda: not alive(child), 10, f"the orphaned child {child} to exit")
