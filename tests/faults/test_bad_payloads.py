"""Bad rows in the store: dead-lettered with a reason before user code runs; the worker lives.

The rows are written straight into SQLite's `conveyor_jobs` table, as a buggy or hostile
producer (or another program sharing the file) could.
"""

from __future__ import annotations

import os
import pickle
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from conveyor.job import JobState

from .harness import Harness


@pytest.fixture
def harness(sqlite_harness: Harness) -> Harness:
    """These faults write SQLite's file or rows directly: they run on SQLite alone."""
    return sqlite_harness


pytestmark = [pytest.mark.faults, pytest.mark.timeout(60)]

NAP, ECHO = "faults.nap", "faults.echo"
UNDECODABLE, UNKNOWN_TASK = "failed: undecodable", "failed: unknown_task"
MARK, MARK_JSON = 1234.5, b"1234.5"  # an argument value easy to find in an encoded payload


class Mkdir:
    """Pickles to "call os.mkdir(path)": unpickling it would run code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (str(self.path),)


def insert_raw(path: Path, rows: dict[str, tuple[str, bytes]]) -> None:
    """Write job rows (id -> task name, payload) as another program would: no conveyor."""
    now = time.time()
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.executemany(
                "INSERT INTO conveyor_jobs (id, task, queue, state, payload, max_attempts, "
                "enqueued_at, due_at) VALUES (?, ?, 'default', 'queued', ?, 4, ?, ?)",
                [(job_id, task, payload, now, now) for job_id, (task, payload) in rows.items()],
            )
    finally:
        conn.close()


async def run_rows_through_a_worker(
    harness: Harness, rows: dict[str, tuple[str, bytes]]
) -> dict[str, str]:
    """Store the rows, let a worker at them, then check it still works; how each row ended."""
    insert_raw(harness.sqlite_path(), rows)
    worker = harness.start_worker(concurrency=4, nap_scale=0)  # a nap that wrongly runs ends

    async def all_final() -> bool:
        return all([(await harness.record(job_id)).state.is_final for job_id in rows])

    await harness.wait_until(all_final, 15, "every row to end")

    # the worker is still up, and runs a good job enqueued after the bad ones
    good = await harness.jobs.nap.enqueue(0)
    # typed `object`: conveyor types an async task's result as the coroutine it returns
    outcome: object = await good.result(timeout=10)
    assert outcome == worker.pid
    assert worker.alive, "a bad row took the worker down"
    worker.send(signal.SIGTERM)
    assert await harness.wait_exit(worker, 10) == 0

    outcomes: dict[str, str] = {}
    for job_id in rows:
        record = await harness.record(job_id)
        outcomes[job_id] = record.state.value
        if record.state is JobState.FAILED and record.error is not None:
            outcomes[job_id] += f": {record.error.reason}"
    return outcomes


def shaped(payload: bytes, replace: bytes, by: bytes) -> bytes:
    """`payload` with `replace` swapped for `by`: bad rows built on the codec's own wire form."""
    assert replace in payload, f"{replace!r} not in {payload!r}: the wire form changed"
    return payload.replace(replace, by, 1)


async def test_bad_payloads_are_dead_lettered_with_a_reason(harness: Harness) -> None:
    """Reliability #12 and #13: malformed, unknown, misshapen, pickled, deeply nested."""
    jobs, pwned = harness.jobs, harness.directory / "pwned"
    nap = jobs.nap.s(MARK).record.payload  # a good payload of each task, as enqueue writes it
    echo = jobs.echo.s(MARK).record.payload
    deep = b"[" * 100_000 + b"]" * 100_000
    cases: dict[str, tuple[str, bytes, str]] = {
        "truncated-json": (NAP, nap[: len(nap) // 2], UNDECODABLE),
        "binary-garbage": (NAP, b"\xff\xfe\x00garbage", UNDECODABLE),
        "empty": (NAP, b"", UNDECODABLE),
        "unknown-task": ("faults.no_such_task", nap, UNKNOWN_TASK),
        "wrong-type": (NAP, shaped(nap, MARK_JSON, b'"soon"'), UNDECODABLE),
        "renamed-argument": (NAP, shaped(nap, b'"seconds"', b'"secs"'), UNDECODABLE),
        "another-task's-arguments": (NAP, echo, UNDECODABLE),
        "two-argument-sets": (NAP, nap + b", " + nap, UNDECODABLE),
        "json-null": (NAP, b"null", UNDECODABLE),
        "json-number": (NAP, b"42", UNDECODABLE),
        "json-list": (NAP, b"[0]", UNDECODABLE),
        "pickle": (NAP, pickle.dumps(Mkdir(pwned)), UNDECODABLE),
        "deep-nesting": (ECHO, shaped(echo, MARK_JSON, deep), UNDECODABLE),
    }
    outcomes = await run_rows_through_a_worker(
        harness, {job_id: (task, payload) for job_id, (task, payload, _) in cases.items()}
    )

    expected = {job_id: reason for job_id, (_, _, reason) in cases.items()}
    assert outcomes == expected
    ran = set(harness.runs()) & cases.keys()
    assert not ran, f"user code ran for bad payloads: {sorted(ran)}"
    assert not pwned.exists(), "the pickle was unpickled: code from the store ran"


async def test_a_payload_with_an_unexpected_argument_is_dead_lettered(harness: Harness) -> None:
    """Reliability #12, wrong argument shape: an argument the task does not take.

    Called directly, `nap(seconds=0, bogus=1)` raises TypeError, and `nap.enqueue` refuses
    it at the call site; a stored payload with that shape must not run with `bogus` dropped.
    """
    nap = harness.jobs.nap.s(MARK).record.payload
    payload = shaped(nap, b'"seconds"', b'"bogus": 1, "seconds"')
    outcomes = await run_rows_through_a_worker(harness, {"unexpected-argument": (NAP, payload)})
    assert outcomes == {"unexpected-argument": UNDECODABLE}
    assert "unexpected-argument" not in harness.runs(), "user code ran for a misshapen payload"


async def test_an_oversized_payload_in_the_store_is_dead_lettered(harness: Harness) -> None:
    """Reliability #12: a 10 MB body, ten times the app's limit, never reaches user code."""
    jobs = harness.jobs
    oversized = b'"' + b"x" * (10 * jobs.app.max_payload_bytes) + b'"'
    body = shaped(jobs.echo.s(MARK).record.payload, MARK_JSON, oversized)
    outcomes = await run_rows_through_a_worker(harness, {"ten-megabytes": (ECHO, body)})
    outcome = outcomes["ten-megabytes"]
    assert outcome.startswith("failed: "), f"a 10 MB payload was not refused: it {outcome}"
    assert "ten-megabytes" not in harness.runs(), "user code ran for an oversized payload"
