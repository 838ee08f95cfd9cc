"""`sqlite:///path`: the embedded default. Durable, and shared by processes on one machine.

WAL mode with `synchronous=FULL` unless the URL asks for `?synchronous=normal` (faster,
and still safe against a process crash, but a power loss or OS crash may drop the last
commits). Writes from one process share commits (see `sqlite_thread`); workers in other
processes notice new work by watching `PRAGMA data_version`, a cheap in-memory check.
The machine's clock is the backend's clock: every process shares it.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from conveyor.backends.base import (
    LIMIT_SCAN,
    LOST,
    Ack,
    Backend,
    Capabilities,
    Enqueued,
    JobFilter,
    Lease,
    LeaseStatus,
    QueueBacklog,
    Recovered,
    RunningUpdate,
    backlog_of_rows,
    bucket_tokens,
    new_record,
    worker_lost_error,
)
from conveyor.backends.sqlite_schema import migrate
from conveyor.backends.sqlite_thread import SQLiteThread
from conveyor.errors import BackendUnavailable, ConfigurationError
from conveyor.job import JobError, JobRecord, JobState, UniqueUntil

COLUMNS = (
    "seq, id, task, queue, state, priority, payload, headers, attempts, max_attempts, "
    "recoveries, timeout, result_ttl, enqueued_at, due_at, started_at, finished_at, "
    "lease_token, lease_expires_at, worker, result, error, progress, progress_message, "
    "checkpoint, cancel_requested, expires_at, unique_key, unique_until, unique_for, "
    'limit_key, "limit", rate_key, rate_limit, rate_period'
)
INSERT = (
    "INSERT INTO conveyor_jobs (id, task, queue, state, priority, payload, headers, "
    "max_attempts, timeout, result_ttl, enqueued_at, due_at, unique_key, unique_until, "
    'unique_for, limit_key, "limit", rate_key, rate_limit, rate_period) '
    f"VALUES ({', '.join('?' * 20)})"
)
# the active jobs of a limited key; the partial index holds only active rows
ACTIVE_OF_KEY = (
    "SELECT count(*) FROM conveyor_jobs INDEXED BY conveyor_jobs_limits "
    "WHERE limit_key = ? AND state = 'active'"
)
ACTIVE_OF_PENDING = ACTIVE_OF_KEY.replace("?", "pending.limit_key")
BUCKET = "SELECT tokens, updated_at FROM conveyor_rates WHERE key = ?"
SAVE_BUCKET = (
    "INSERT INTO conveyor_rates (key, tokens, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at"
)
# the tokens in a pending job's bucket now (the parameter), as `bucket_tokens` counts them
TOKENS_OF_PENDING = (
    "coalesce((SELECT min(pending.rate_limit, tokens + max(0, ? - updated_at) * "
    "pending.rate_limit / pending.rate_period) FROM conveyor_rates "
    "WHERE key = pending.rate_key), pending.rate_limit)"
)
UNIQUE_HOLDER = (
    f"SELECT {COLUMNS} FROM conveyor_jobs INDEXED BY conveyor_jobs_unique "
    "WHERE unique_key = ? ORDER BY seq DESC LIMIT 1"
)
T = TypeVar("T")
LIVE = "(expires_at IS NULL OR expires_at > ?)"
SYNC_MODES = {"full": "FULL", "normal": "NORMAL", "extra": "EXTRA"}
# how often an idle worker looks for commits made by other processes
WATCH_INTERVAL = 0.002


class SQLiteBackend(Backend):
    capabilities: ClassVar[Capabilities] = Capabilities(
        shared_across_processes=True, durable=True, pushes_new_work=False, limits=True
    )
    _result_poll_ceiling = 0.05

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.path, self.synchronous, self.busy_timeout = _parse(url)
        self._thread = SQLiteThread(self._connect_and_migrate)
        self._watch_lock = threading.Lock()
        self._watch: sqlite3.Connection | None = None
        self._opened = False

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        except sqlite3.Error as exc:
            raise BackendUnavailable(f"cannot open SQLite database {self.path!r}: {exc}") from exc
        return conn

    def _connect_and_migrate(self) -> sqlite3.Connection:
        conn = self._connect()
        try:
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    async def open(self) -> None:
        with self._watch_lock:
            self._open()

    def _open(self) -> None:
        if self._opened:
            return
        if self.path != ":memory:":
            parent = Path(self.path).parent
            if not parent.is_dir():
                raise BackendUnavailable(
                    f"cannot open SQLite database {self.path!r}: folder {str(parent)!r} does "
                    "not exist; create it or fix the URL"
                )
        self._thread.start()
        try:
            self._watch = self._connect()
        except BaseException:
            self._thread.stop()
            raise
        self._opened = True

    async def close(self) -> None:
        if not self._opened:
            return
        self._opened = False
        self._thread.stop()
        with self._watch_lock:
            if self._watch is not None:
                self._watch.close()
                self._watch = None

    # -- primitives ------------------------------------------------------------------------

    async def _enqueue(self, jobs: Sequence[JobRecord]) -> list[Enqueued]:
        return await self._thread.run(lambda conn, now: _insert(conn, jobs, now))

    async def _claim(
        self, queues: Sequence[str], limit: int, worker: str, lease_seconds: float
    ) -> list[JobRecord]:
        token = secrets.token_hex(8)
        wanted = list(dict.fromkeys(queues))
        # one index walk per queue, merged here: a multi-queue query would sort every row
        pick = (
            'SELECT priority, due_at, seq, limit_key, "limit", rate_key, rate_limit, rate_period '
            "FROM conveyor_jobs "
            "INDEXED BY conveyor_jobs_pending "
            "WHERE queue = ? AND state IN ('queued', 'scheduled') AND due_at <= ? "
            "ORDER BY priority DESC, due_at, seq LIMIT ?"
        )
        take = (
            "UPDATE conveyor_jobs SET state = 'active', attempts = attempts + 1, "
            "lease_token = ?, lease_expires_at = ?, started_at = ?, worker = ? "
            "WHERE seq IN ({marks}) RETURNING " + COLUMNS
        )

        def choose(conn: sqlite3.Connection, now: float, depth: int) -> _Choice:
            """The seqs to take, looking `depth` jobs deep into each queue."""
            candidates = sorted(
                (-priority, due_at, seq, limits)
                for queue in wanted
                for priority, due_at, seq, *limits in conn.execute(pick, (queue, now, depth))
            )
            choice = _Choice()
            active: dict[str, int] = {}  # limit key -> active jobs, counting those taken here
            for *_, seq, (key, cap, rate_key, rate, period) in candidates:
                if len(choice.seqs) == limit:
                    break
                if key is not None:
                    if key not in active:
                        (active[key],) = conn.execute(ACTIVE_OF_KEY, (key,)).fetchone()
                    if active[key] >= cap:
                        choice.held_back = True
                        continue
                if rate_key is not None:
                    if rate_key not in choice.tokens:
                        stored = conn.execute(BUCKET, (rate_key,)).fetchone()
                        choice.tokens[rate_key] = bucket_tokens(rate, period, stored, now)
                    if choice.tokens[rate_key] < 1:
                        choice.held_back = True
                        continue
                    choice.tokens[rate_key] -= 1
                if key is not None:
                    active[key] += 1
                choice.seqs.append(seq)
            return choice

        def claim(conn: sqlite3.Connection, now: float) -> list[JobRecord]:
            choice = choose(conn, now, limit)
            # look past held-back jobs, boundedly: what waits behind them takes its turn,
            # before another queue's later jobs too
            if choice.held_back and (len(choice.seqs) < limit or len(wanted) > 1):
                choice = choose(conn, now, limit + LIMIT_SCAN)
            if choice.tokens:  # rate-limited jobs were met: keep their buckets
                conn.executemany(SAVE_BUCKET, [(k, t, now) for k, t in choice.tokens.items()])
            chosen = choice.seqs
            lease = (token, now + lease_seconds, now, worker)
            order = {seq: i for i, seq in enumerate(chosen)}
            rows: list[Any] = []
            for chunk in _chunks(list(order), 500):
                marks = ", ".join("?" * len(chunk))
                rows += conn.execute(take.format(marks=marks), (*lease, *chunk))
            rows.sort(key=lambda row: order[row[0]])
            return [_record(row) for row in rows]

        return await self._thread.run(claim)

    async def _extend(
        self, leases: Sequence[Lease], lease_seconds: float
    ) -> dict[str, LeaseStatus]:
        sql = (
            "UPDATE conveyor_jobs SET lease_expires_at = ? "
            "WHERE id = ? AND lease_token = ? AND state = 'active' RETURNING cancel_requested"
        )

        def extend(conn: sqlite3.Connection, now: float) -> dict[str, LeaseStatus]:
            statuses: dict[str, LeaseStatus] = {}
            for lease in leases:
                row = conn.execute(sql, (now + lease_seconds, lease.job_id, lease.token)).fetchone()
                statuses[lease.job_id] = LOST if row is None else LeaseStatus(True, bool(row[0]))
            return statuses

        return await self._thread.run(extend)

    async def _ack(self, acks: Sequence[Ack]) -> list[bool]:
        return await self._thread.run(lambda conn, now: _apply(conn, acks, now))

    async def _update_running(self, updates: Sequence[RunningUpdate]) -> list[bool]:
        sql = (
            "UPDATE conveyor_jobs SET progress = coalesce(?, progress), "
            "progress_message = CASE WHEN ? IS NULL THEN progress_message ELSE ? END, "
            "checkpoint = coalesce(?, checkpoint) "
            "WHERE id = ? AND lease_token = ? AND state = 'active'"
        )

        def update(conn: sqlite3.Connection, now: float) -> list[bool]:
            accepted = []
            for u in updates:
                message = u.message if u.progress is not None else None
                params = (
                    u.progress,
                    u.progress,
                    message,
                    u.checkpoint,
                    u.lease.job_id,
                    u.lease.token,
                )
                accepted.append(conn.execute(sql, params).rowcount == 1)
            return accepted

        return await self._thread.run(update)

    async def _recover_expired(self, max_recoveries: int) -> Recovered:
        error = json.dumps(worker_lost_error(max_recoveries).to_dict())

        def recover(conn: sqlite3.Connection, now: float) -> Recovered:
            cancelled = conn.execute(  # its worker died: the cancellation wins
                "UPDATE conveyor_jobs INDEXED BY conveyor_jobs_leases "
                "SET state = 'cancelled', finished_at = ?, lease_token = NULL, "
                "lease_expires_at = NULL, "
                "expires_at = CASE WHEN result_ttl IS NULL THEN NULL ELSE ? + result_ttl END "
                "WHERE state = 'active' AND lease_expires_at <= ? AND cancel_requested = 1",
                (now, now, now),
            ).rowcount
            dead = conn.execute(
                "UPDATE conveyor_jobs INDEXED BY conveyor_jobs_leases "
                "SET state = 'failed', error = ?, finished_at = ?, "
                "lease_token = NULL, lease_expires_at = NULL "
                "WHERE state = 'active' AND lease_expires_at <= ? AND recoveries >= ?",
                (error, now, now, max_recoveries),
            ).rowcount
            requeued = conn.execute(
                "UPDATE conveyor_jobs INDEXED BY conveyor_jobs_leases "
                "SET state = 'queued', recoveries = recoveries + 1, "
                "lease_token = NULL, lease_expires_at = NULL, worker = NULL "
                "WHERE state = 'active' AND lease_expires_at <= ?",
                (now,),
            ).rowcount
            return Recovered(requeued, dead, cancelled)

        return await self._thread.run(recover)

    async def _cancel(self, job_id: str) -> JobRecord | None:
        def cancel(conn: sqlite3.Connection, now: float) -> JobRecord | None:
            conn.execute(
                "UPDATE conveyor_jobs SET state = 'cancelled', finished_at = ?, "
                "expires_at = CASE WHEN result_ttl IS NULL THEN NULL ELSE ? + result_ttl END "
                f"WHERE id = ? AND state IN ('queued', 'scheduled') AND {LIVE}",
                (now, now, job_id, now),
            )
            conn.execute(
                "UPDATE conveyor_jobs SET cancel_requested = 1 WHERE id = ? AND state = 'active'",
                (job_id,),
            )
            return _select(conn, job_id, now)

        return await self._thread.run(cancel)

    async def _retry(self, job_id: str) -> JobRecord | None:
        def retry(conn: sqlite3.Connection, now: float) -> JobRecord | None:
            record = _select(conn, job_id, now)
            if record is None or record.state not in (JobState.FAILED, JobState.CANCELLED):
                return record
            conn.execute(
                "UPDATE conveyor_jobs SET state = 'queued', due_at = ?, attempts = 0, "
                "recoveries = 0, error = NULL, result = NULL, finished_at = NULL, "
                "expires_at = NULL, cancel_requested = 0, progress = NULL, "
                "progress_message = NULL WHERE id = ?",
                (now, job_id),
            )
            return _select(conn, job_id, now)

        return await self._thread.run(retry)

    async def _get(self, job_id: str) -> JobRecord | None:
        return await self._thread.run(lambda conn, now: _select(conn, job_id, now), writes=False)

    async def _list(self, query: JobFilter) -> list[JobRecord]:
        clauses = [LIVE]
        params: list[Any] = []
        if query.queue is not None:
            clauses.append("queue = ?")
            params.append(query.queue)
        if query.task is not None:
            clauses.append("task = ?")
            params.append(query.task)
        if query.state is JobState.QUEUED:
            clauses.append("(state = 'queued' OR (state = 'scheduled' AND due_at <= ?))")
        elif query.state is JobState.SCHEDULED:
            clauses.append("state = 'scheduled' AND due_at > ?")
        elif query.state is not None:
            clauses.append("state = ?")
            params.append(query.state.value)
        where = " AND ".join(clauses)
        sql = (
            f"SELECT {COLUMNS} FROM conveyor_jobs WHERE {where} ORDER BY seq DESC LIMIT ? OFFSET ?"
        )

        def select(conn: sqlite3.Connection, now: float) -> list[JobRecord]:
            args: list[Any] = [now, *params]
            if query.state in (JobState.QUEUED, JobState.SCHEDULED):
                args.append(now)
            args += [query.limit, query.offset]
            return [_observe(_record(row), now) for row in conn.execute(sql, args)]

        return await self._thread.run(select, writes=False)

    async def _counts(self) -> dict[str, dict[JobState, int]]:
        sql = (
            "SELECT queue, CASE WHEN state = 'scheduled' AND due_at <= ? THEN 'queued' "
            f"ELSE state END AS seen, count(*) FROM conveyor_jobs WHERE {LIVE} GROUP BY queue, seen"
        )

        def count(conn: sqlite3.Connection, now: float) -> dict[str, dict[JobState, int]]:
            counts: dict[str, dict[JobState, int]] = {}
            for queue, state, n in conn.execute(sql, (now, now)):
                counts.setdefault(queue, {})[JobState(state)] = n
            return counts

        return await self._thread.run(count, writes=False)

    async def _backlog(self) -> dict[str, QueueBacklog]:
        def count(conn: sqlite3.Connection, now: float) -> dict[str, QueueBacklog]:
            return backlog_of_rows(conn.execute(BACKLOG, (now, now)))

        return await self._thread.run(count, writes=False)

    async def _purge(
        self, states: frozenset[JobState], older_than: float | None, queue: str | None
    ) -> int:
        wanted = [s.value for s in states]
        marks = ", ".join("?" * len(wanted))

        def purge(conn: sqlite3.Connection, now: float) -> int:
            sql = f"DELETE FROM conveyor_jobs WHERE state IN ({marks})"
            params: list[Any] = list(wanted)
            if older_than is not None:
                sql += " AND finished_at <= ?"
                params.append(now - older_than)
            if queue is not None:
                sql += " AND queue = ?"
                params.append(queue)
            return conn.execute(sql, params).rowcount

        return await self._thread.run(purge)

    async def _purge_expired(self) -> int:
        return await self._thread.run(
            lambda conn, now: (
                conn.execute(
                    "DELETE FROM conveyor_jobs WHERE expires_at IS NOT NULL AND expires_at <= ?",
                    (now,),
                ).rowcount
            )
        )

    async def _now(self) -> float:
        return time.time()

    # -- waiting for other processes -------------------------------------------------------

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        version = self._data_version()
        # after reading the version: a commit from now on moves it, one before shows here
        if self._has_due(queues):
            return
        next_due = self._next_due()
        if next_due is not None:
            deadline = min(deadline, time.monotonic() + max(0.0, next_due - time.time()))
        while (remaining := deadline - time.monotonic()) > 0:
            if await self._wait_work(min(WATCH_INTERVAL, remaining)):
                return
            if self._data_version() != version:
                return

    def _data_version(self) -> int:
        """SQLite's change counter: it moves when another connection commits."""
        with self._watch_lock:
            if self._watch is None:
                raise BackendUnavailable("the SQLite backend is closed")
            (version,) = self._watch.execute("PRAGMA data_version").fetchone()
        return int(version)

    def _has_due(self, queues: Sequence[str]) -> bool:
        with self._watch_lock:
            if self._watch is None:
                raise BackendUnavailable("the SQLite backend is closed")
            # a job held back by its limits is not work; look past a bounded number of them
            now = time.time()
            return any(
                self._watch.execute(
                    'SELECT 1 FROM (SELECT limit_key, "limit", rate_key, rate_limit, rate_period '
                    "FROM conveyor_jobs INDEXED BY conveyor_jobs_pending "
                    "WHERE queue = ? AND state IN ('queued', 'scheduled') AND due_at <= ? "
                    "ORDER BY priority DESC, due_at, seq LIMIT ?) AS pending "
                    f'WHERE (limit_key IS NULL OR ({ACTIVE_OF_PENDING}) < "limit") '
                    f"AND (rate_key IS NULL OR {TOKENS_OF_PENDING} >= 1) LIMIT 1",
                    (queue, now, LIMIT_SCAN + 1, now),
                ).fetchone()
                for queue in dict.fromkeys(queues)
            )

    def _next_due(self) -> float | None:
        """The earliest due time of a scheduled job."""
        with self._watch_lock:
            if self._watch is None:
                raise BackendUnavailable("the SQLite backend is closed")
            (next_due,) = self._watch.execute(
                "SELECT min(due_at) FROM conveyor_jobs INDEXED BY conveyor_jobs_due "
                "WHERE state = 'scheduled'"
            ).fetchone()
        return None if next_due is None else float(next_due)


def _parse(url: str) -> tuple[str, str, float]:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "sqlite" or parsed.netloc:
        raise ConfigurationError(
            f"bad SQLite URL {url!r}: write sqlite:///relative/path.db or sqlite:////abs/path.db"
        )
    path = urllib.parse.unquote(parsed.path[1:] if parsed.path.startswith("/") else parsed.path)
    if not path:
        raise ConfigurationError(f"bad SQLite URL {url!r}: it names no file (sqlite:///jobs.db)")
    options = dict(urllib.parse.parse_qsl(parsed.query))
    unknown = set(options) - {"synchronous", "busy_timeout"}
    if unknown:
        raise ConfigurationError(
            f"unknown SQLite URL option(s) {sorted(unknown)}: use synchronous=full|normal "
            "and busy_timeout=SECONDS"
        )
    mode = options.get("synchronous", "full").lower()
    if mode not in SYNC_MODES:
        raise ConfigurationError(f"synchronous must be full, normal or extra, got {mode!r}")
    try:
        busy_timeout = float(options.get("busy_timeout", "30"))
    except ValueError:
        raise ConfigurationError("busy_timeout must be a number of seconds") from None
    return path, SYNC_MODES[mode], busy_timeout


def _insert(conn: sqlite3.Connection, jobs: Sequence[JobRecord], now: float) -> list[Enqueued]:
    """Insert jobs whose id is not live; return each job's record, new or existing."""
    existing: dict[str, JobRecord] = {}
    ids = list(dict.fromkeys(job.id for job in jobs))
    for chunk in _chunks(ids, 500):
        marks = ", ".join("?" * len(chunk))
        rows = conn.execute(f"SELECT {COLUMNS} FROM conveyor_jobs WHERE id IN ({marks})", chunk)
        for row in rows:
            record = _record(row)
            if record.expires_at is not None and record.expires_at <= now:
                conn.execute("DELETE FROM conveyor_jobs WHERE seq = ?", (row[0],))
            else:
                existing[record.id] = _observe(record, now)
    results: list[Enqueued] = []
    fresh: list[tuple[Any, ...]] = []
    holders: dict[str, JobRecord | None] = {}  # unique key -> the last job stored with it
    for job in jobs:
        if job.id in existing:
            results.append(Enqueued(existing[job.id], created=False))
            continue
        if job.unique_key is not None:
            if job.unique_key not in holders:
                holders[job.unique_key] = _unique_holder(conn, job.unique_key, now)
            holder = holders[job.unique_key]
            if holder is not None and holder.holds_unique_key(now):
                results.append(Enqueued(holder, created=False))
                continue
        record = new_record(job, now)
        existing[job.id] = record
        if job.unique_key is not None:
            holders[job.unique_key] = record
        results.append(Enqueued(record, created=True))
        fresh.append((
            job.id, job.task, job.queue, record.state.value, job.priority, job.payload,
            json.dumps(job.headers) if job.headers else None, job.max_attempts, job.timeout,
            job.result_ttl, now, record.due_at, job.unique_key, job.unique_until,
            job.unique_for, job.limit_key, job.limit, job.rate_key, job.rate_limit,
            job.rate_period,
        ))  # fmt: skip
    conn.executemany(INSERT, fresh)
    return results


def _unique_holder(conn: sqlite3.Connection, key: str, now: float) -> JobRecord | None:
    """The last job stored with this unique key, if its record lives."""
    row = conn.execute(UNIQUE_HOLDER, (key,)).fetchone()
    if row is None:
        return None
    record = _record(row)
    if record.expires_at is not None and record.expires_at <= now:
        return None
    return _observe(record, now)


# read from two indexes, never visiting a finished job: the jobs of each live (and the
# failed) state from conveyor_jobs_state, and the due ones (queued, or scheduled and due)
# with the oldest due time through the pending index, which holds pending jobs only (see
# backlog_of_rows); its cost follows the backlog, not the history
BACKLOG = (
    "SELECT queue, state, count(*), 0.0 FROM conveyor_jobs "
    "WHERE state IN ('scheduled', 'queued', 'active', 'failed') GROUP BY queue, state "
    "UNION ALL "
    "SELECT queue, 'due', count(*), ? - min(due_at) "
    "FROM conveyor_jobs INDEXED BY conveyor_jobs_pending "
    "WHERE state IN ('queued', 'scheduled') AND due_at <= ? GROUP BY queue"
)
FINISH = (
    "UPDATE conveyor_jobs SET state = ?, result = ?, error = ?, finished_at = ?, "
    "expires_at = CASE WHEN ? OR result_ttl IS NULL THEN NULL ELSE ? + result_ttl END, "
    "lease_token = NULL, lease_expires_at = NULL "
    "WHERE id = ? AND lease_token = ? AND state = 'active'"
)
REQUEUE = (
    "UPDATE conveyor_jobs SET state = ?, due_at = ?, error = coalesce(?, error), "
    "attempts = attempts - ?, lease_token = NULL, lease_expires_at = NULL, worker = NULL "
    "WHERE id = ? AND lease_token = ? AND state = 'active'"
)


def _apply(conn: sqlite3.Connection, acks: Sequence[Ack], now: float) -> list[bool]:
    """Apply the acks whose lease still holds: one lookup, then one statement per kind."""
    held = _held(conn, [a.lease for a in acks])
    accepted: list[bool] = []
    finishes: list[tuple[Any, ...]] = []
    requeues: list[tuple[Any, ...]] = []
    for ack in acks:
        ok = ack.lease in held
        held.discard(ack.lease)  # a second outcome for one lease is refused
        accepted.append(ok)
        if not ok:
            continue
        error = None if ack.error is None else json.dumps(ack.error.to_dict())
        lease = (ack.lease.job_id, ack.lease.token)
        if ack.state in (JobState.SCHEDULED, JobState.QUEUED):
            due_at = now + ack.retry_in
            state = JobState.SCHEDULED if due_at > now else JobState.QUEUED
            unrun = 1 if ack.state is JobState.QUEUED else 0  # handed back: not an attempt
            requeues.append((state.value, due_at, error, unrun, *lease))
        else:
            keep = ack.state is JobState.FAILED  # the dead-letter store is kept until purged
            finishes.append((ack.state.value, ack.result, error, now, keep, now, *lease))
    conn.executemany(FINISH, finishes)
    conn.executemany(REQUEUE, requeues)
    follow_ups = [
        job for ack, ok in zip(acks, accepted, strict=True) if ok for job in ack.follow_ups
    ]
    if follow_ups:
        _insert(conn, follow_ups, now)
    return accepted


def _held(conn: sqlite3.Connection, leases: Sequence[Lease]) -> set[Lease]:
    """The leases that still hold: the job is active under that very token."""
    held: set[Lease] = set()
    for chunk in _chunks(list({lease.job_id for lease in leases}), 500):
        marks = ", ".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT id, lease_token FROM conveyor_jobs WHERE id IN ({marks}) AND state = 'active'",
            chunk,
        )
        held.update(Lease(job_id, token) for job_id, token in rows)
    return held


def _select(conn: sqlite3.Connection, job_id: str, now: float) -> JobRecord | None:
    row = conn.execute(
        f"SELECT {COLUMNS} FROM conveyor_jobs WHERE id = ? AND {LIVE}", (job_id, now)
    ).fetchone()
    return None if row is None else _observe(_record(row), now)


def _observe(record: JobRecord, now: float) -> JobRecord:
    if record.state is JobState.SCHEDULED and record.due_at <= now:
        record.state = JobState.QUEUED
    return record


@dataclasses.dataclass
class _Choice:
    """What a claim takes: its jobs' seqs, in order; the tokens left in the rate buckets it
    looked at; and whether it passed over a job its limits held back."""

    seqs: list[int] = dataclasses.field(default_factory=list)
    tokens: dict[str, float] = dataclasses.field(default_factory=dict)
    held_back: bool = False


def _record(row: Sequence[Any]) -> JobRecord:
    return JobRecord(
        id=row[1], task=row[2], queue=row[3], state=JobState(row[4]), priority=row[5],
        payload=row[6], headers=json.loads(row[7]) if row[7] else {}, attempts=row[8],
        max_attempts=row[9], recoveries=row[10], timeout=row[11], result_ttl=row[12],
        enqueued_at=row[13], due_at=row[14], started_at=row[15], finished_at=row[16],
        lease_token=row[17], lease_expires_at=row[18], worker=row[19], result=row[20],
        error=JobError.from_dict(json.loads(row[21])) if row[21] else None,
        progress=row[22], progress_message=row[23], checkpoint=row[24],
        cancel_requested=bool(row[25]), expires_at=row[26], unique_key=row[27],
        unique_until=None if row[28] is None else UniqueUntil(row[28]), unique_for=row[29],
        limit_key=row[30], limit=row[31], rate_key=row[32], rate_limit=row[33],
        rate_period=row[34],
    )  # fmt: skip


def _chunks(items: list[T], size: int) -> Iterable[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
