"""`postgresql://` (or `postgres://`): jobs in a PostgreSQL table, on psycopg 3's asyncio API.

    postgresql://user:password@host:5432/dbname?schema=jobs&pool_size=10

`schema` (default `public`) holds conveyor's tables; it is created and migrated on open,
or ahead of a deploy with `conveyor db migrate --url ...`. `pool_size` caps the pooled
connections of each event loop (default 10); each loop also opens one LISTEN connection
once it waits for work, and one more once it waits for a job's result or events. Every
other query option goes to libpq unchanged (`sslmode`, `connect_timeout`, ...).

Claims take a batch with `FOR UPDATE SKIP LOCKED`, so workers never wait for each other.
A claim that meets jobs with concurrency or rate limits goes on in a short transaction: it
locks their keys (advisory locks) before it counts their active jobs and tokens, so the
limits hold across every worker; a claim that meets none stays one round trip. The claim
statement itself leaves paused queues out, so a pause committed before it began holds.
Every change is announced with NOTIFY in the transaction that makes it: idle workers wake
within milliseconds of an enqueue and `result()` and `events()` hear about their job, while
a slow look at the table covers notifications lost to a reconnect. Due times and leases
come from the server's clock. `connection=` enqueues inside the caller's own transaction.

What the dashboard reads costs the same however much history the table keeps: listings
walk indexes in listing order and stop after a page (postgres_sql.LIST); the statements
that finish, retry or delete jobs keep the finished jobs' counts as they go, and each ack
statement adds to the per-minute outcome counters.

psycopg pools belong to the event loop that made them; this backend keeps one per loop, so
the sync portal and an app's own loop can share one backend object.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import threading
import time
import urllib.parse
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, ClassVar

from conveyor.backends.base import (
    COUNTED_OUTCOMES,
    LIMIT_SCAN,
    LOST,
    OUTCOME_RETENTION,
    Ack,
    Backend,
    Capabilities,
    Enqueued,
    JobFilter,
    JobPage,
    JobWatch,
    Lease,
    LeaseStatus,
    OutcomeCount,
    QueueBacklog,
    Recovered,
    RunningUpdate,
    WorkerInfo,
    backlog_of_rows,
    bucket_tokens,
    worker_lost_error,
)
from conveyor.errors import BackendUnavailable, ConfigurationError, ConveyorError
from conveyor.fair_share import probed
from conveyor.job import JobRecord, JobState
from conveyor.redact import redacted_url

try:
    import psycopg
    import psycopg_pool
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ConfigurationError(
        "the PostgreSQL backend needs psycopg 3: pip install 'conveyor[postgres]'"
    ) from exc

from conveyor.backends.history import note_of
from conveyor.backends.postgres_caller import AsyncRunner, Row, caller_runner
from conveyor.backends.postgres_listen import Listener, Subscription
from conveyor.backends.postgres_rows import (
    as_float,
    cursor_of,
    cursor_place,
    error_json,
    insert,
    record,
)
from conveyor.backends.postgres_schema import current_version, migrate, quoted
from conveyor.backends.postgres_sql import Statements, listing

logger = logging.getLogger("conveyor.postgres")

OPTIONS = {"schema", "pool_size"}
CONNECT_TIMEOUT = 5  # seconds, unless the URL sets connect_timeout
# how often a waiter looks at the table when no notification came: they can be lost
FALLBACK_POLL = 5.0
BATCH = 1000  # rows per statement when recovering leases or purging
# a worker's registration outlives no more than this (make_interval's range is far wider)
MAX_WORKER_TTL = 100 * 365 * 86400.0


class PostgresBackend(Backend):
    capabilities: ClassVar[Capabilities] = Capabilities(
        shared_across_processes=True,
        durable=True,
        pushes_new_work=True,
        transactional_enqueue=True,
        limits=True,
    )

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.conninfo, self.schema, self.pool_size, self.connect_timeout = parse_url(url)
        self.sql = Statements(self.schema)
        self._lock = threading.Lock()
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        self._migrated = False

    # -- connections ----------------------------------------------------------------------

    async def _ready(self) -> _LoopState:
        """This loop's pool, opened, on a migrated schema."""
        loop = asyncio.get_running_loop()
        with self._lock:
            state = self._loops.get(loop)
            if state is None:
                state = self._loops[loop] = _LoopState(self)
        await state.open()
        return state

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        state = await self._ready()
        try:
            # getconn and putconn, not the pool's connection(): that also commits (or rolls
            # back) on the way out, a lock and a round of the connection's own for nothing on
            # autocommit connections (transactions are explicit blocks, ended inside), about
            # a tenth of a single enqueue's client time. putconn still discards a connection
            # left mid-statement or mid-transaction (a cancelled call).
            conn = await state.pool.getconn()
            try:
                yield conn
            finally:
                await state.pool.putconn(conn)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            state.suspect()
            raise BackendUnavailable(f"PostgreSQL at {self._where()} failed: {exc}") from exc

    async def _rows(
        self,
        query: bytes,
        params: Mapping[str, Any] | None = None,
        *,
        retry: bool = False,
        prepare: bool | None = None,
    ) -> list[Row]:
        """Run one statement on a pooled connection (its own transaction).

        `retry`: run it once more on another connection if the first one was dead, as
        pooled connections are after a server restart; only for idempotent statements.
        `prepare=False`: plan it for these parameters every time, never from a cached plan.
        """
        try:
            async with self._connection() as conn:
                return await AsyncRunner(conn).rows(query, params or {}, prepare=prepare)
        except BackendUnavailable:
            if not retry:
                raise
        await (await self._ready()).check()
        async with self._connection() as conn:
            return await AsyncRunner(conn).rows(query, params or {}, prepare=prepare)

    def _where(self) -> str:
        parsed = urllib.parse.urlsplit(self.url)
        return f"{parsed.hostname or 'localhost'}:{parsed.port or 5432}{parsed.path}"

    async def open(self) -> None:
        await self._ready()

    async def _prepare(self) -> None:
        """Connect once, and migrate the schema (or, when only looking, find it).

        A connection of its own, before the pool's: a refusal fails at once, in the server's
        words, where the pool would retry until its timeout and log each failure.
        """
        try:
            conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise _connect_failure(self._where(), exc) from None
        async with conn:
            if self._migrated:
                return
            if self.only_looking and not await current_version(conn, self.schema):
                raise BackendUnavailable(
                    f"no conveyor store in schema {self.schema!r} at {self._where()}: check "
                    "?schema= in the URL (a worker, an enqueue or `conveyor db migrate` "
                    "creates it)"
                )
            await migrate(conn, self.schema)
            self._migrated = True

    async def migrate(self) -> tuple[int, int]:
        """Create or upgrade the schema now, on a connection of its own: (before, after)."""
        try:
            conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise _connect_failure(self._where(), exc) from None
        async with conn:
            versions = await migrate(conn, self.schema)
        self._migrated = True
        return versions

    async def close(self) -> None:
        current = asyncio.get_running_loop()
        with self._lock:
            states = list(self._loops.items())
            self._loops.clear()
        for loop, state in states:
            if loop is current:
                await state.close()
            elif loop.is_running():  # a pool belongs to its loop: close it there
                future = asyncio.run_coroutine_threadsafe(state.close(), loop)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.wrap_future(future), timeout=10)

    # -- primitives -------------------------------------------------------------------------

    async def _enqueue(self, jobs: Sequence[JobRecord]) -> list[Enqueued]:
        try:
            return await self._insert(jobs)
        except BackendUnavailable:
            pass
        # a dead pooled connection: try again once; the job ids keep it from doubling
        await (await self._ready()).check()
        return await self._insert(jobs)

    async def _insert(self, jobs: Sequence[JobRecord]) -> list[Enqueued]:
        async with self._connection() as conn:
            if not any(job.unique_key is not None for job in jobs):
                return await insert(AsyncRunner(conn), self.sql, jobs)
            async with conn.transaction():  # unique keys stay locked until the jobs commit
                return await insert(AsyncRunner(conn), self.sql, jobs)

    async def _enqueue_in(self, connection: object, jobs: Sequence[JobRecord]) -> list[Enqueued]:
        runner = await caller_runner(connection)
        try:
            return await insert(runner, self.sql, jobs)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise BackendUnavailable(f"PostgreSQL failed on your connection: {exc}") from exc

    async def _claim(
        self,
        queues: list[str],
        limit: int,
        worker: str,
        lease_seconds: float,
        weights: Mapping[str, int],
    ) -> list[JobRecord]:
        # os.urandom is what secrets reads, without secrets' imports of hmac and hashlib
        params = {
            "queues": queues, "limit": limit, "depth": limit, "worker": worker,
            "token": os.urandom(8).hex(), "lease": lease_seconds,
            "events": self.sql.events_channel,
        }  # fmt: skip
        rows: list[Row] = []
        async with self._connection() as conn:
            try:
                met_limits = await self._claim_fairly(conn, params, weights, rows)
                if met_limits and len(rows) < limit:
                    rows += await self._claim_limited(conn, params, limit - len(rows))
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                if not rows:
                    raise
                # the jobs of the statements before are leased and committed: hand them
                # over, rather than strand them until their lease runs out
                logger.warning("a claim took %d jobs, then failed: %s", len(rows), exc)
        rows.sort(key=lambda row: (-row[4], row[13], row[26]))  # priority, due_at, seq
        return [record(row) for row in rows]

    async def _claim_fairly(
        self,
        conn: psycopg.AsyncConnection[Any],
        params: dict[str, Any],
        weights: Mapping[str, int],
        rows: list[Row],
    ) -> bool:
        """Rounds of `fair_share.fill`, the jobs taken added to `rows`: the queues that came
        short of their share have no more, and what they left goes to the others in the
        next round (most claims need one). Whether jobs with limits were met: then the
        rounds stop, and `_claim_limited` looks past them for the rest."""
        met_limits = False
        left, open_ = params["limit"], params["queues"]
        while left > 0 and open_ and not met_limits:
            weighed = [weights.get(q, 1) for q in open_]
            round_ = {
                **params, "queues": open_, "limit": left, "weights": weighed,
                "probed": probed(open_, weights, left),
            }  # fmt: skip
            async with conn.pipeline():  # one round trip; GENERIC_PLAN says why
                await conn.execute(self.sql.generic_plan)
                cursor = await conn.execute(self.sql.claim, round_)
            got = await cursor.fetchall()
            met_limits = met_limits or bool(got[0][-2])
            open_ = got[0][-1]
            got = [row for row in got if row[0] is not None]  # not the row of NULLs
            rows += got
            left -= len(got)
        return met_limits

    async def _claim_limited(
        self, conn: psycopg.AsyncConnection[Any], params: dict[str, Any], left: int
    ) -> list[Row]:
        """Up to `left` more jobs, looking past those their limits hold back.

        The keys are locked in one statement and their slots and tokens counted in the
        next, which sees every claim that held the locks before it: no two claims ever
        fill the same slot or spend the same token.
        """
        runner = AsyncRunner(conn)
        params = {
            **params, "depth": left + LIMIT_SCAN, "wait": left,
            "namespace": self.sql.limits_namespace,
        }  # fmt: skip
        async with conn.transaction():
            keys = await runner.rows(self.sql.lock_limits, params)
            locked = {(kind, key) for kind, key, got in keys if got}
            params["limit_keys"] = [key for kind, key in locked if kind == "limit"]
            due = await runner.rows(self.sql.limited_due, params)
            seqs, tokens = _choose(due, locked, left)
            if not seqs:
                return []
            params.update(
                seqs=seqs, rate_keys=list(tokens), tokens=list(tokens.values()), now=due[0][-1]
            )
            return await runner.rows(self.sql.claim_chosen, params)

    async def _extend(
        self, leases: Sequence[Lease], lease_seconds: float
    ) -> dict[str, LeaseStatus]:
        params = {
            "id": [lease.job_id for lease in leases],
            "token": [lease.token for lease in leases],
            "lease": lease_seconds,
        }
        held = {
            job_id: bool(cancel) for job_id, cancel in await self._rows(self.sql.extend, params)
        }
        return {
            lease.job_id: LeaseStatus(True, held[lease.job_id]) if lease.job_id in held else LOST
            for lease in leases
        }

    async def _ack(self, acks: Sequence[Ack]) -> list[bool]:
        positions: list[int] = []  # the first ack of each lease: a second one is refused
        seen: set[Lease] = set()
        for index, ack in enumerate(acks):
            if ack.lease not in seen:
                seen.add(ack.lease)
                positions.append(index)
        chosen = [acks[i] for i in positions]
        params = {
            "id": [ack.lease.job_id for ack in chosen],
            "token": [ack.lease.token for ack in chosen],
            "state": [ack.state.value for ack in chosen],
            "result": [ack.result for ack in chosen],
            "error": [error_json(ack.error) for ack in chosen],
            "retry_in": [float(ack.retry_in) for ack in chosen],
            "unrun": [1 if ack.state is JobState.QUEUED else 0 for ack in chosen],
            "outcome": [COUNTED_OUTCOMES[ack.state] for ack in chosen],
            "note": [note_of(ack.error) for ack in chosen],
            "task": [ack.task or None for ack in chosen],
            "queue": [ack.queue or None for ack in chosen],
            "work": self.sql.work_channel,
            "events": self.sql.events_channel,
        }
        if not any(ack.follow_ups for ack in chosen):
            rows = await self._rows(self.sql.ack, params)
            accepted = {positions[row[0] - 1] for row in rows}
        else:  # the follow-ups of accepted acks are stored in the same transaction
            async with self._connection() as conn, conn.transaction():
                runner = AsyncRunner(conn)
                rows = await runner.rows(self.sql.ack, params)
                accepted = {positions[row[0] - 1] for row in rows}
                follow_ups = [job for i in sorted(accepted) for job in acks[i].follow_ups]
                if follow_ups:
                    await insert(runner, self.sql, follow_ups)
        return [i in accepted for i in range(len(acks))]

    async def _update_running(self, updates: Sequence[RunningUpdate]) -> list[bool]:
        merged: dict[Lease, RunningUpdate] = {}
        for update in updates:  # several updates of one job in a batch: later ones win
            seen = merged.get(update.lease)
            if seen is None:
                merged[update.lease] = RunningUpdate(
                    update.lease, update.progress, update.message, update.checkpoint
                )
                continue
            if update.progress is not None:
                seen.progress, seen.message = update.progress, update.message
            if update.checkpoint is not None:
                seen.checkpoint = update.checkpoint
        batch = list(merged.values())
        params = {
            "id": [u.lease.job_id for u in batch],
            "token": [u.lease.token for u in batch],
            "progress": [as_float(u.progress) for u in batch],
            "message": [u.message if u.progress is not None else None for u in batch],
            "checkpoint": [u.checkpoint for u in batch],
            "events": self.sql.events_channel,
        }
        rows = await self._rows(self.sql.update_running, params)
        held = {batch[row[0] - 1].lease for row in rows}
        return [u.lease in held for u in updates]

    async def _recover_expired(self, max_recoveries: int) -> Recovered:
        params = {
            "max": max_recoveries,
            "error": json.dumps(worker_lost_error(max_recoveries).to_dict()),
            "batch": BATCH,
            "work": self.sql.work_channel,
            "events": self.sql.events_channel,
        }
        requeued = dead = cancelled = 0
        while True:
            rows = await self._rows(self.sql.recover, params)
            for state, *_ in rows:
                if state == JobState.QUEUED.value:
                    requeued += 1
                elif state == JobState.FAILED.value:
                    dead += 1
                else:
                    cancelled += 1
            if len(rows) < BATCH:
                return Recovered(requeued, dead, cancelled)

    async def _cancel(self, job_id: str) -> JobRecord | None:
        params = {"id": job_id, "events": self.sql.events_channel}
        rows = await self._rows(self.sql.cancel, params)
        if rows:
            return record(rows[0])
        return await self._get(job_id)

    async def _retry(self, job_id: str) -> JobRecord | None:
        params = {"id": job_id, "work": self.sql.work_channel, "events": self.sql.events_channel}
        rows = await self._rows(self.sql.retry, params)
        if rows:
            return record(rows[0])
        return await self._get(job_id)

    async def _get(self, job_id: str) -> JobRecord | None:
        rows = await self._rows(self.sql.select_one, {"id": job_id}, retry=True)
        return record(rows[0]) if rows else None

    async def _page(self, query: JobFilter) -> JobPage:
        after = None if query.cursor is None else cursor_place(query.cursor)
        statement, params = listing(self.sql, query, after)
        # planned for its values each time: how selective a filter is decides which index
        # to walk, and a cached plan would pick one for all values
        rows = await self._rows(statement, params, retry=True, prepare=False)
        page = rows[: query.limit]
        more = len(rows) > len(page) > 0  # after an empty page, the next starts at the top
        return JobPage([record(row) for row in page], cursor_of(page[-1]) if more else None)

    async def _counts(self) -> dict[str, dict[JobState, int]]:
        counts: dict[str, dict[JobState, int]] = {}
        for queue, state, n in await self._rows(self.sql.counts, retry=True):
            counts.setdefault(queue, {})[JobState(state)] = int(n)
        return counts

    async def _backlog(self) -> dict[str, QueueBacklog]:
        return backlog_of_rows(await self._rows(self.sql.backlog, retry=True))

    async def _purge(
        self, states: frozenset[JobState], older_than: float | None, queue: str | None
    ) -> int:
        params = {
            "states": [s.value for s in states],
            "cutoff": older_than,
            "queue": queue,
            "batch": BATCH,
        }
        return await self._delete_in_batches(self.sql.purge, params)

    async def _purge_expired(self) -> int:
        deleted = await self._delete_in_batches(self.sql.purge_expired, {"batch": BATCH})
        await self._rows(self.sql.tidy, {"retention": OUTCOME_RETENTION})
        return deleted

    async def _delete(self, job_ids: Sequence[str]) -> int:
        ((deleted,),) = await self._rows(self.sql.delete_ids, {"ids": list(job_ids)})
        return int(deleted)

    async def _delete_in_batches(self, query: bytes, params: Mapping[str, Any]) -> int:
        total = 0
        while True:
            ((found,),) = await self._rows(query, params)
            deleted = int(found)
            total += deleted
            if deleted < BATCH:
                return total

    async def _register_worker(self, worker: WorkerInfo, ttl: float) -> None:
        params = {
            "name": worker.name, "host": worker.host, "pid": worker.pid,
            "queues": list(worker.queues), "concurrency": worker.concurrency,
            "started_at": float(worker.started_at), "processed": worker.processed,
            "ttl": min(float(ttl), MAX_WORKER_TTL),
        }  # fmt: skip
        await self._rows(self.sql.register_worker, params, retry=True)

    async def _deregister_worker(self, name: str) -> None:
        await self._rows(self.sql.deregister_worker, {"name": name}, retry=True)

    async def _workers(self) -> list[WorkerInfo]:
        return [
            WorkerInfo(
                name, host, pid, tuple(queues), concurrency, started_at, processed, last_seen
            )
            for name, host, pid, queues, concurrency, started_at, processed, last_seen in (
                await self._rows(self.sql.workers, retry=True)
            )
        ]

    async def _set_paused(self, queue: str, paused: bool) -> None:
        if paused:
            await self._rows(self.sql.pause, {"queue": queue}, retry=True)
        else:
            params = {"queue": queue, "work": self.sql.work_channel}
            await self._rows(self.sql.resume, params, retry=True)

    async def _paused_queues(self) -> frozenset[str]:
        return frozenset(row[0] for row in await self._rows(self.sql.paused, retry=True))

    async def _outcome_counts(self, since: float) -> list[OutcomeCount]:
        rows = await self._rows(self.sql.outcome_counts, {"since": since}, retry=True)
        return [OutcomeCount(*row) for row in rows]

    async def _now(self) -> float:
        ((now,),) = await self._rows(self.sql.now, retry=True)
        return float(now)

    # -- waiting without polling --------------------------------------------------------------

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        state = await self._ready()
        async with state.work.subscribe(queues, ready_within=min(timeout, 1.0)) as heard:
            try:
                ((due, next_in),) = await self._rows(
                    self.sql.pending,
                    {"queues": list(queues), "depth": LIMIT_SCAN + 1},
                    retry=True,
                )
            except BackendUnavailable:
                due, next_in = False, None  # the caller's next claim says why
            if due:
                return
            remaining = deadline - time.monotonic()
            if next_in is not None:
                remaining = min(remaining, max(0.0, next_in))
            await heard.wait(remaining)

    @contextlib.asynccontextmanager
    async def watch_job(self, job_id: str, poll: float | None = None) -> AsyncIterator[JobWatch]:
        state = await self._ready()
        async with state.events.subscribe([job_id], ready_within=1.0) as heard:
            yield _Watch(heard, state.events, poll or self._result_poll_ceiling)


def _choose(
    due: list[Row], locked: set[tuple[str, str]], left: int
) -> tuple[list[int], dict[str, float]]:
    """The seqs of up to `left` of the `due` jobs (LIMITED_DUE's rows) that their limits
    let start, best first; and the tokens, before this claim, of the rate buckets they
    spend from. A job whose key this claim did not lock is passed over."""
    seqs: list[int] = []
    active: dict[str, int] = {}  # limit key -> active jobs, counting those taken here
    tokens: dict[str, float] = {}  # rate key -> tokens before this claim
    spent: Counter[str] = Counter()
    for seq, key, cap, in_use, rate_key, rate, period, stored, at, now in due:
        if len(seqs) == left:
            break
        if key is not None and (
            ("limit", key) not in locked or active.setdefault(key, in_use) >= cap
        ):
            continue
        if rate_key is not None:
            if ("rate", rate_key) not in locked:
                continue
            if rate_key not in tokens:
                bucket = None if stored is None else (stored, at)
                tokens[rate_key] = bucket_tokens(rate, period, bucket, now)
            if tokens[rate_key] - spent[rate_key] < 1:
                continue
            spent[rate_key] += 1
        if key is not None:
            active[key] += 1
        seqs.append(seq)
    return seqs, {rate_key: tokens[rate_key] for rate_key in spent}


class _Watch:
    """Hears the job's notifications; looks again now and then, in case one was lost."""

    def __init__(self, heard: Subscription, listener: Listener, poll: float) -> None:
        self._heard = heard
        self._listener = listener
        self._poll = poll

    async def changed(self, timeout: float | None = None) -> None:
        # while notifications flow, looking is only a safety net: at the caller's pace if
        # that is slower; while deaf, at the caller's pace
        listening = self._listener.listening
        wait = max(self._poll, FALLBACK_POLL) if listening else self._poll
        await self._heard.wait(wait if timeout is None else min(wait, timeout))


class _LoopState:
    """One event loop's pool and listeners."""

    def __init__(self, backend: PostgresBackend) -> None:
        self.backend = backend
        self.pool = _new_pool(backend)
        self.work = Listener(backend.conninfo, backend.sql.work_channel)
        self.events = Listener(backend.conninfo, backend.sql.events_channel)
        self._opened = False
        self._opening = asyncio.Lock()
        self._checking: asyncio.Task[None] | None = None

    async def open(self) -> None:
        if self._opened:
            return
        async with self._opening:
            if self._opened:
                return
            backend = self.backend
            await backend._prepare()
            try:
                await self.pool.open(wait=True, timeout=backend.connect_timeout)
            except BaseException as exc:  # start afresh next time
                await self.pool.close()
                self.pool = _new_pool(backend)
                if isinstance(exc, psycopg.OperationalError):
                    where = backend._where()
                    raise BackendUnavailable(f"cannot reach PostgreSQL at {where}: {exc}") from exc
                raise
            self._opened = True

    def suspect(self) -> None:
        """A connection failed: test the idle ones in the background, dropping dead ones."""
        if self._checking is None or self._checking.done():
            self._checking = asyncio.create_task(self.check())

    async def check(self) -> None:
        with contextlib.suppress(psycopg.Error):
            await self.pool.check()

    async def close(self) -> None:
        await self.work.close()
        await self.events.close()
        if self._checking is not None:
            self._checking.cancel()
        await self.pool.close()
        self._opened = False


def _new_pool(backend: PostgresBackend) -> psycopg_pool.AsyncConnectionPool:
    return psycopg_pool.AsyncConnectionPool(
        backend.conninfo,
        min_size=1,
        max_size=backend.pool_size,
        open=False,
        kwargs={"autocommit": True},  # one statement, one transaction; more when asked
        timeout=30.0,
        name=f"conveyor:{backend.schema}",
    )


# libpq's words for a server it never spoke to
UNREACHABLE = (
    "Connection refused", "resolve host", "translate host name", "timeout expired",
    "No route to host", "Network is unreachable", "No such file or directory",
)  # fmt: skip


# 'connection failed: connection to server at "h", port 5432 failed: FATAL:  the reason'
LIBPQ_PREFIX = re.compile(
    r"^(connection (failed|is bad): )?(connection to server .*? failed: )?(FATAL:\s+)?"
)


def _connect_failure(where: str, exc: psycopg.Error) -> ConveyorError:
    """Why a first connection failed, in one line: what the server said when it answered."""
    text = str(exc)
    reasons: list[str] = []
    for line in text.splitlines():
        reason = re.sub(LIBPQ_PREFIX, "", line.strip())
        if reason and reason not in reasons:
            reasons.append(reason if reason[-1] in ".?!" else f"{reason}.")
    reason = " ".join(reasons).removesuffix(".")
    if text.startswith("connection is bad:") or isinstance(exc, psycopg.ProgrammingError):
        return ConfigurationError(f"bad PostgreSQL URL for {where}: {reason}")
    if "FATAL:" in text:
        return BackendUnavailable(f"PostgreSQL at {where} refused the connection: {reason}")
    if isinstance(exc, psycopg.errors.ConnectionTimeout) or any(w in text for w in UNREACHABLE):
        return BackendUnavailable(f"cannot reach PostgreSQL at {where}: {reason}")
    return BackendUnavailable(f"cannot connect to PostgreSQL at {where}: {reason}")


def parse_url(url: str) -> tuple[str, str, int, float]:
    """(libpq URL, schema, pool size, connect timeout) from a conveyor URL."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("postgresql", "postgres"):
        raise ConfigurationError(
            f"bad PostgreSQL URL {url!r}: use postgresql://user@host:5432/dbname"
        )
    options = urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)
    ours = {k: v for k, v in options if k in OPTIONS}
    libpq = [(k, v) for k, v in options if k not in OPTIONS]
    schema = ours.get("schema", "public")
    quoted(schema)  # checks the name
    try:
        pool_size = int(ours.get("pool_size", "10"))
    except ValueError:
        pool_size = 0
    if not 1 <= pool_size <= 1000:
        raise ConfigurationError(f"pool_size must be an int from 1 to 1000 in {url!r}")
    given = dict(libpq)
    if "connect_timeout" not in given:
        libpq.append(("connect_timeout", str(CONNECT_TIMEOUT)))
    if "application_name" not in given:
        libpq.append(("application_name", "conveyor"))
    try:
        timeout = float(dict(libpq)["connect_timeout"])
    except ValueError:
        raise ConfigurationError(
            f"connect_timeout must be a number of seconds in {url!r}"
        ) from None
    conninfo = urllib.parse.urlunsplit(
        ("postgresql", parsed.netloc, parsed.path, urllib.parse.urlencode(libpq), "")
    )
    try:
        psycopg.conninfo.conninfo_to_dict(conninfo)  # libpq knows the names of its options
    except psycopg.ProgrammingError as exc:
        raise ConfigurationError(
            f"bad PostgreSQL URL {redacted_url(url)!r}: {str(exc).strip()}"
        ) from None
    return conninfo, schema, pool_size, max(timeout, 1.0)
