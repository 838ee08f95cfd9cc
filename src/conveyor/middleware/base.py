"""The middleware seam: what a middleware sees of a job, and the hooks it may define."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Literal, Protocol

from conveyor.job import JobError

# How one attempt of a job ended, as written to the store:
#   succeeded, failed (retries spent, or a job that cannot run), retried (failed, will run
#   again), cancelled, lease_lost (another worker owns the job now: this attempt's outcome
#   was dropped), handed_back (the worker stopped before the job finished: it runs again,
#   its attempt not counted)
Outcome = Literal["succeeded", "failed", "retried", "cancelled", "lease_lost", "handed_back"]
OUTCOMES: tuple[Outcome, ...] = (
    "succeeded",
    "failed",
    "retried",
    "cancelled",
    "lease_lost",
    "handed_back",
)


class _Named(Protocol):
    """What every job a middleware sees has: its id, task, queue and priority."""

    @property
    def id(self) -> str: ...
    @property
    def task(self) -> str: ...
    @property
    def queue(self) -> str: ...
    @property
    def priority(self) -> int: ...


class OutgoingJob(_Named, Protocol):
    """A job about to be stored. Its headers may be changed; the rest is read-only."""

    @property
    def delay(self) -> float: ...  # seconds before it is due
    @property
    def headers(self) -> MutableMapping[str, str]: ...


class Job(_Named, Protocol):
    """A claimed job, read-only. Times are the backend's clock, in epoch seconds."""

    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def attempts(self) -> int: ...  # this attempt's number: 1 for the first run
    @property
    def max_attempts(self) -> int: ...
    @property
    def enqueued_at(self) -> float: ...
    @property
    def due_at(self) -> float: ...
    @property
    def started_at(self) -> float | None: ...  # when this attempt was claimed
    @property
    def worker(self) -> str | None: ...  # the name of the worker running it


class Middleware:
    """Wraps what happens to jobs. Subclass it and define the hooks you need.

    `Conveyor(middleware=[outer, inner])` nests them like an onion: `outer.enqueue` runs
    first and calls `call_next()`, which runs `inner.enqueue`, which calls the store;
    `execute` nests the same way around the task; `job_ended` is told innermost first
    (the order in which the hooks unwind). conveyor's own correlation-id middleware is
    always the outermost.

    enqueue: around the storing of one batch of jobs (a call to `enqueue`, `enqueue_many`,
    a cron tick, a workflow's next steps). It runs before anything is stored and may add
    headers; what it raises reaches the caller, and nothing is stored. `call_next()`
    returns, for each job, whether it was stored anew (False: a job with its id or unique
    key was there already); return that. A workflow's next steps are stored with the
    outcome of the step before them, after this hook returns.

    execute: around one attempt of one job, in the worker's event loop (a sync task's
    thread, or a process task's child process, runs inside it). `await call_next()` runs
    the task; an exception raised here, or let through from the task, counts as the task
    raising and follows its retry policy. Returning without raising lets the job succeed,
    with a null result if the task did not return (its error was swallowed, or `call_next()`
    was never called); a workflow goes on from there, the next step given None.

    job_ended: told how each attempt ended once its outcome is written (or, for
    `lease_lost`, known). It cannot change the outcome; what it raises is logged and
    ignored. It runs in the worker's loop: keep it quick, and start a task for slow work.
    `error` is the failure behind `failed` and `retried` (and a cancelled job's reason).
    """

    async def enqueue(
        self, jobs: Sequence[OutgoingJob], call_next: Callable[[], Awaitable[Sequence[bool]]]
    ) -> Sequence[bool]:
        return await call_next()

    async def execute(self, job: Job, call_next: Callable[[], Awaitable[None]]) -> None:
        await call_next()

    def job_ended(self, job: Job, outcome: Outcome, error: JobError | None) -> None:
        pass
