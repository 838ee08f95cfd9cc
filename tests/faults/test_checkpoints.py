"""A long import killed mid-way resumes from its last checkpoint, not from row zero."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conveyor.job import JobState

from .harness import SWEEP_INTERVAL, Harness

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]

LEASE, HEARTBEAT = 2.0, 0.5
TOTAL, CHUNK = 200, 10


def imported(rows_file: Path) -> list[tuple[int, int]]:
    """(attempt, row) for every row the task wrote, in order."""
    if not rows_file.exists():
        return []
    pairs = (line.split() for line in rows_file.read_text().splitlines())
    return [(int(attempt), int(row)) for attempt, row in pairs]


async def test_sigkill_mid_import_resumes_from_the_saved_row(harness: Harness) -> None:
    rows_file = harness.directory / "rows.log"
    handle = await harness.jobs.import_rows.enqueue(str(rows_file), TOTAL, CHUNK)

    first = harness.start_worker(lease=LEASE, heartbeat=HEARTBEAT)
    await harness.wait_until(lambda: len(imported(rows_file)) >= 75, 20, "75 rows imported")
    first.kill()
    checkpoint = (await harness.record(handle.id)).checkpoint
    assert checkpoint is not None, "no checkpoint was saved before the kill"
    saved = json.loads(checkpoint)["row"]
    # row 75 was written, so the chunk before it had been saved durably
    assert 70 <= saved < TOTAL, saved

    harness.start_worker(lease=LEASE, heartbeat=HEARTBEAT)

    async def succeeded() -> bool:
        return (await harness.record(handle.id)).state is JobState.SUCCEEDED

    await harness.wait_until(succeeded, LEASE + SWEEP_INTERVAL + 15, "the import to finish")

    rows = imported(rows_file)
    before = [row for attempt, row in rows if attempt == 1]
    after = [row for attempt, row in rows if attempt == 2]
    assert {attempt for attempt, _ in rows} == {1, 2}
    assert before == list(range(len(before))), "the first attempt imported in order"
    assert after == list(range(saved, TOTAL)), "the second attempt started at the saved row"
    assert sorted({row for _, row in rows}) == list(range(TOTAL)), "every row imported"
    twice = sorted(set(before) & set(after))
    assert set(twice) <= set(range(saved, saved + CHUNK)), "only the chunk in flight repeats"
    assert await harness.jobs.app.job(handle.id).result(timeout=5) == saved
