"""The observability benchmark's harness with tiny sizes: every variant's worker process
drains the queue, and the harness verifies each job ran once before it reports a rate."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks.observability.drain import Cell, Sizes, drain
from benchmarks.observability.variants import VARIANTS, Variant

TINY = Sizes(n=30, concurrency=5, cap=60.0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_drains_every_job_on_sqlite(variant: Variant, tmp_path: Path) -> None:
    result = drain(Cell("sqlite", "noop", variant), TINY, tmp_path, None)

    assert result.problem is None
    assert result.counted
    assert result.rate.done == TINY.n - 1  # counted from the first job's start
