"""The Backend protocol: the one seam between conveyor and its stores.

A backend stores job records and changes them atomically. `Backend` does the shared
bookkeeping once (argument checks, waiting, notifications inside one process); each store
implements the underscored storage primitives. Every primitive that changes more than one
record does so in one transaction (or one script) of the store.

Time is the backend's: due times, leases and expiries are computed by the store from its own
clock, so a worker whose clock is skewed cannot requeue another's job early.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import dataclasses
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import ClassVar, Protocol

from conveyor.errors import ConfigurationError
from conveyor.fair_share import check_weights
from conveyor.job import PRIORITY_LIMIT, JobError, JobRecord, JobState
from conveyor.job_ids import is_utf8
from conveyor.wording import counted

DEFAULT_MAX_RECOVERIES = 3
WORKER_LOST = "worker_lost"
# How many jobs held back by their limit a claim looks past in each queue, so one full key
# cannot starve the jobs behind it, yet a claim stays bounded.
LIMIT_SCAN = 100
MAX_LIMIT = 2**31 - 1  # a concurrency or rate limit: it fits every store's integer column
MAX_LIMIT_KEY = 200  # characters of a limit or rate key
MAX_RATE_PERIOD = 366 * 86400.0  # seconds: a year, and a day to spare
DELETE_CHUNK = 500  # ids `Backend.delete` hands the store in one operation


@dataclasses.dataclass(frozen=True, slots=True)
class Lease:
    """A worker's claim on a job; the token fences writes from a worker that lost it."""

    job_id: str
    token: str


@dataclasses.dataclass(slots=True)
class Ack:
    """How one claimed job ended, reported by the worker that holds its lease.

    `state` is the job's next state: SUCCEEDED, FAILED (dead-lettered), CANCELLED,
    SCHEDULED (retry after `retry_in` seconds) or QUEUED (handed back unrun: the attempt
    does not count). `follow_ups` are enqueued in the same transaction, only if the ack
    is accepted.
    """

    lease: Lease
    state: JobState
    result: bytes | None = None
    error: JobError | None = None
    retry_in: float = 0.0
    follow_ups: Sequence[JobRecord] = ()
    # the job's task and queue, for the per-minute outcome counters written with the ack
    task: str = ""
    queue: str = ""


@dataclasses.dataclass(slots=True)
class RunningUpdate:
    """Progress and/or a checkpoint written by the job while it runs."""

    lease: Lease
    progress: float | None = None
    message: str | None = None
    checkpoint: bytes | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class LeaseStatus:
    held: bool
    cancel_requested: bool = False


LOST = LeaseStatus(held=False)


@dataclasses.dataclass(frozen=True, slots=True)
class Enqueued:
    record: JobRecord
    created: bool  # False when a live job had this id, or held this unique key


@dataclasses.dataclass(frozen=True, slots=True)
class JobFilter:
    """Which jobs to list, newest first. Every filter given must hold.

    `cursor` pages by keyset: the `next_cursor` of the page before (`Backend.page_jobs`),
    so a page costs the same however deep it is. `offset` skips rows (slow far down)."""

    queue: str | None = None
    state: JobState | None = None
    task: str | None = None
    limit: int = 50
    offset: int = 0
    id_prefix: str | None = None  # ids starting with this
    since: float | None = None  # enqueued at or after (epoch seconds, the store's clock)
    until: float | None = None  # enqueued before
    worker: str | None = None  # claimed by this worker (its active jobs, say)
    cursor: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class JobPage:
    jobs: list[JobRecord]
    next_cursor: str | None  # None on the last page


@dataclasses.dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A live worker, as it registers itself and renews with each heartbeat."""

    name: str
    host: str
    pid: int
    queues: tuple[str, ...]
    concurrency: int
    started_at: float  # epoch seconds
    processed: int = 0  # jobs it finished so far
    last_seen: float = 0.0  # the store's clock at its latest heartbeat (set by the store)


# the outcomes the per-minute counters keep, by the state an ack leaves a job in
COUNTED_OUTCOMES: dict[JobState, str] = {
    JobState.SUCCEEDED: "succeeded",
    JobState.FAILED: "failed",
    JobState.SCHEDULED: "retried",
    JobState.CANCELLED: "cancelled",
    JobState.QUEUED: "handed_back",
}
OUTCOME_RETENTION = 7 * 86400.0  # seconds the per-minute counters are kept


@dataclasses.dataclass(frozen=True, slots=True)
class OutcomeCount:
    """How many attempts of a task on a queue ended one way during one minute."""

    minute: float  # epoch seconds of the minute's start, on the store's clock
    queue: str
    task: str
    outcome: str  # one of COUNTED_OUTCOMES' values
    count: int


@dataclasses.dataclass(frozen=True, slots=True)
class Recovered:
    requeued: int
    dead: int  # dead-lettered as worker_lost
    cancelled: int = 0  # cancellation had been requested; their worker is gone


@dataclasses.dataclass(frozen=True, slots=True)
class QueueBacklog:
    """What waits in one queue: its live jobs by state, its dead letters, and how long its
    oldest due job has waited (seconds on the store's clock; 0 when none is due)."""

    scheduled: int = 0  # not due yet
    queued: int = 0  # due: a scheduled job whose time has come counts here
    active: int = 0
    failed: int = 0  # the dead-letter store
    oldest_age: float = 0.0


NO_BACKLOG = QueueBacklog()


@dataclasses.dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do, declared rather than discovered by users."""

    shared_across_processes: bool
    durable: bool
    pushes_new_work: bool  # wakes idle workers in other processes without polling
    transactional_enqueue: bool = False  # enqueue_in: inside the caller's own transaction
    limits: bool = False  # honours JobRecord.limit_key / limit and rate_key / rate_*


class JobWatch(Protocol):
    """Waits for a job's next change (progress, state), so readers do not poll in a loop."""

    async def changed(self, timeout: float | None = None) -> None:
        """Return when the job may have changed, or after `timeout` seconds at most."""
        ...


class Backend(abc.ABC):
    """Base class of every backend. Public methods check arguments and notify waiters."""

    capabilities: ClassVar[Capabilities]
    url: str

    def __init__(self) -> None:
        # set by those who only look at the store (the CLI's jobs and stats commands):
        # opening it creates nothing, and warns of nothing that matters only to writers
        self.only_looking = False
        self._waiters_lock = threading.Lock()
        self._work_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._job_waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, create or migrate the schema. Safe to call twice."""

    async def close(self) -> None:
        """Release connections. Safe to call twice."""

    # -- producers -------------------------------------------------------------------------

    async def enqueue(self, jobs: Sequence[JobRecord]) -> list[Enqueued]:
        """Store new jobs in one operation. A job whose id is live, or whose unique key a
        job holds, is not stored: that job is returned instead."""
        if not jobs:
            return []
        for job in jobs:
            self._check(job)
        results = await self._enqueue(jobs)
        if any(r.created for r in results):
            self._notify_work()
        return results

    async def enqueue_in(self, connection: object, jobs: Sequence[JobRecord]) -> list[Enqueued]:
        """Store new jobs inside the caller's open transaction on `connection`.

        The jobs exist if and only if that transaction commits; conveyor never commits or
        rolls it back. Only backends with `capabilities.transactional_enqueue` can.
        """
        if not jobs:
            return []
        for job in jobs:
            self._check(job)
        return await self._enqueue_in(connection, jobs)

    async def cancel(self, job_id: str) -> JobRecord | None:
        """Cancel a pending job now; ask an active one to stop. None if there is no such job."""
        record = await self._cancel(job_id)
        if record is not None and record.state.is_final:
            self._notify_job(job_id)
        return record

    async def retry(self, job_id: str) -> JobRecord | None:
        """Queue a failed or cancelled job again with a fresh attempt count."""
        record = await self._retry(job_id)
        if record is not None and record.state is JobState.QUEUED:
            self._notify_work()
        return record

    # -- workers ---------------------------------------------------------------------------

    async def claim(
        self,
        queues: Sequence[str],
        limit: int,
        worker: str,
        lease_seconds: float,
        weights: Mapping[str, int] | None = None,
    ) -> list[JobRecord]:
        """Lease up to `limit` due jobs of `queues`, shared between them by `weights` (1
        each by default; see `conveyor.fair_share`), each queue's highest priority first,
        then oldest. The jobs come back highest priority first, then oldest."""
        if limit <= 0 or not queues:
            return []
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        wanted = list(dict.fromkeys(queues))
        check_weights(wanted, weights or {})
        return await self._claim(wanted, limit, worker, lease_seconds, weights or {})

    async def extend(self, leases: Sequence[Lease], lease_seconds: float) -> dict[str, LeaseStatus]:
        """Renew leases; a lease whose token no longer matches comes back not held."""
        if not leases:
            return {}
        return await self._extend(leases, lease_seconds)

    async def ack(self, acks: Sequence[Ack]) -> list[bool]:
        """Apply outcomes atomically, one per job; False where the lease was lost."""
        if not acks:
            return []
        for item in acks:
            if item.state is JobState.ACTIVE:
                raise ValueError("an ack cannot leave a job active: extend its lease instead")
            for job in item.follow_ups:
                self._check(job)
        accepted = await self._ack(acks)
        for item, ok in zip(acks, accepted, strict=True):
            if not ok:
                continue
            if item.state.is_final:
                self._notify_job(item.lease.job_id)
            elif item.state is JobState.QUEUED:
                self._notify_work()
            if item.follow_ups:
                self._notify_work()
        return accepted

    async def update_running(self, updates: Sequence[RunningUpdate]) -> list[bool]:
        """Record progress and checkpoints; False where the lease was lost."""
        if not updates:
            return []
        accepted = await self._update_running(updates)
        for update, ok in zip(updates, accepted, strict=True):
            if ok and update.progress is not None:
                self._notify_job(update.lease.job_id)
        return accepted

    async def recover_expired(self, max_recoveries: int = DEFAULT_MAX_RECOVERIES) -> Recovered:
        """Requeue active jobs whose lease expired; dead-letter those recovered too often."""
        recovered = await self._recover_expired(max_recoveries)
        if recovered.requeued:
            self._notify_work()
        return recovered

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        """Return when work may be due, or after `timeout` seconds at most.

        Due work found when the wait begins returns at once: a job stored between a
        worker's last claim and its wait is never left waiting for the timeout.
        """
        await self._wait_work(timeout, lambda: self._has_due(queues))

    async def wait_for_jobs(
        self, queues: Sequence[str], timeout: float, worker: str, lease_seconds: float
    ) -> list[JobRecord]:
        """Wait as `wait_for_work` does, offering meanwhile to take the next job: a store
        that can hand it over leases it to `worker` for `lease_seconds` in the enqueue
        that stores it, as a claim would, and returns it (one job at most). Others return
        nothing: the worker claims after the wait."""
        await self.wait_for_work(queues, timeout)
        return []

    # -- readers ---------------------------------------------------------------------------

    async def get(self, job_id: str) -> JobRecord | None:
        """The job, or None if it never existed or its record expired."""
        return await self._get(job_id)

    async def list_jobs(self, query: JobFilter) -> list[JobRecord]:
        """Jobs matching the filter, newest first."""
        return (await self.page_jobs(query)).jobs

    async def page_jobs(self, query: JobFilter) -> JobPage:
        """A page of the jobs matching the filter, newest first, and the cursor of the next
        page. With `query.cursor`, as fast on the thousandth page as on the first."""
        if query.limit < 0 or query.offset < 0:
            raise ValueError("limit and offset must be >= 0")
        if query.cursor is not None and query.offset:
            raise ValueError("page with a cursor or an offset, not both")
        for name in ("since", "until"):
            moment = getattr(query, name)
            if moment is not None and (
                not isinstance(moment, int | float) or not math.isfinite(moment)
            ):
                raise ValueError(f"{name} must be a finite time in epoch seconds, got {moment!r}")
        return await self._page(query)

    async def counts(self) -> dict[str, dict[JobState, int]]:
        """Number of live jobs per queue and state."""
        return await self._counts()

    async def backlog(self) -> dict[str, QueueBacklog]:
        """Per queue: live jobs by state, dead letters, and the age of the oldest due job.

        Cheap however many finished jobs the store holds (read from indexes, or one script
        per queue), so metrics may ask every few seconds. Queues holding none of these jobs
        are left out.
        """
        found = await self._backlog()
        return {queue: backlog for queue, backlog in found.items() if backlog != NO_BACKLOG}

    # -- the fleet, the queues' switches and their history ---------------------------------

    async def register_worker(self, worker: WorkerInfo, ttl: float) -> None:
        """Record `worker` as live for `ttl` seconds; each heartbeat calls it again (with
        its `processed` so far). An entry not renewed within its ttl is gone."""
        if not isinstance(ttl, int | float) or not math.isfinite(ttl) or ttl <= 0:
            raise ValueError(f"ttl must be a positive, finite number of seconds, got {ttl!r}")
        await self._register_worker(worker, ttl)

    async def deregister_worker(self, name: str) -> None:
        """Drop a worker's entry (it stopped)."""
        await self._deregister_worker(name)

    async def workers(self) -> list[WorkerInfo]:
        """The live workers, by name, with `last_seen` on the store's clock."""
        return sorted(await self._workers(), key=lambda w: w.name)

    async def pause_queue(self, queue: str) -> None:
        """Stop every worker from claiming the queue's jobs; they stay queued until it
        resumes. Enqueues go on."""
        _check_queue_name(queue)
        await self._set_paused(queue, True)

    async def resume_queue(self, queue: str) -> None:
        _check_queue_name(queue)
        await self._set_paused(queue, False)
        self._notify_work()

    async def paused_queues(self) -> frozenset[str]:
        return await self._paused_queues()

    async def outcome_counts(self, since: float) -> list[OutcomeCount]:
        """The per-minute outcome counters of the minutes from `since` (epoch seconds) on,
        oldest first. They are written with each batch of acknowledgements and kept for
        OUTCOME_RETENTION seconds."""
        counts = await self._outcome_counts(since)
        return sorted(counts, key=lambda c: (c.minute, c.queue, c.task, c.outcome))

    async def purge(
        self,
        states: Iterable[JobState],
        older_than: float | None = None,
        queue: str | None = None,
    ) -> int:
        """Delete finished jobs (all of them, or those finished `older_than` seconds ago)."""
        wanted = frozenset(states)
        if not wanted <= FINISHED:
            raise ValueError("only finished jobs can be purged: succeeded, failed, cancelled")
        return await self._purge(wanted, older_than, queue)

    async def purge_expired(self) -> int:
        """Delete jobs whose result time-to-live has passed."""
        return await self._purge_expired()

    async def delete(self, job_ids: Sequence[str]) -> int:
        """Delete the finished jobs (succeeded, failed, cancelled) among `job_ids`; return
        how many. Live jobs (scheduled, queued, active) are left alone, unknown ids ignored.

        Each DELETE_CHUNK ids are one operation of the store, which removes the jobs from
        every index and count and frees their unique keys: a deleted job's id can be
        enqueued again."""
        if isinstance(job_ids, str | bytes) or not isinstance(job_ids, Sequence):
            raise TypeError(f"job_ids must be a sequence of job ids, got {job_ids!r:.100}")
        wanted = list(dict.fromkeys(job_ids))
        for job_id in wanted:
            if not isinstance(job_id, str):
                raise TypeError(f"a job id must be a str, got {job_id!r:.100}")
        deleted = 0
        for start in range(0, len(wanted), DELETE_CHUNK):
            deleted += await self._delete(wanted[start : start + DELETE_CHUNK])
        return deleted

    @contextlib.asynccontextmanager
    async def watch_job(self, job_id: str, poll: float | None = None) -> AsyncIterator[JobWatch]:
        """Wait for a job's changes. A backend that cannot push them looks again at growing
        intervals up to `poll` seconds (its own ceiling by default); this process's own
        changes wake the watch at once."""
        yield _PolledWatch(self, job_id, poll or self._result_poll_ceiling)

    async def wait_final(self, job_id: str, deadline: float | None) -> JobRecord | None:
        """Wait until the job ends or the monotonic `deadline` passes; return its record."""
        async with self.watch_job(job_id) as watch:
            while True:
                record = await self.get(job_id)
                if record is None or record.state.is_final:
                    return record
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return record
                await watch.changed(remaining)

    async def now(self) -> float:
        """The backend's clock, in epoch seconds."""
        return await self._now()

    def _check(self, job: JobRecord) -> None:
        check_record(job)
        limited = job.limit_key is not None or job.rate_key is not None
        if limited and not self.capabilities.limits:
            scheme = self.url.split(":", 1)[0]
            raise ConfigurationError(
                f"the {scheme}:// backend cannot enforce concurrency or rate limits: drop "
                "concurrency= and rate_limit= from the task, or use a backend that can"
            )

    # -- storage primitives ----------------------------------------------------------------

    # The longest pause between two looks at a job another process may finish.
    _result_poll_ceiling: ClassVar[float] = 0.1

    @abc.abstractmethod
    async def _enqueue(self, jobs: Sequence[JobRecord]) -> list[Enqueued]: ...

    async def _enqueue_in(self, connection: object, jobs: Sequence[JobRecord]) -> list[Enqueued]:
        scheme = self.url.split(":", 1)[0]
        raise ConfigurationError(
            f"connection= needs the postgresql backend: this app's {scheme}:// store cannot "
            "take part in your database transaction"
        )

    @abc.abstractmethod
    async def _claim(
        self,
        queues: list[str],
        limit: int,
        worker: str,
        lease_seconds: float,
        weights: Mapping[str, int],
    ) -> list[JobRecord]: ...

    @abc.abstractmethod
    async def _extend(
        self, leases: Sequence[Lease], lease_seconds: float
    ) -> dict[str, LeaseStatus]: ...

    @abc.abstractmethod
    async def _ack(self, acks: Sequence[Ack]) -> list[bool]: ...

    @abc.abstractmethod
    async def _update_running(self, updates: Sequence[RunningUpdate]) -> list[bool]: ...

    @abc.abstractmethod
    async def _recover_expired(self, max_recoveries: int) -> Recovered: ...

    @abc.abstractmethod
    async def _cancel(self, job_id: str) -> JobRecord | None: ...

    @abc.abstractmethod
    async def _retry(self, job_id: str) -> JobRecord | None: ...

    @abc.abstractmethod
    async def _get(self, job_id: str) -> JobRecord | None: ...

    @abc.abstractmethod
    async def _page(self, query: JobFilter) -> JobPage: ...

    @abc.abstractmethod
    async def _register_worker(self, worker: WorkerInfo, ttl: float) -> None: ...

    @abc.abstractmethod
    async def _deregister_worker(self, name: str) -> None: ...

    @abc.abstractmethod
    async def _workers(self) -> list[WorkerInfo]: ...

    @abc.abstractmethod
    async def _set_paused(self, queue: str, paused: bool) -> None: ...

    @abc.abstractmethod
    async def _paused_queues(self) -> frozenset[str]: ...

    @abc.abstractmethod
    async def _outcome_counts(self, since: float) -> list[OutcomeCount]: ...

    @abc.abstractmethod
    async def _counts(self) -> dict[str, dict[JobState, int]]: ...

    @abc.abstractmethod
    async def _backlog(self) -> dict[str, QueueBacklog]: ...

    @abc.abstractmethod
    async def _purge(
        self, states: frozenset[JobState], older_than: float | None, queue: str | None
    ) -> int: ...

    @abc.abstractmethod
    async def _purge_expired(self) -> int: ...

    @abc.abstractmethod
    async def _delete(self, job_ids: Sequence[str]) -> int:
        """Delete the finished jobs among `job_ids` (distinct, at most DELETE_CHUNK) in one
        operation, as a purge deletes each; how many whose record had not expired."""

    @abc.abstractmethod
    async def _now(self) -> float: ...

    # -- notifications inside this process -------------------------------------------------

    def _notify_work(self) -> None:
        if not self._work_waiters:  # no worker of this process waits (a web process)
            return
        with self._waiters_lock:
            waiters = list(self._work_waiters)
        _wake(waiters)

    def _notify_job(self, job_id: str) -> None:
        with self._waiters_lock:
            waiters = list(self._job_waiters.get(job_id, ()))
        _wake(waiters)

    async def _wait_job(self, job_id: str, timeout: float) -> bool:
        """Wait for this process to finish the job; True if woken before `timeout`."""
        with self._waiters_lock:
            waiters = self._job_waiters.setdefault(job_id, set())
        return await self._wait(waiters, job_id, timeout)

    def _has_due(self, queues: Sequence[str]) -> bool:
        """Whether a job of `queues` is due now; backends that wait in this process say."""
        return False

    async def _wait_work(self, timeout: float, due: Callable[[], bool] | None = None) -> bool:
        """Wait for this process to add work; True if woken before `timeout`, or at once
        when `due()` says, once the wait listens, that work is there already."""
        return await self._wait(self._work_waiters, None, timeout, due)

    async def _wait(
        self,
        waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]],
        job_id: str | None,
        timeout: float,
        due: Callable[[], bool] | None = None,
    ) -> bool:
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._waiters_lock:
            waiters.add(entry)
        try:
            if due is not None and due():
                return True
            async with asyncio.timeout(max(0.0, timeout)):
                await entry[1].wait()
            return True
        except TimeoutError:
            return False
        finally:
            with self._waiters_lock:
                waiters.discard(entry)
                if job_id is not None and not waiters:
                    self._job_waiters.pop(job_id, None)


FINISHED = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})
# the states `backlog` counts: the live ones, and the dead letters
BACKLOG_STATES = frozenset({JobState.SCHEDULED, JobState.QUEUED, JobState.ACTIVE, JobState.FAILED})


class _PolledWatch:
    """A watch for backends that cannot push changes: looks again at growing intervals."""

    def __init__(self, backend: Backend, job_id: str, ceiling: float) -> None:
        self._backend = backend
        self._job_id = job_id
        self._ceiling = ceiling
        self._pause = min(0.002, ceiling)

    async def changed(self, timeout: float | None = None) -> None:
        pause = self._pause if timeout is None else min(self._pause, timeout)
        woken = await self._backend._wait_job(self._job_id, pause)
        self._pause = min(0.002, self._ceiling) if woken else min(self._pause * 2, self._ceiling)


def _wake(waiters: Iterable[tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
    for loop, event in waiters:
        with contextlib.suppress(RuntimeError):  # that loop closed; its waiter is gone
            loop.call_soon_threadsafe(event.set)


def check_record(job: JobRecord) -> None:
    """Reject a record no backend should store; the message says what to change."""
    for what, text in (("job id", job.id), ("queue name", job.queue), ("task name", job.task)):
        if not is_utf8(text):
            raise ConfigurationError(
                f"the {what} {text!r} holds characters that are not valid UTF-8 text (a file "
                "name decoded with surrogates?): build it from text, or encode those bytes"
            )
    if not job.id or len(job.id) > 200:
        raise ConfigurationError("a job id must be a non-empty string of at most 200 characters")
    if not job.queue or len(job.queue) > 100:
        raise ConfigurationError("a queue name must be 1 to 100 characters")
    if job.max_attempts < 1:
        raise ConfigurationError("max_attempts must be at least 1")
    if not math.isfinite(job.delay) or job.delay < 0:
        raise ConfigurationError("a delay must be a finite number of seconds, at least 0")
    if abs(job.priority) > PRIORITY_LIMIT:
        raise ConfigurationError(
            f"priority must be from -{PRIORITY_LIMIT} to {PRIORITY_LIMIT}, got {job.priority}"
        )
    for name, seconds in (
        ("timeout", job.timeout), ("result_ttl", job.result_ttl), ("unique_for", job.unique_for),
    ):  # fmt: skip
        if seconds is not None and (not math.isfinite(seconds) or seconds < 0):
            raise ConfigurationError(f"{name} must be a finite number of seconds or None")
    _check_unique(job)
    _check_limit(job)
    _check_rate(job)


def _check_limit(job: JobRecord) -> None:
    if job.limit_key is None:
        if job.limit is not None:
            raise ConfigurationError("a limit needs a limit_key")
        return
    _check_limit_key(job.limit_key)
    if not is_count(job.limit):
        raise ConfigurationError(
            f"a limit must be a whole number from 1 to {MAX_LIMIT}, got {job.limit!r}"
        )


def _check_rate(job: JobRecord) -> None:
    if job.rate_key is None:
        if job.rate_limit is not None or job.rate_period is not None:
            raise ConfigurationError("a rate limit needs a rate_key")
        return
    _check_limit_key(job.rate_key)
    if not is_count(job.rate_limit):
        raise ConfigurationError(
            f"a rate limit must be a whole number of jobs from 1 to {MAX_LIMIT}, "
            f"got {job.rate_limit!r}"
        )
    period = job.rate_period
    if not isinstance(period, int | float) or not 0 < period <= MAX_RATE_PERIOD:
        raise ConfigurationError(
            f"a rate period must be a positive number of seconds, at most "
            f"{MAX_RATE_PERIOD:.0f} (a year), got {period!r}"
        )


def _check_limit_key(key: str) -> None:
    if not key or len(key) > MAX_LIMIT_KEY or not is_utf8(key):
        raise ConfigurationError(
            f"a limit key must be 1 to {MAX_LIMIT_KEY} characters of UTF-8 text"
        )


def is_count(value: object) -> bool:
    """A whole number a limit may be: 1 to MAX_LIMIT."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_LIMIT


def _check_unique(job: JobRecord) -> None:
    if job.unique_key is None:
        if job.unique_until is not None or job.unique_for is not None:
            raise ConfigurationError("unique_until and unique_for need a unique_key")
        return
    if not job.unique_key or len(job.unique_key) > 200 or not is_utf8(job.unique_key):
        raise ConfigurationError("a unique key must be 1 to 200 characters of UTF-8 text")
    if (job.unique_until is None) == (job.unique_for is None):
        raise ConfigurationError("a unique key is released by unique_until or unique_for: give one")


def bucket_tokens(
    rate_limit: int, rate_period: float, stored: tuple[float, float] | None, now: float
) -> float:
    """The tokens in a rate bucket at `now`, from its stored (tokens, at): a bucket never
    seen is full, and one refills at rate_limit per rate_period, up to rate_limit."""
    if stored is None:
        return float(rate_limit)
    tokens, at = stored
    return min(float(rate_limit), tokens + max(0.0, now - at) * rate_limit / rate_period)


def new_record(job: JobRecord, now: float) -> JobRecord:
    """The record of a job just stored: the producer's fields; state and times from `now`.

    Only those: attempts, leases and results are the backend's.
    """
    due_at = now + job.delay
    return JobRecord(
        id=job.id, task=job.task, queue=job.queue, payload=job.payload,
        priority=job.priority, state=JobState.QUEUED if due_at <= now else JobState.SCHEDULED,
        headers=dict(job.headers), max_attempts=job.max_attempts, timeout=job.timeout,
        result_ttl=job.result_ttl, enqueued_at=now, due_at=due_at, unique_key=job.unique_key,
        unique_until=job.unique_until, unique_for=job.unique_for, limit_key=job.limit_key,
        limit=job.limit, rate_key=job.rate_key, rate_limit=job.rate_limit,
        rate_period=job.rate_period,
    )  # fmt: skip


def _check_queue_name(queue: object) -> None:
    if not isinstance(queue, str) or not 0 < len(queue) <= 100:
        raise ConfigurationError(f"a queue name must be 1 to 100 characters, got {queue!r}")


# A listing's order, newest first, and what its cursor holds: (enqueued_at, seq)
ListingKey = tuple[float, int]


def listing_cursor(key: ListingKey) -> str:
    """The cursor of the page after the job at `key`."""
    enqueued_at, seq = key
    return f"{enqueued_at!r}:{seq}"


def listing_key(cursor: str) -> ListingKey:
    """The position a `listing_cursor` names; ValueError for anything else."""
    try:
        enqueued_at, seq = cursor.split(":")
        return float(enqueued_at), int(seq)
    except ValueError:
        raise ValueError(
            f"{cursor!r} is not a cursor of this backend: pass a page's next_cursor"
        ) from None


def outcome_tally(acks: Sequence[Ack], accepted: Sequence[bool]) -> dict[tuple[str, str, str], int]:
    """The accepted acks counted by (queue, task, outcome): one batch's increments of the
    per-minute outcome counters."""
    tally: dict[tuple[str, str, str], int] = {}
    for ack, ok in zip(acks, accepted, strict=True):
        if ok:
            key = (ack.queue, ack.task, COUNTED_OUTCOMES[ack.state])
            tally[key] = tally.get(key, 0) + 1
    return tally


def minute_of(now: float) -> float:
    """The start of the minute `now` falls in, the key of the outcome counters."""
    return now - now % 60.0


def backlog_of_rows(rows: Iterable[tuple[str, str, int, float]]) -> dict[str, QueueBacklog]:
    """Backlogs from SQL rows of (queue, state, jobs, 0) per state, and (queue, "due", jobs,
    age of the oldest) for the queued and scheduled jobs whose time has come: those are the
    queue's `queued`, and the rest of its pending jobs its `scheduled`."""
    found: dict[str, dict[str, tuple[int, float]]] = {}
    for queue, kind, jobs, age in rows:
        found.setdefault(queue, {})[kind] = (jobs, age)
    backlogs: dict[str, QueueBacklog] = {}
    for queue, kinds in found.items():
        due, age = kinds.get("due", (0, 0.0))
        pending = kinds.get("queued", (0, 0.0))[0] + kinds.get("scheduled", (0, 0.0))[0]
        backlogs[queue] = QueueBacklog(
            scheduled=max(0, pending - due),
            queued=due,
            active=kinds.get("active", (0, 0.0))[0],
            failed=kinds.get("failed", (0, 0.0))[0],
            oldest_age=max(0.0, age) if due else 0.0,
        )
    return backlogs


def worker_lost_error(recoveries: int) -> JobError:
    return JobError(
        type="WorkerLost",
        message=(
            f"the job's worker stopped answering {counted(recoveries + 1, 'time')} while "
            "running it; it was dead-lettered so it cannot crash more workers"
        ),
        reason=WORKER_LOST,
    )


def reset_for_retry(record: JobRecord) -> None:
    record.attempts = 0
    record.recoveries = 0
    record.error = None
    record.result = None
    record.finished_at = None
    record.expires_at = None
    record.cancel_requested = False
    record.progress = None
    record.progress_message = None
