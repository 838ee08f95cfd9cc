"""`memory://`: a real backend held in this process's memory, for tests and scripts.

It passes the same contract suite as the durable backends. State lives behind one lock so
it can be shared by the event loop of a worker and the loop that serves sync callers.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from typing import ClassVar

from conveyor.backends.base import (
    BACKLOG_STATES,
    FINISHED,
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
    bucket_tokens,
    listing_cursor,
    listing_key,
    minute_of,
    new_record,
    outcome_tally,
    reset_for_retry,
    worker_lost_error,
)
from conveyor.backends.history import ACKED_OUTCOMES, LEASE_EXPIRED, ended
from conveyor.fair_share import fill, probed
from conveyor.job import PENDING_STATES, JobRecord, JobState

_HeapEntry = tuple[int, float, int, str, int]  # -priority, due_at, seq, job id, version
# (enqueued_at, seq): the order of listings, newest first, and their cursor
_Key = ListingKey


class MemoryBackend(Backend):
    capabilities: ClassVar[Capabilities] = Capabilities(
        shared_across_processes=False, durable=False, pushes_new_work=True, limits=True
    )

    def __init__(self, url: str = "memory://") -> None:
        super().__init__()
        self.url = url
        self._lock = threading.Lock()
        self._jobs: dict[str, JobRecord] = {}
        self._seq: dict[str, int] = {}
        self._version: dict[str, int] = {}
        self._ready: dict[str, list[_HeapEntry]] = {}
        self._scheduled: list[tuple[float, str, int]] = []
        self._unique: dict[str, str] = {}  # unique key -> the last job stored with it
        self._active: dict[str, int] = {}  # limit key -> how many of its jobs are active
        self._buckets: dict[str, tuple[float, float]] = {}  # rate key -> (tokens, at)
        self._freed = False  # a limit slot opened: wake idle workers once the lock is let go
        self._counter = itertools.count(1)  # seqs and versions: never reused, even for an id
        self._registry: dict[str, tuple[WorkerInfo, float]] = {}  # name -> (info, expiry)
        self._paused: set[str] = set()
        # the per-minute outcome counters: (minute, queue, task, outcome) -> attempts
        self._outcomes: dict[tuple[float, str, str, str], int] = {}

    # -- helpers (call with the lock held) ------------------------------------------------

    def _live(self, job_id: str, now: float) -> JobRecord | None:
        record = self._jobs.get(job_id)
        if record is not None and record.expires_at is not None and record.expires_at <= now:
            self._drop(job_id)
            return None
        return record

    def _drop(self, job_id: str) -> None:
        record = self._jobs.pop(job_id, None)
        key = None if record is None else record.unique_key
        if key is not None and self._unique.get(key) == job_id:
            del self._unique[key]
        self._seq.pop(job_id, None)
        self._version.pop(job_id, None)

    def _push(self, record: JobRecord, now: float) -> None:
        self._leave_active(record)
        version = self._version[record.id] = next(self._counter)
        if record.due_at <= now:
            record.state = JobState.QUEUED
            entry = (-record.priority, record.due_at, self._seq[record.id], record.id, version)
            heapq.heappush(self._ready.setdefault(record.queue, []), entry)
        else:
            record.state = JobState.SCHEDULED
            heapq.heappush(self._scheduled, (record.due_at, record.id, version))

    def _promote_due(self, now: float) -> None:
        while self._scheduled and self._scheduled[0][0] <= now:
            _, job_id, version = heapq.heappop(self._scheduled)
            record = self._jobs.get(job_id)
            if record is not None and self._version.get(job_id) == version:
                self._push(record, now)

    def _full(self, record: JobRecord) -> bool:
        key, limit = record.limit_key, record.limit
        return key is not None and limit is not None and self._active.get(key, 0) >= limit

    def _tokens(self, record: JobRecord, now: float) -> float:
        key, rate, period = record.rate_key, record.rate_limit, record.rate_period
        assert key is not None, "a job without a rate limit has no bucket"
        assert rate is not None
        assert period is not None
        return bucket_tokens(rate, period, self._buckets.get(key), now)

    def _has_token(self, record: JobRecord, now: float) -> bool:
        return record.rate_key is None or self._tokens(record, now) >= 1

    def _spend_token(self, record: JobRecord, now: float) -> None:
        if record.rate_key is not None:
            self._buckets[record.rate_key] = (self._tokens(record, now) - 1, now)

    def _runnable(self, record: JobRecord, now: float) -> bool:
        """Whether the job's limits let it start now: a free slot and a token."""
        return not self._full(record) and self._has_token(record, now)

    def _activate(self, record: JobRecord) -> None:
        record.state = JobState.ACTIVE
        if record.limit_key is not None:
            self._active[record.limit_key] = self._active.get(record.limit_key, 0) + 1

    def _leave_active(self, record: JobRecord) -> None:
        """Free the job's slot; call on every way out of ACTIVE, before the state changes."""
        key = record.limit_key
        if key is None or record.state is not JobState.ACTIVE:
            return
        self._freed = True
        left = self._active.get(key, 0) - 1
        if left > 0:
            self._active[key] = left
        else:
            self._active.pop(key, None)

    def _finish(self, record: JobRecord, state: JobState, now: float) -> None:
        self._leave_active(record)
        record.state = state
        record.finished_at = now
        record.lease_token = None
        record.lease_expires_at = None
        self._version[record.id] = next(self._counter)
        if state is not JobState.FAILED and record.result_ttl is not None:
            record.expires_at = now + record.result_ttl

    def _insert(self, job: JobRecord, now: float) -> Enqueued:
        existing = self._live(job.id, now)
        if existing is not None:
            return Enqueued(_observed(existing, now), created=False)
        if job.unique_key is not None:
            holder = self._live(self._unique.get(job.unique_key, ""), now)
            if holder is not None and holder.holds_unique_key(now):
                return Enqueued(_observed(holder, now), created=False)
            self._unique[job.unique_key] = job.id
        record = new_record(job, now)
        self._jobs[record.id] = record
        self._seq[record.id] = next(self._counter)
        self._push(record, now)
        return Enqueued(_copy(record), created=True)

    def _wake_if_freed(self) -> None:
        with self._lock:
            freed, self._freed = self._freed, False
        if freed:
            self._notify_work()

    def _held(self, lease: Lease) -> JobRecord | None:
        record = self._jobs.get(lease.job_id)
        if record is None or record.state is not JobState.ACTIVE:
            return None
        return record if record.lease_token == lease.token else None

    # -- primitives ------------------------------------------------------------------------

    async def _enqueue(self, jobs: Sequence[JobRecord]) -> list[Enqueued]:
        with self._lock:
            now = time.time()
            return [self._insert(job, now) for job in jobs]

    async def _claim(
        self,
        queues: list[str],
        limit: int,
        worker: str,
        lease_seconds: float,
        weights: Mapping[str, int],
    ) -> list[JobRecord]:
        token = secrets.token_hex(8)
        claimed: list[tuple[_HeapEntry, JobRecord]] = []
        # jobs held back by their limits, per queue: set aside, pushed back after the claim
        held: dict[str, list[_HeapEntry]] = {}

        def take(plan: list[tuple[str, int]]) -> list[int]:
            return [take_from(queue, n) for queue, n in plan]

        def take_from(queue: str, n: int) -> int:
            heap, aside = self._ready[queue], held.setdefault(queue, [])
            got = 0
            while got < n and len(aside) <= LIMIT_SCAN:
                while heap and not self._valid(heap[0]):
                    heapq.heappop(heap)
                if not heap:
                    break
                entry = heapq.heappop(heap)
                record = self._jobs[entry[3]]
                if not self._runnable(record, now):
                    aside.append(entry)
                    continue
                self._version[record.id] = next(self._counter)
                self._spend_token(record, now)
                self._activate(record)
                record.attempts += 1
                record.lease_token = token
                record.lease_expires_at = now + lease_seconds
                record.started_at = now
                record.worker = worker
                claimed.append((entry, _copy(record)))
                got += 1
            return got

        with self._lock:
            now = time.time()
            self._promote_due(now)
            wanted = probed(queues, weights, limit)
            ready = itertools.islice(filter(self._has_ready, queues), wanted)
            fill(list(ready), weights, limit, take)
            for queue, entries in held.items():
                for entry in entries:
                    heapq.heappush(self._ready[queue], entry)
        claimed.sort(key=lambda pair: pair[0])  # priority, then age, across the queues
        return [record for _, record in claimed]

    def _has_ready(self, queue: str) -> bool:
        """Whether the queue has ready jobs and is not paused; its stale head dropped."""
        heap = self._ready.get(queue)
        if not heap or queue in self._paused:
            return False
        while heap and not self._valid(heap[0]):
            heapq.heappop(heap)
        return bool(heap)

    def _valid(self, entry: _HeapEntry) -> bool:
        record = self._jobs.get(entry[3])
        return (
            record is not None
            and record.state in PENDING_STATES
            and self._version.get(record.id) == entry[4]
        )

    async def _extend(
        self, leases: Sequence[Lease], lease_seconds: float
    ) -> dict[str, LeaseStatus]:
        statuses: dict[str, LeaseStatus] = {}
        with self._lock:
            now = time.time()
            for lease in leases:
                record = self._held(lease)
                if record is None:
                    statuses[lease.job_id] = LOST
                    continue
                record.lease_expires_at = now + lease_seconds
                statuses[lease.job_id] = LeaseStatus(True, record.cancel_requested)
        return statuses

    async def _ack(self, acks: Sequence[Ack]) -> list[bool]:
        accepted: list[bool] = []
        with self._lock:
            now = time.time()
            for item in acks:
                record = self._held(item.lease)
                if record is None:
                    accepted.append(False)
                    continue
                accepted.append(True)
                if item.state is not JobState.QUEUED:  # handed back unrun: no attempt
                    ended(record, ACKED_OUTCOMES[item.state], now, item.error)
                if item.state is JobState.SCHEDULED or item.state is JobState.QUEUED:
                    if item.state is JobState.QUEUED:
                        record.attempts -= 1  # handed back unrun: the attempt does not count
                    record.lease_token = None
                    record.lease_expires_at = None
                    record.worker = None
                    record.error = item.error or record.error
                    record.due_at = now + item.retry_in
                    self._push(record, now)
                else:
                    record.result = item.result
                    record.error = item.error
                    self._finish(record, item.state, now)
                for follow_up in item.follow_ups:
                    self._insert(follow_up, now)
            minute = minute_of(now)
            for (queue, task, outcome), jobs in outcome_tally(acks, accepted).items():
                key = (minute, queue, task, outcome)
                self._outcomes[key] = self._outcomes.get(key, 0) + jobs
        self._wake_if_freed()
        return accepted

    async def _update_running(self, updates: Sequence[RunningUpdate]) -> list[bool]:
        accepted: list[bool] = []
        with self._lock:
            for update in updates:
                record = self._held(update.lease)
                accepted.append(record is not None)
                if record is None:
                    continue
                if update.progress is not None:
                    record.progress = update.progress
                    record.progress_message = update.message
                if update.checkpoint is not None:
                    record.checkpoint = update.checkpoint
        return accepted

    async def _recover_expired(self, max_recoveries: int) -> Recovered:
        requeued = dead = cancelled = 0
        with self._lock:
            now = time.time()
            for record in list(self._jobs.values()):
                if record.state is not JobState.ACTIVE:
                    continue
                if record.lease_expires_at is None or record.lease_expires_at > now:
                    continue
                ended(record, LEASE_EXPIRED, now, None)
                if record.cancel_requested:  # its worker died: the cancellation wins
                    self._finish(record, JobState.CANCELLED, now)
                    cancelled += 1
                elif record.recoveries >= max_recoveries:
                    record.error = worker_lost_error(record.recoveries)
                    self._finish(record, JobState.FAILED, now)
                    dead += 1
                else:
                    record.recoveries += 1
                    record.lease_token = None
                    record.lease_expires_at = None
                    record.worker = None
                    self._push(record, now)
                    requeued += 1
        self._wake_if_freed()
        return Recovered(requeued, dead, cancelled)

    async def _cancel(self, job_id: str) -> JobRecord | None:
        with self._lock:
            now = time.time()
            record = self._live(job_id, now)
            if record is None:
                return None
            if record.state in PENDING_STATES:
                self._finish(record, JobState.CANCELLED, now)
            elif record.state is JobState.ACTIVE:
                record.cancel_requested = True
            return _copy(record)

    async def _retry(self, job_id: str) -> JobRecord | None:
        with self._lock:
            now = time.time()
            record = self._live(job_id, now)
            if record is None:
                return None
            if record.state in (JobState.FAILED, JobState.CANCELLED):
                reset_for_retry(record)
                record.due_at = now
                self._push(record, now)
            return _copy(record)

    async def _get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            now = time.time()
            record = self._live(job_id, now)
            return None if record is None else _observed(record, now)

    async def _page(self, query: JobFilter) -> JobPage:
        after = None if query.cursor is None else listing_key(query.cursor)
        with self._lock:
            now = time.time()
            live = [r for r in self._jobs.values() if not _expired(r, now)]
            keyed = [((r.enqueued_at, self._seq[r.id]), _observed(r, now)) for r in live]
        matching = [
            (key, seen)
            for key, seen in keyed
            if _matches(seen, query) and (after is None or key < after)
        ]
        matching.sort(key=lambda pair: pair[0], reverse=True)
        found = matching[query.offset : query.offset + query.limit + 1]
        page = found[: query.limit]
        more = len(found) > query.limit and query.limit > 0
        return JobPage([seen for _, seen in page], listing_cursor(page[-1][0]) if more else None)

    async def _register_worker(self, worker: WorkerInfo, ttl: float) -> None:
        with self._lock:
            now = time.time()
            seen = dataclasses.replace(worker, last_seen=now)
            self._registry[worker.name] = (seen, now + ttl)

    async def _deregister_worker(self, name: str) -> None:
        with self._lock:
            self._registry.pop(name, None)

    async def _workers(self) -> list[WorkerInfo]:
        with self._lock:
            now = time.time()
            return [info for info, expiry in self._registry.values() if expiry > now]

    async def _set_paused(self, queue: str, paused: bool) -> None:
        with self._lock:
            if paused:
                self._paused.add(queue)
            else:
                self._paused.discard(queue)

    async def _paused_queues(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._paused)

    async def _outcome_counts(self, since: float) -> list[OutcomeCount]:
        with self._lock:
            return [
                OutcomeCount(minute, queue, task, outcome, jobs)
                for (minute, queue, task, outcome), jobs in self._outcomes.items()
                if minute >= since
            ]

    async def _counts(self) -> dict[str, dict[JobState, int]]:
        counts: dict[str, dict[JobState, int]] = {}
        with self._lock:
            now = time.time()
            for record in self._jobs.values():
                if _expired(record, now):
                    continue
                state = _observed(record, now).state
                per_queue = counts.setdefault(record.queue, {})
                per_queue[state] = per_queue.get(state, 0) + 1
        return counts

    async def _backlog(self) -> dict[str, QueueBacklog]:
        tallies: dict[str, dict[JobState, int]] = {}
        oldest_due: dict[str, float] = {}
        with self._lock:
            now = time.time()
            for record in self._jobs.values():
                state, queue = record.state, record.queue
                if state not in BACKLOG_STATES:
                    continue
                if state is JobState.SCHEDULED and record.due_at <= now:
                    state = JobState.QUEUED
                tally = tallies.setdefault(queue, {})
                tally[state] = tally.get(state, 0) + 1
                if state is JobState.QUEUED:
                    oldest_due[queue] = min(oldest_due.get(queue, now), record.due_at)
        return {
            queue: QueueBacklog(
                scheduled=tally.get(JobState.SCHEDULED, 0),
                queued=tally.get(JobState.QUEUED, 0),
                active=tally.get(JobState.ACTIVE, 0),
                failed=tally.get(JobState.FAILED, 0),
                oldest_age=now - oldest_due.get(queue, now),
            )
            for queue, tally in tallies.items()
        }

    async def _purge(
        self, states: frozenset[JobState], older_than: float | None, queue: str | None
    ) -> int:
        with self._lock:
            now = time.time()
            doomed = [
                r.id
                for r in self._jobs.values()
                if r.state in states
                and (queue is None or r.queue == queue)
                and (older_than is None or (r.finished_at or now) <= now - older_than)
            ]
            for job_id in doomed:
                self._drop(job_id)
        return len(doomed)

    async def _delete(self, job_ids: Sequence[str]) -> int:
        with self._lock:
            now = time.time()
            doomed = [
                job_id
                for job_id in job_ids
                if (record := self._live(job_id, now)) is not None and record.state in FINISHED
            ]
            for job_id in doomed:
                self._drop(job_id)
        return len(doomed)

    async def _purge_expired(self) -> int:
        with self._lock:
            now = time.time()
            for key in [k for k in self._outcomes if k[0] < now - OUTCOME_RETENTION]:
                del self._outcomes[key]
            for name in [n for n, (_, expiry) in self._registry.items() if expiry <= now]:
                del self._registry[name]
            doomed = [r.id for r in self._jobs.values() if _expired(r, now)]
            for job_id in doomed:
                self._drop(job_id)
        return len(doomed)

    async def _now(self) -> float:
        return time.time()

    def _has_due(self, queues: Sequence[str]) -> bool:
        with self._lock:
            now = time.time()
            self._promote_due(now)
            for queue in dict.fromkeys(queues):
                if queue in self._paused:
                    continue  # its jobs are no work until it resumes
                heap = self._ready.get(queue, [])
                while heap and not self._valid(heap[0]):
                    heapq.heappop(heap)
                if heap and self._runnable(self._jobs[heap[0][3]], now):
                    return True
                # a job held back by its limits is not work: look past as many as a claim does
                window = heapq.nsmallest(LIMIT_SCAN + 1, filter(self._valid, heap))
                if any(self._runnable(self._jobs[entry[3]], now) for entry in window):
                    return True
        return False

    async def wait_for_work(self, queues: Sequence[str], timeout: float) -> None:
        with self._lock:
            next_due = self._scheduled[0][0] if self._scheduled else None
        if next_due is not None:
            timeout = min(timeout, max(0.0, next_due - time.time()))
        await super().wait_for_work(queues, timeout)


def _copy(record: JobRecord) -> JobRecord:
    return dataclasses.replace(record, headers=dict(record.headers))


def _expired(record: JobRecord, now: float) -> bool:
    return record.expires_at is not None and record.expires_at <= now


def _matches(seen: JobRecord, query: JobFilter) -> bool:
    """Whether a job, as readers see it, passes every filter of the query."""
    return (
        (query.queue is None or seen.queue == query.queue)
        and (query.state is None or seen.state is query.state)
        and (query.task is None or seen.task == query.task)
        and (query.id_prefix is None or seen.id.startswith(query.id_prefix))
        and (query.since is None or seen.enqueued_at >= query.since)
        and (query.until is None or seen.enqueued_at < query.until)
        and (query.worker is None or seen.worker == query.worker)
    )


def _observed(record: JobRecord, now: float) -> JobRecord:
    """A copy as readers see it: a scheduled job whose time has come reads as queued."""
    seen = _copy(record)
    if seen.state is JobState.SCHEDULED and seen.due_at <= now:
        seen.state = JobState.QUEUED
    return seen
