"""The dashboard benchmark's harness with a tiny store, on each backend: it must still fill
the store through the backend's own calls (and read back the outcome counters it wrote
around it), reach every page and API call of the dashboard, see each answer show what it
should, and report them all; otherwise the figures could rot unnoticed between runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest
from benchmarks.dashboard.cli import run_backend
from benchmarks.dashboard.fill import Sizes
from benchmarks.dashboard.report import Run, render
from benchmarks.dashboard.stores import POSTGRES_URL
from benchmarks.progress import Progress

from conveyor.job import JobState
from live_services import missing

TINY = Sizes(
    succeeded=600, failed=30, cancelled=5, queued=100, scheduled=20, workers=2,
    active_per_worker=5, batch=200,
)  # fmt: skip
REQUESTS = 2


def needs(backend: str) -> None:
    if backend == "redis" and shutil.which("redis-server") is None:
        missing("redis-server", "no redis-server on PATH")
    if backend == "postgres":
        try:
            psycopg.connect(POSTGRES_URL, connect_timeout=5).close()
        except psycopg.OperationalError as exc:
            missing("PostgreSQL", exc)


@pytest.mark.parametrize("backend", ["sqlite", "redis", "postgres"])
async def test_every_dashboard_call_is_timed_and_answers_as_it_should(
    backend: str, tmp_path: Path
) -> None:
    needs(backend)
    done = await run_backend(backend, TINY, REQUESTS, 60.0, tmp_path, Progress())

    assert done.problem is None
    assert done.marks is not None
    assert done.marks.total(JobState.FAILED) == TINY.failed
    errors = {t.name: t.error for t in done.timings if t.error}
    assert errors == {}
    assert all(len(t.ms) == REQUESTS for t in done.timings)
    names = {t.name for t in done.timings}
    assert {"overview", "workers", "queues", "schedules", "backend.counts()"} <= names
    assert {t.kind for t in done.timings} == {"page", "api", "action", "store"}
    report = render(
        Run("python -m benchmarks dashboard", TINY, REQUESTS, 60.0, [done], "here", ("0", "0"), 1)
    )
    for timing in done.timings:
        assert f"| {timing.name} |" in report
