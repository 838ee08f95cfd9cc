"""`sqlite:///path`: the embedded default. Durable, and shared by processes on one machine.

WAL mode with `synchronous=FULL` unless the URL asks for `?synchronous=normal` (faster,
and still safe against a process crash, but a power loss or OS crash may drop the last
commits). Writes from one process share commits (see `sqlite_thread`); workers in other
processes notice new work by watching `PRAGMA data_version`, a cheap in-memory check.
The machine's clock is the backend's clock: every process shares it.
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import itertools
import json
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from conveyor.backends.base import (
    LIMIT_SCAN,
    LOST,
    OUTCOME_RETENTION,
    Ack,
    Backend,
    Capabilities,
    Enqueued,
    JobFilter,
    JobPage,
    Lease,
    LeaseStatus,
    ListingKey,
    OutcomeCount,
    QueueBacklog,
    Recovered,
    RunningUpdate,
    WorkerInfo,
    backlog_of_rows,
    bucket_tokens,
    listing_cursor,
    listing_key,
    minute_of,
    new_record,
    outcome_tally,
    worker_lost_error,
)
from conveyor.backends.history import (
    ACKED_OUTCOMES,
    LEASE_EXPIRED,
    MAX_HISTORY,
    history_of,
    note_of,
)
from conveyor.backends.sqlite_schema import migrate
from conveyor.backends.sqlite_thread import SQLiteThread
from conveyor.errors import BackendUnavailable, ConfigurationError
from conveyor.fair_share import fill, probed
from conveyor.job import JobError, JobRecord, JobState, UniqueUntil

COLUMNS = (
    "seq, id, task, queue, state, priority, payload, headers, attempts, max_attempts, "
    "recoveries, timeout, result_ttl, enqueued_at, due_at, started_at, finished_at, "
    "lease_token, lease_expires_at, worker, result, error, progress, progress_message, "
    "checkpoint, cancel_requested, expires_at, unique_key, unique_until, unique_for, "
    'limit_key, "limit", rate_key, rate_limit, rate_period, history'
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
        self,
        queues: list[str],
        limit: int,
        worker: str,
        lease_seconds: float,
        weights: Mapping[str, int],
    ) -> list[JobRecord]:
        token = os.urandom(8).hex()  # what secrets reads, without its hmac and hashlib
        # a walk of one queue's index, best first; read lazily, so a share reads its jobs
        # and the held-back ones it passes, however long the queue
        pick = (
            'SELECT seq, priority, due_at, limit_key, "limit", rate_key, rate_limit, '
            "rate_period FROM conveyor_jobs "
            "INDEXED BY conveyor_jobs_pending "
            "WHERE queue = ? AND state IN ('queued', 'scheduled') AND due_at <= ? "
            "ORDER BY priority DESC, due_at, seq LIMIT ?"
        )
        # the first queues (of a JSON array) that have due work, in order: one probe of the
        # index each, in one statement that stops when it found enough (-1: all)
        with_work = (
            "SELECT asked.value FROM json_each(?) AS asked WHERE EXISTS ("
            "SELECT 1 FROM conveyor_jobs INDEXED BY conveyor_jobs_pending "
            "WHERE queue = asked.value AND state IN ('queued', 'scheduled') AND due_at <= ?) "
            "ORDER BY asked.key LIMIT ?"
        )
        wanted = probed(queues, weights, limit)
        take = (
            "UPDATE conveyor_jobs SET state = 'active', attempts = attempts + 1, "
            "lease_token = ?, lease_expires_at = ?, started_at = ?, worker = ? "
            "WHERE seq IN ({marks}) RETURNING " + COLUMNS
        )

        def claim(conn: sqlite3.Connection, now: float) -> list[JobRecord]:
            # read under the write lock: a pause committed before this claim holds for it
            paused = _paused(conn)
            order: dict[int, tuple[int, float, int]] = {}  # seq -> its place in the reply
            taken: collections.Counter[str] = collections.Counter()  # per queue
            tokens: dict[str, float] = {}  # rate key -> tokens left, counting those taken
            active: dict[str, int] = {}  # limit key -> active jobs, counting those taken

            def take_from(queue: str, n: int) -> int:
                got = passed = 0
                depth = taken[queue] + n + LIMIT_SCAN + 1
                for seq, priority, due_at, key, cap, rate_key, rate, period in conn.execute(
                    pick, (queue, now, depth)
                ):
                    if got == n or passed > LIMIT_SCAN:
                        break
                    if seq in order:
                        continue
                    if key is not None:
                        if key not in active:
                            (active[key],) = conn.execute(ACTIVE_OF_KEY, (key,)).fetchone()
                        if active[key] >= cap:
                            passed += 1
                            continue
                    if rate_key is not None:
                        if rate_key not in tokens:
                            stored = conn.execute(BUCKET, (rate_key,)).fetchone()
                            tokens[rate_key] = bucket_tokens(rate, period, stored, now)
                        if tokens[rate_key] < 1:
                            passed += 1
                            continue
                        tokens[rate_key] -= 1
                    if key is not None:
                        active[key] += 1
                    order[seq] = (-priority, due_at, seq)
                    got += 1
                taken[queue] += got
                return got

            unpaused = json.dumps([q for q in queues if q not in paused])
            fill(
                [q for (q,) in conn.execute(with_work, (unpaused, now, wanted or -1))],
                weights,
                limit,
                lambda plan: [take_from(queue, n) for queue, n in plan],
            )
            if tokens:  # rate-limited jobs were met: keep their buckets
                conn.executemany(SAVE_BUCKET, [(k, t, now) for k, t in tokens.items()])
            lease = (token, now + lease_seconds, now, worker)
            rows: list[Any] = []
            for chunk in _chunks(list(order), 500):
                marks = ", ".join("?" * len(chunk))
                rows += conn.execute(take.format(marks=marks), (*lease, *chunk))
            rows.sort(key=lambda row: order[row[0]])  # priority, then age, across the queues
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
            lapsed = (now, LEASE_EXPIRED, None)  # how each attempt ended, for its history
            cancelled = conn.execute(  # its worker died: the cancellation wins
                "UPDATE conveyor_jobs INDEXED BY conveyor_jobs_leases "
                "SET state = 'cancelled', finished_at = ?, lease_token = NULL, "
                "lease_expires_at = NULL, "
                "expires_at = CASE WHEN result_ttl IS NULL THEN NULL ELSE ? + result_ttl END, "
                f"history = {APPEND_ATTEMPT} "
                "WHERE state = 'active' AND lease_expires_at <= ? AND cancel_requested = 1 "
                "RETURNING queue, state",
                (now, now, *lapsed, now),
            ).fetchall()
            dead = conn.execute(
                "UPDATE conveyor_jobs INDEXED BY conveyor_jobs_leases "
                "SET state = 'failed', error = ?, finished_at = ?, "
                f"lease_token = NULL, lease_expires_at = NULL, history = {APPEND_ATTEMPT} "
                "WHERE state = 'active' AND lease_expires_at <= ? AND recoveries >= ? "
                "RETURNING queue, state",
                (error, now, *lapsed, now, max_recoveries),
            ).fetchall()
            _count_finished(conn, cancelled + dead, 1)
            requeued = conn.execute(
                "UPDATE conveyor_jobs INDEXED BY conveyor_jobs_leases "
                "SET state = 'queued', recoveries = recoveries + 1, "
                "lease_token = NULL, lease_expires_at = NULL, worker = NULL, "
                f"history = {APPEND_ATTEMPT} "
                "WHERE state = 'active' AND lease_expires_at <= ?",
                (*lapsed, now),
            ).rowcount
            return Recovered(requeued, len(dead), len(cancelled))

        return await self._thread.run(recover)

    async def _cancel(self, job_id: str) -> JobRecord | None:
        def cancel(conn: sqlite3.Connection, now: float) -> JobRecord | None:
            cancelled = conn.execute(
                "UPDATE conveyor_jobs SET state = 'cancelled', finished_at = ?, "
                "expires_at = CASE WHEN result_ttl IS NULL THEN NULL ELSE ? + result_ttl END "
                f"WHERE id = ? AND state IN ('queued', 'scheduled') AND {LIVE} "
                "RETURNING queue, state",
                (now, now, job_id, now),
            ).fetchall()
            _count_finished(conn, cancelled, 1)
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
            _count_finished(conn, [(record.queue, record.state.value)], -1)
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

    async def _page(self, query: JobFilter) -> JobPage:
        after = None if query.cursor is None else listing_key(query.cursor)
        return await self._thread.run(
            lambda conn, now: _page(conn, query, after, now), writes=False
        )

    async def _register_worker(self, worker: WorkerInfo, ttl: float) -> None:
        def register(conn: sqlite3.Connection, now: float) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO conveyor_workers (name, host, pid, queues, concurrency, "
                "started_at, processed, last_seen, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    worker.name, worker.host, worker.pid, json.dumps(list(worker.queues)),
                    worker.concurrency, worker.started_at, worker.processed, now, now + ttl,
                ),
            )  # fmt: skip

        await self._thread.run(register)

    async def _deregister_worker(self, name: str) -> None:
        await self._thread.run(
            lambda conn, now: conn.execute("DELETE FROM conveyor_workers WHERE name = ?", (name,))
        )

    async def _workers(self) -> list[WorkerInfo]:
        sql = (
            "SELECT name, host, pid, queues, concurrency, started_at, processed, last_seen "
            "FROM conveyor_workers WHERE expires_at > ?"
        )

        def select(conn: sqlite3.Connection, now: float) -> list[WorkerInfo]:
            return [
                WorkerInfo(name, host, pid, tuple(json.loads(queues)), *rest)
                for name, host, pid, queues, *rest in conn.execute(sql, (now,))
            ]

        return await self._thread.run(select, writes=False)

    async def _set_paused(self, queue: str, paused: bool) -> None:
        sql = (
            "INSERT OR IGNORE INTO conveyor_paused (queue) VALUES (?)"
            if paused
            else "DELETE FROM conveyor_paused WHERE queue = ?"
        )
        await self._thread.run(lambda conn, now: conn.execute(sql, (queue,)))

    async def _paused_queues(self) -> frozenset[str]:
        return await self._thread.run(lambda conn, now: _paused(conn), writes=False)

    async def _outcome_counts(self, since: float) -> list[OutcomeCount]:
        sql = "SELECT minute, queue, task, outcome, jobs FROM conveyor_outcomes WHERE minute >= ?"
        return await self._thread.run(
            lambda conn, now: [OutcomeCount(*row) for row in conn.execute(sql, (since,))],
            writes=False,
        )

    async def _counts(self) -> dict[str, dict[JobState, int]]:
        return await self._thread.run(_count, writes=False)

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
            return _count_finished(conn, conn.execute(sql + " RETURNING queue, state", params), -1)

        return await self._thread.run(purge)

    async def _delete(self, job_ids: Sequence[str]) -> int:
        marks = ", ".join("?" * len(job_ids))

        def delete(conn: sqlite3.Connection, now: float) -> int:
            gone = conn.execute(
                f"DELETE FROM conveyor_jobs WHERE id IN ({marks}) "
                "AND state IN ('succeeded', 'failed', 'cancelled') "
                f"RETURNING queue, state, {LIVE}",
                [*job_ids, now],
            ).fetchall()
            _count_finished(conn, [(queue, state) for queue, state, _ in gone], -1)
            return sum(1 for *_, live in gone if live)

        return await self._thread.run(delete)

    async def _purge_expired(self) -> int:
        def purge(conn: sqlite3.Connection, now: float) -> int:
            conn.execute(
                "DELETE FROM conveyor_outcomes WHERE minute < ?", (now - OUTCOME_RETENTION,)
            )
            conn.execute("DELETE FROM conveyor_workers WHERE expires_at <= ?", (now,))
            expired = conn.execute(
                "DELETE FROM conveyor_jobs WHERE expires_at IS NOT NULL AND expires_at <= ? "
                "RETURNING queue, state",
                (now,),
            )
            return _count_finished(conn, expired, -1)

        return await self._thread.run(purge)

    async def _now(self) -> float:
        return time.time()

    # -- waiting for other processes -------------------------------------------------------

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        version = self._data_version()
        # after reading the version: a commit from now on moves it, one before shows here
        if self._has_due(queues):
            return
        next_due = self._next_due(queues)
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
            # a job held back by its limits is not work; look past a bounded number of them;
            # a paused queue's jobs are not work either
            now = time.time()
            paused = _paused(self._watch)
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
                if queue not in paused
            )

    def _next_due(self, queues: Sequence[str]) -> float | None:
        """When the next scheduled job of `queues` falls due, paused queues left out. A job
        due already is `_has_due`'s to find: one held back by its limits, or paused, must
        not end every wait at once."""
        wanted = list(dict.fromkeys(queues))
        marks = ", ".join("?" * len(wanted))
        with self._watch_lock:
            if self._watch is None:
                raise BackendUnavailable("the SQLite backend is closed")
            row = self._watch.execute(
                "SELECT due_at FROM conveyor_jobs INDEXED BY conveyor_jobs_due "
                f"WHERE state = 'scheduled' AND due_at > ? AND queue IN ({marks}) "
                "AND queue NOT IN (SELECT queue FROM conveyor_paused) ORDER BY due_at LIMIT 1",
                (time.time(), *wanted),
            ).fetchone()
        return None if row is None else float(row[0])


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
                _count_finished(conn, [(record.queue, record.state.value)], -1)
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
# the job's history with the attempt it is in appended, as it ended at the first parameter,
# with the outcome and error note of the next two (SET reads the row as it was)
APPEND_ATTEMPT = (
    "json_insert(CASE WHEN json_array_length(history) >= " + str(MAX_HISTORY) + " "
    "THEN json_remove(history, '$[0]') ELSE coalesce(history, '[]') END, '$[#]', "
    "json_object('number', attempts, 'worker', worker, 'started_at', started_at, "
    "'ended_at', ?, 'outcome', ?, 'error', ?))"
)
FINISH = (
    "UPDATE conveyor_jobs SET state = ?, result = ?, error = ?, finished_at = ?, "
    "expires_at = CASE WHEN ? OR result_ttl IS NULL THEN NULL ELSE ? + result_ttl END, "
    f"lease_token = NULL, lease_expires_at = NULL, history = {APPEND_ATTEMPT} "
    "WHERE id = ? AND lease_token = ? AND state = 'active'"
)
# a job handed back unrun (the first parameter) made no attempt
REQUEUE = (
    "UPDATE conveyor_jobs SET state = ?, due_at = ?, error = coalesce(?, error), "
    "attempts = attempts - ?, lease_token = NULL, lease_expires_at = NULL, worker = NULL, "
    f"history = CASE WHEN ? THEN history ELSE {APPEND_ATTEMPT} END "
    "WHERE id = ? AND lease_token = ? AND state = 'active'"
)

# one batch's increments of the per-minute outcome counters
OUTCOME = (
    "INSERT INTO conveyor_outcomes (minute, queue, task, outcome, jobs) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (minute, queue, task, outcome) DO UPDATE SET jobs = jobs + excluded.jobs"
)


def _apply(conn: sqlite3.Connection, acks: Sequence[Ack], now: float) -> list[bool]:
    """Apply the acks whose lease still holds: one lookup, then one statement per kind."""
    held = _held(conn, [a.lease for a in acks])
    accepted: list[bool] = []
    finishes: list[tuple[Any, ...]] = []
    finished: list[tuple[str, str]] = []  # (queue, state) of each job finished
    requeues: list[tuple[Any, ...]] = []
    for ack in acks:
        queue = held.pop(ack.lease, None)  # a second outcome for one lease is refused
        accepted.append(queue is not None)
        if queue is None:
            continue
        error = None if ack.error is None else json.dumps(ack.error.to_dict())
        lease = (ack.lease.job_id, ack.lease.token)
        if ack.state in (JobState.SCHEDULED, JobState.QUEUED):
            due_at = now + ack.retry_in
            state = JobState.SCHEDULED if due_at > now else JobState.QUEUED
            unrun = 1 if ack.state is JobState.QUEUED else 0  # handed back: not an attempt
            attempt = (now, "retried", note_of(ack.error))
            requeues.append((state.value, due_at, error, unrun, unrun, *attempt, *lease))
        else:
            keep = ack.state is JobState.FAILED  # the dead-letter store is kept until purged
            attempt = (now, ACKED_OUTCOMES[ack.state], note_of(ack.error))
            finishes.append((ack.state.value, ack.result, error, now, keep, now, *attempt, *lease))
            finished.append((queue, ack.state.value))
    conn.executemany(FINISH, finishes)
    _count_finished(conn, finished, 1)
    conn.executemany(REQUEUE, requeues)
    follow_ups = [
        job for ack, ok in zip(acks, accepted, strict=True) if ok for job in ack.follow_ups
    ]
    if follow_ups:
        _insert(conn, follow_ups, now)
    minute = minute_of(now)
    tally = outcome_tally(acks, accepted)
    conn.executemany(OUTCOME, [(minute, *key, jobs) for key, jobs in tally.items()])
    return accepted


def _held(conn: sqlite3.Connection, leases: Sequence[Lease]) -> dict[Lease, str]:
    """The leases that still hold (the job is active under that very token), and the queue
    of each one's job."""
    held: dict[Lease, str] = {}
    for chunk in _chunks(list({lease.job_id for lease in leases}), 500):
        marks = ", ".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT id, lease_token, queue FROM conveyor_jobs WHERE id IN ({marks}) "
            "AND state = 'active'",
            chunk,
        )
        held.update((Lease(job_id, token), queue) for job_id, token, queue in rows)
    return held


# the finished jobs' counters: each statement that finishes, revives or deletes jobs adds
# what it changed, in its own transaction
COUNT_FINISHED = (
    "INSERT INTO conveyor_finished (queue, state, jobs) VALUES (?, ?, ?) "
    "ON CONFLICT (queue, state) DO UPDATE SET jobs = jobs + excluded.jobs"
)


def _count_finished(conn: sqlite3.Connection, jobs: Iterable[tuple[str, str]], step: int) -> int:
    """Add `step` (1 or -1) to the counter of each finished job's (queue, state); return
    how many jobs there were. One statement whatever their number."""
    tally = collections.Counter(jobs)
    conn.executemany(COUNT_FINISHED, [(*key, step * n) for key, n in tally.items()])
    return tally.total()


def _paused(conn: sqlite3.Connection) -> frozenset[str]:
    return frozenset(queue for (queue,) in conn.execute("SELECT queue FROM conveyor_paused"))


# the live jobs per queue and state from the state index, and the due ones (queued, or
# scheduled and due) from the pending index, as BACKLOG reads them (see backlog_of_rows)
LIVE_COUNTS = (
    "SELECT queue, state, count(*), 0.0 FROM conveyor_jobs "
    "WHERE state IN ('scheduled', 'queued', 'active') GROUP BY queue, state "
    "UNION ALL "
    "SELECT queue, 'due', count(*), 0.0 FROM conveyor_jobs INDEXED BY conveyor_jobs_pending "
    "WHERE state IN ('queued', 'scheduled') AND due_at <= ? GROUP BY queue"
)
# finished jobs whose record expired but is not purged yet (a minute's worth at most while
# a worker sweeps): still counted in conveyor_finished, no longer live
EXPIRED_COUNTS = (
    "SELECT queue, state, count(*) FROM conveyor_jobs INDEXED BY conveyor_jobs_expiry "
    "WHERE expires_at <= ? GROUP BY queue, state"
)


def _count(conn: sqlite3.Connection, now: float) -> dict[str, dict[JobState, int]]:
    """Jobs per queue and state, never reading the finished ones: those are counted as
    they come and go (conveyor_finished), so the cost follows the backlog, not the history."""
    counts: dict[str, dict[JobState, int]] = {}
    for queue, backlog in backlog_of_rows(conn.execute(LIVE_COUNTS, (now,))).items():
        counts[queue] = {
            JobState.SCHEDULED: backlog.scheduled,
            JobState.QUEUED: backlog.queued,
            JobState.ACTIVE: backlog.active,
        }
    for queue, state, jobs in conn.execute("SELECT queue, state, jobs FROM conveyor_finished"):
        counts.setdefault(queue, {})[JobState(state)] = jobs
    for queue, state, jobs in conn.execute(EXPIRED_COUNTS, (now,)):
        counts[queue][JobState(state)] -= jobs
    nonzero = {queue: {s: n for s, n in per.items() if n} for queue, per in counts.items()}
    return {queue: per for queue, per in nonzero.items() if per}


# -- listing -------------------------------------------------------------------------------
#
# A page is read newest first, (enqueued_at, seq) descending, from one index: the state
# index, one range per state and queue (every job is in one); the task index; or the id
# index for an id prefix. Each range is read from its top only as far as the page needs, and
# the ranges merged. The filters the index does not apply are checked on the rows it leads
# to; when more than one index could serve, the one with the fewest entries to read wins,
# counted up to PROBE (see _choose).

PROBE = 10_000
ID_INDEX = "sqlite_autoindex_conveyor_jobs_1"  # the index of UNIQUE (id)
# how each state filter reads the stored states: a scheduled job whose time has come reads
# as queued
STORED_STATES: dict[JobState, list[tuple[str, str]]] = {
    **{state: [(state.value, "")] for state in JobState},
    JobState.QUEUED: [("queued", ""), ("scheduled", " AND due_at <= ?")],
    JobState.SCHEDULED: [("scheduled", " AND due_at > ?")],
}
EVERY_STATE = [(state.value, "") for state in JobState]
# the queues holding jobs of one state, read from the state index one queue at a time
QUEUES_OF_STATE = (
    "WITH RECURSIVE holding(queue) AS ("
    "SELECT min(queue) FROM conveyor_jobs WHERE state = :state "
    "UNION ALL "
    "SELECT (SELECT min(queue) FROM conveyor_jobs WHERE state = :state AND queue > holding.queue) "
    "FROM holding WHERE holding.queue IS NOT NULL"
    ") SELECT queue FROM holding WHERE queue IS NOT NULL"
)
_Key = ListingKey  # (enqueued_at, seq): a listing's order, and its cursor
_Clause = tuple[str, tuple[Any, ...]]  # SQL to append to a WHERE, and its parameters


@dataclasses.dataclass(frozen=True, slots=True)
class _Range:
    where: str  # on the index's leading columns (and, for a state filter, due_at)
    params: tuple[Any, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class _Walk:
    """Ranges of one index; `covers` names the filters they apply by themselves."""

    index: str
    ranges: list[_Range]
    covers: frozenset[str]
    ordered: bool = True


def _page(conn: sqlite3.Connection, query: JobFilter, after: _Key | None, now: float) -> JobPage:
    bounds = _bounds(query, after)
    walk = _choose(conn, _walks(conn, query, now), bounds)
    wanted = query.offset + query.limit + 1  # one more tells whether a next page exists
    keys = _newest(conn, walk, bounds, _filters(query, walk.covers, now), wanted)
    keys = keys[query.offset :]
    page = keys[: query.limit]
    more = len(keys) > query.limit and query.limit > 0
    return JobPage(
        _records(conn, [seq for _, seq in page], now), listing_cursor(page[-1]) if more else None
    )


def _newest(
    conn: sqlite3.Connection, walk: _Walk, bounds: _Clause, filters: _Clause, wanted: int
) -> list[_Key]:
    """The keys of the `wanted` newest jobs the walk leads to that pass the filters. Each
    range is a cursor stepped only as far as the merge needs, so a page of a walk of many
    ranges reads about as many entries as one of a single range."""
    ranges = [
        conn.execute(
            f"SELECT enqueued_at, seq FROM conveyor_jobs INDEXED BY {walk.index} "
            f"WHERE {part.where}{bounds[0]}{filters[0]} "
            "ORDER BY enqueued_at DESC, seq DESC LIMIT ?",
            (*part.params, *bounds[1], *filters[1], wanted),
        )
        for part in walk.ranges
    ]
    return list(itertools.islice(heapq.merge(*ranges, reverse=True), wanted))


def _records(conn: sqlite3.Connection, seqs: list[int], now: float) -> list[JobRecord]:
    found: dict[int, JobRecord] = {}
    for chunk in _chunks(seqs, 500):
        marks = ", ".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT {COLUMNS} FROM conveyor_jobs WHERE seq IN ({marks})", chunk
        ):
            found[row[0]] = _observe(_record(row), now)
    return [found[seq] for seq in seqs]


def _walks(conn: sqlite3.Connection, query: JobFilter, now: float) -> list[_Walk]:
    """The indexes that could serve the query, ordered ones first."""
    walks: list[_Walk] = []
    if query.task is None or query.state is not None or query.queue is not None:
        # a range per (stored) state and queue: every job's, when neither is given
        states = EVERY_STATE if query.state is None else STORED_STATES[query.state]
        ranges = [
            _Range(f"state = ? AND queue = ?{due}", (stored, queue, *([now] if due else [])))
            for stored, due in states
            for queue in _queues(conn, stored, query.queue)
        ]
        walks.append(_Walk("conveyor_jobs_state", ranges, frozenset({"state", "queue"})))
    if query.task is not None:
        task = _Range("task = ?", (query.task,))
        walks.append(_Walk("conveyor_jobs_task", [task], frozenset({"task"})))
    if query.id_prefix:
        where, params = _id_range(query.id_prefix)
        walks.append(_Walk(ID_INDEX, [_Range(where, params)], frozenset({"id_prefix"}), False))
    return walks


def _queues(conn: sqlite3.Connection, state: str, queue: str | None) -> list[str]:
    if queue is not None:
        return [queue]
    return [name for (name,) in conn.execute(QUEUES_OF_STATE, {"state": state})]


def _choose(conn: sqlite3.Connection, walks: list[_Walk], bounds: _Clause) -> _Walk:
    """The ordered walk with the fewest entries (as far as PROBE counts); or the id index,
    read whole and sorted, when it holds fewer than PROBE entries and at most half as many
    as that walk: with more, were its ids spread evenly, that walk finds the page within
    twice the page's length."""
    if len(walks) == 1:
        return walks[0]
    sizes = [_size(conn, walk, bounds) for walk in walks]
    fewest, best = min((size, i) for i, size in enumerate(sizes) if walks[i].ordered)
    for walk, size in zip(walks, sizes, strict=True):
        if not walk.ordered and size < PROBE and 2 * size <= fewest:
            return walk
    return walks[best]


def _size(conn: sqlite3.Connection, walk: _Walk, bounds: _Clause) -> int:
    """The walk's entries, counted from its index alone up to PROBE."""
    size = 0
    for part in walk.ranges:
        (found,) = conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM conveyor_jobs INDEXED BY {walk.index} "
            f"WHERE {part.where}{bounds[0]} LIMIT ?)",
            (*part.params, *bounds[1], PROBE - size),
        ).fetchone()
        size += found
        if size >= PROBE:
            break
    return size


def _bounds(query: JobFilter, after: _Key | None) -> _Clause:
    """The time range and the cursor: every index of a walk but the id's applies them."""
    sql = ""
    params: list[Any] = []
    if query.since is not None:
        sql += " AND enqueued_at >= ?"
        params.append(query.since)
    if query.until is not None:
        sql += " AND enqueued_at < ?"
        params.append(query.until)
    if after is not None:
        sql += " AND (enqueued_at, seq) < (?, ?)"
        params += after
    return sql, tuple(params)


def _filters(query: JobFilter, covered: frozenset[str], now: float) -> _Clause:
    """The checks on the rows a walk leads to: the filters its index does not apply."""
    sql = f" AND {LIVE}"
    params: list[Any] = [now]
    if query.state is not None and "state" not in covered:
        states = STORED_STATES[query.state]
        sql += " AND (" + " OR ".join(f"(state = ?{due})" for _, due in states) + ")"
        for stored, due in states:
            params += [stored, now] if due else [stored]
    if query.queue is not None and "queue" not in covered:
        sql += " AND queue = ?"
        params.append(query.queue)
    if query.task is not None and "task" not in covered:
        sql += " AND task = ?"
        params.append(query.task)
    if query.id_prefix and "id_prefix" not in covered:
        where, bounds = _id_range(query.id_prefix)
        sql += f" AND {where}"
        params += bounds
    if query.worker is not None:
        sql += " AND worker = ?"
        params.append(query.worker)
    return sql, tuple(params)


def _id_range(prefix: str) -> tuple[str, tuple[str, ...]]:
    """The ids starting with `prefix`, as a range of the id index: SQLite orders text by
    its UTF-8 bytes, which is code point order."""
    end = prefix
    while end:
        following = ord(end[-1]) + 1
        if following == 0xD800:  # surrogates are no text: the next code point is U+E000
            following = 0xE000
        if following <= 0x10FFFF:
            return "id >= ? AND id < ?", (prefix, end[:-1] + chr(following))
        end = end[:-1]
    return "id >= ?", (prefix,)


def _select(conn: sqlite3.Connection, job_id: str, now: float) -> JobRecord | None:
    row = conn.execute(
        f"SELECT {COLUMNS} FROM conveyor_jobs WHERE id = ? AND {LIVE}", (job_id, now)
    ).fetchone()
    return None if row is None else _observe(_record(row), now)


def _observe(record: JobRecord, now: float) -> JobRecord:
    if record.state is JobState.SCHEDULED and record.due_at <= now:
        record.state = JobState.QUEUED
    return record


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
        rate_period=row[34], history=history_of(row[35]),
    )  # fmt: skip


def _chunks(items: list[T], size: int) -> Iterable[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
