"""The processes curve's harness, with tiny sizes on SQLite: it must still start
`conveyor worker --processes`, see every job ran once in its completion log, and find the
store agreeing; otherwise the curve could rot unnoticed between the runs that publish it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from benchmarks.processes_curve.cli import drain


def test_a_cell_drains_every_job_with_two_processes(tmp_path: Path) -> None:
    cell = asyncio.run(drain("sqlite", 2, 300, tmp_path))

    assert cell.problem is None
    assert (cell.done, cell.wanted) == (300, 300)
    assert cell.worker_cpu > 0
    assert cell.peak_rss > 0
