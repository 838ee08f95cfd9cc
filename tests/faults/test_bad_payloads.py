"""Bad payloads in the store: dead-lettered with a reason before user code runs; the worker lives.

Each job is enqueued through conveyor, then its payload (or task name) is overwritten in the
store itself, as a buggy or hostile producer sharing the store could: an SQL UPDATE of the
`conveyor_jobs` row on SQLite and PostgreSQL, an HSET of the job's hash on Redis.
"""

from __future__ import annotations

import os
import pickle
import signal
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from conveyor.backends.postgres import parse_url
from conveyor.backends.postgres_schema import quoted
from conveyor.backends.redis_lua import DEFAULT_PREFIX
from conveyor.job import JobState

from .harness import Harness

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


def overwrite(harness: Harness, job_id: str, fields: dict[str, str | bytes]) -> None:
    """Set columns (SQL) or hash fields (Redis) of a stored job, with no conveyor code."""
    url = harness.url
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme == "sqlite":
        conn = sqlite3.connect(harness.sqlite_path())
        try:
            with conn:
                assignments = ", ".join(f"{name} = ?" for name in fields)
                changed = conn.execute(
                    f"UPDATE conveyor_jobs SET {assignments} WHERE id = ?",
                    [*fields.values(), job_id],
                ).rowcount
        finally:
            conn.close()
    elif scheme == "postgresql":
        conninfo, schema, _, _ = parse_url(url)
        with psycopg.connect(conninfo, autocommit=True) as pg:
            assignments = ", ".join(f"{name} = %s" for name in fields)
            changed = pg.execute(
                f"UPDATE {quoted(schema)}.conveyor_jobs SET {assignments} WHERE id = %s".encode(),
                [*fields.values(), job_id],
            ).rowcount
    elif scheme == "redis":
        # on a cluster, the store's keys share the hash tag {prefix}
        with redis.Redis.from_url(url) as probe:
            cluster = bool(probe.info("cluster").get("cluster_enabled"))
        keyspace = f"{{{DEFAULT_PREFIX}}}" if cluster else DEFAULT_PREFIX
        key = f"{keyspace}:{{default}}:job:{job_id}"
        client: Any = redis.RedisCluster.from_url(url) if cluster else redis.Redis.from_url(url)
        with client:
            assert client.exists(key), f"no hash {key}: the Redis key layout changed"
            client.hset(key, mapping=dict(fields))
            changed = 1
    else:
        raise LookupError(f"no way to write into the store at {url}")
    assert changed == 1, f"job {job_id} is not in the store"


async def store_bad_jobs(harness: Harness, rows: dict[str, tuple[str, bytes]]) -> None:
    """Enqueue a good job per row, then overwrite its task name and payload in the store."""
    jobs = harness.jobs
    for job_id, (task, payload) in rows.items():
        await jobs.nap.options(job_id=job_id).enqueue(0)
        fields: dict[str, str | bytes] = {"payload": payload}
        if task != NAP:
            fields["task"] = task
        overwrite(harness, job_id, fields)


async def run_rows_through_a_worker(
    harness: Harness, rows: dict[str, tuple[str, bytes]]
) -> dict[str, str]:
    """Store the rows, let a worker at them, then check it still works; how each row ended."""
    await store_bad_jobs(harness, rows)
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
    assert not set(harness.runs()) & rows.keys(), "user code ran for a bad payload"
    return outcomes


def shaped(payload: bytes, replace: bytes, by: bytes) -> bytes:
    """`payload` with `replace` swapped for `by`: bad rows built on the codec's own wire form."""
    assert replace in payload, f"{replace!r} not in {payload!r}: the wire form changed"
    return payload.replace(replace, by, 1)


async def test_bad_payloads_are_dead_lettered_with_a_reason(harness: Harness) -> None:
    """Reliability #12: malformed JSON, unknown task, wrong argument shape, 10 MB, deep nesting.

    Called directly, `nap(seconds=0, bogus=1)` raises TypeError, and `nap.enqueue` refuses it
    at the call site; a stored payload with that shape must not run with `bogus` dropped.
    """
    jobs = harness.jobs
    nap = jobs.nap.s(MARK).record.payload  # a good payload of each task, as enqueue writes it
    echo = jobs.echo.s(MARK).record.payload
    deep = b"[" * 100_000 + b"]" * 100_000
    oversized = b'"' + b"x" * (10 * jobs.app.max_payload_bytes) + b'"'
    cases: dict[str, tuple[str, bytes]] = {
        "truncated-json": (NAP, nap[: len(nap) // 2]),
        "binary-garbage": (NAP, b"\xff\xfe\x00garbage"),
        "empty": (NAP, b""),
        "unknown-task": ("faults.no_such_task", nap),
        "wrong-type": (NAP, shaped(nap, MARK_JSON, b'"soon"')),
        "renamed-argument": (NAP, shaped(nap, b'"seconds"', b'"secs"')),
        "unexpected-argument": (NAP, shaped(nap, b'"seconds"', b'"bogus": 1, "seconds"')),
        "another-task's-arguments": (NAP, echo),
        "two-argument-sets": (NAP, nap + b", " + nap),
        "json-null": (NAP, b"null"),
        "json-number": (NAP, b"42"),
        "json-list": (NAP, b"[0]"),
        "deep-nesting": (ECHO, shaped(echo, MARK_JSON, deep)),
        "ten-megabytes": (ECHO, shaped(echo, MARK_JSON, oversized)),
    }
    outcomes = await run_rows_through_a_worker(harness, cases)

    expected = {job_id: UNDECODABLE for job_id in cases} | {"unknown-task": UNKNOWN_TASK}
    assert outcomes == expected


async def test_a_forged_pickle_is_never_unpickled(harness: Harness) -> None:
    """Reliability #13: pickles written straight into the store never run as code.

    Each pickle, once loaded, would create a directory; every protocol is tried, the text
    one (0) included, and one sits where the task's argument goes.
    """
    made = harness.directory / "made-by-a-pickle"
    pickles = {
        f"pickle-protocol-{protocol}": pickle.dumps(Mkdir(made), protocol=protocol)
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1)
    }
    nap = harness.jobs.nap.s(MARK).record.payload
    pickles["pickle-as-the-argument"] = shaped(nap, MARK_JSON, pickles["pickle-protocol-0"])
    outcomes = await run_rows_through_a_worker(
        harness, {job_id: (NAP, payload) for job_id, payload in pickles.items()}
    )

    assert outcomes == {job_id: UNDECODABLE for job_id in pickles}
    assert not made.exists(), "a pickle was loaded: code from the store ran"
