"""Rows of the jobs table as JobRecords and listing cursors, and storing new jobs on any
connection."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Sequence
from typing import Any

from conveyor.backends.base import Enqueued, new_record
from conveyor.backends.history import history_of
from conveyor.backends.postgres_caller import Row, Runner
from conveyor.backends.postgres_sql import Statements
from conveyor.errors import EnqueueError
from conveyor.job import JobError, JobRecord, JobState, UniqueUntil

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
MICROSECOND = datetime.timedelta(microseconds=1)
# a listing cursor: the enqueued_at (microseconds since the epoch) and seq of a page's last job
CURSOR = re.compile(r"(-?[0-9]{1,18}):([0-9]{1,18})")


async def insert(run: Runner, sql: Statements, jobs: Sequence[JobRecord]) -> list[Enqueued]:
    """Store the jobs whose id is not live; each job's record, new or existing.

    The common case is one statement. An id that is taken is looked at once more: an
    expired record is deleted and the job stored in its place, a live one is returned.
    """
    first: dict[str, JobRecord] = {}
    for job in jobs:
        first.setdefault(job.id, job)
    stored: dict[str, JobRecord] = {}
    created: set[str] = set()
    held_by: dict[str, JobRecord | str] = {}
    if any(job.unique_key is not None for job in first.values()):
        held_by = await _held_keys(run, sql, list(first.values()))
    pending = [job for job in first.values() if job.id not in held_by]
    for _ in range(3):  # more only if other producers keep replacing the same ids
        if not pending:  # all stored, or held back by unique keys
            break
        for job_id, enqueued_at, _ in await run.rows(*_enqueue(pending, sql)):
            stored[job_id] = new_record(first[job_id], float(enqueued_at))
            created.add(job_id)
        taken = [job.id for job in pending if job.id not in stored]
        if taken:
            dropped = {row[0] for row in await run.rows(sql.drop_expired_ids, {"ids": taken})}
            live = [job_id for job_id in taken if job_id not in dropped]
            for row in await run.rows(sql.select_ids, {"ids": live}) if live else ():
                found = record(row)
                stored[found.id] = found
        pending = [first[job_id] for job_id in taken if job_id not in stored]
    if pending:
        raise EnqueueError(
            f"job id {pending[0].id!r} is taken by a job this transaction cannot see "
            "(another transaction is storing it): try again"
        )
    for job_id, holder in held_by.items():
        stored[job_id] = stored[holder] if isinstance(holder, str) else holder
    return [
        Enqueued(stored[job.id], created=job is first[job.id] and job.id in created) for job in jobs
    ]


async def _held_keys(
    run: Runner, sql: Statements, jobs: list[JobRecord]
) -> dict[str, JobRecord | str]:
    """The jobs not to store because a job holds their unique key: job id -> the holder's
    record, or the id of the job of this batch that takes the key first.

    Run inside a transaction: the keys stay locked until it ends. A job whose id is live
    is left to the id check, as it would be without a key.
    """
    keyed = [job for job in jobs if job.unique_key is not None]
    keys = [job.unique_key for job in keyed]
    await run.rows(sql.lock_unique_keys, {"namespace": sql.unique_namespace, "keys": keys})
    live = {row[0] for row in await run.rows(sql.live_ids, {"ids": [job.id for job in keyed]})}
    holders: dict[str, JobRecord | str] = {}
    now = 0.0
    for row in await run.rows(sql.unique_holders, {"keys": keys}):
        found, now = record(row), float(row[-1])
        if (found.expires_at is None or found.expires_at > now) and found.holds_unique_key(now):
            holders[row[27]] = found
    held_by: dict[str, JobRecord | str] = {}
    for job in keyed:
        assert job.unique_key is not None
        if job.id in live:
            continue
        holder = holders.get(job.unique_key)
        if holder is not None:
            held_by[job.id] = holder
        elif new_record(job, now).holds_unique_key(now):  # unique_for=0 holds nothing
            holders[job.unique_key] = job.id
    return held_by


def _fields(job: JobRecord) -> dict[str, Any]:
    """The job's fields as the enqueue statements take them."""
    return {
        "id": job.id,
        "task": job.task,
        "queue": job.queue,
        "priority": job.priority,
        "payload": job.payload,
        "headers": json.dumps(job.headers) if job.headers else None,
        "max_attempts": job.max_attempts,
        "timeout": as_float(job.timeout),
        "result_ttl": as_float(job.result_ttl),
        "delay": float(job.delay),
        "unique_key": job.unique_key,
        "unique_until": job.unique_until,
        "unique_for": as_float(job.unique_for),
        "limit_key": job.limit_key,
        "limit": job.limit,
        "rate_key": job.rate_key,
        "rate_limit": job.rate_limit,
        "rate_period": as_float(job.rate_period),
    }


def _enqueue(jobs: Sequence[JobRecord], sql: Statements) -> tuple[bytes, dict[str, Any]]:
    """The statement that stores the jobs (at least one), and its parameters."""
    if len(jobs) == 1:
        return sql.enqueue_one, {**_fields(jobs[0]), "work": sql.work_channel}
    rows = [_fields(job) for job in jobs]
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    return sql.enqueue, {**columns, "work": sql.work_channel}


def as_float(value: float | None) -> float | None:
    """As a float: psycopg sends a list as one array type, so 1 and 1.5 cannot mix."""
    return None if value is None else float(value)


def error_json(error: JobError | None) -> str | None:
    return None if error is None else json.dumps(error.to_dict())


def _epoch(value: datetime.datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def record(row: Row) -> JobRecord:
    return JobRecord(
        id=row[0], task=row[1], queue=row[2], state=JobState(row[3]), priority=row[4],
        payload=bytes(row[5]), headers=row[6] or {}, attempts=row[7], max_attempts=row[8],
        recoveries=row[9], timeout=row[10], result_ttl=row[11],
        enqueued_at=row[12].timestamp(), due_at=row[13].timestamp(),
        started_at=_epoch(row[14]), finished_at=_epoch(row[15]), lease_token=row[16],
        lease_expires_at=_epoch(row[17]), worker=row[18],
        result=None if row[19] is None else bytes(row[19]),
        error=None if row[20] is None else JobError.from_dict(row[20]),
        progress=row[21], progress_message=row[22],
        checkpoint=None if row[23] is None else bytes(row[23]),
        cancel_requested=row[24], expires_at=_epoch(row[25]), unique_key=row[27],
        unique_until=None if row[28] is None else UniqueUntil(row[28]), unique_for=row[29],
        limit_key=row[30], limit=row[31], rate_key=row[32], rate_limit=row[33],
        rate_period=row[34], history=history_of(row[35]),
    )  # fmt: skip


def cursor_of(row: Row) -> str:
    """The cursor of a page that ends with the job of `row`: its place in listing order."""
    enqueued_at: datetime.datetime = row[12]
    return f"{(enqueued_at - EPOCH) // MICROSECOND}:{row[26]}"


def cursor_place(cursor: str) -> tuple[datetime.datetime, int]:
    """The (enqueued_at, seq) a cursor names; ValueError for text no page gave."""
    found = CURSOR.fullmatch(cursor)
    if found is None:
        raise ValueError(f"not a cursor of a page of jobs: {cursor!r}")
    try:
        enqueued_at = EPOCH + int(found[1]) * MICROSECOND
    except OverflowError:
        raise ValueError(f"not a cursor of a page of jobs: {cursor!r}") from None
    return enqueued_at, int(found[2])
