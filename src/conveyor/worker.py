"""The worker: claims jobs in batches, runs them, and acknowledges them in batches.

One asyncio loop per process. Background loops (acknowledgements, heartbeat, lease
sweeper, cron scheduler) are supervised: if one dies, the worker says why and stops rather
than running half-alive. On SIGTERM or SIGINT it stops claiming, lets running jobs finish
within the grace period, then hands the rest back at once without counting their attempt.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import functools
import logging
import os
import signal
import socket
import time
import traceback
import types
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, Literal, TypeVar

from conveyor.app import Conveyor
from conveyor.backends.base import (
    DEFAULT_MAX_RECOVERIES,
    Ack,
    Backend,
    Lease,
    RunningUpdate,
    WorkerInfo,
)
from conveyor.context import Context
from conveyor.errors import (
    ConfigurationError,
    ProcessTaskError,
    Retry,
    SerializationError,
    TaskTimeout,
)
from conveyor.executor import Executor
from conveyor.fair_share import Rotation, check_weights
from conveyor.job import JobError, JobRecord, JobState
from conveyor.log_fields import job_fields, reset_current_worker, set_current_worker
from conveyor.middleware.base import Outcome
from conveyor.redact import redacted_url, scrubbed
from conveyor.retry import is_retried, retry_delay
from conveyor.scheduler import MAX_PAUSE, Scheduler
from conveyor.secret_args import secret_texts
from conveyor.soft_timeouts import is_soft_timeout
from conveyor.wording import counted
from conveyor.workflow_records import follow_ups as workflow_follow_ups

logger = logging.getLogger("conveyor.worker")
T = TypeVar("T")

StopReason = Literal["cancel_requested", "lease_lost", "shutdown"]
PRESENCE_BEATS = 3  # heartbeats a worker's registration outlives its last renewal by


@dataclasses.dataclass(slots=True)
class _Running:
    worker: Worker
    record: JobRecord
    lease: Lease
    context: Context | None = None
    task: asyncio.Task[None] | None = None
    stop_reason: StopReason | None = None
    in_thread: bool = False  # a thread cannot be cancelled: it only sees ctx.cancelled
    # the call, and what it left: kept here rather than in a closure made per job
    call: Callable[[], Awaitable[bytes]] | None = None
    payload: bytes | None = None  # the encoded result
    follow_ups: Sequence[JobRecord] = ()  # a workflow's next jobs, past the enqueue hooks
    completed: bool = False  # the task returned and its follow-ups passed the hooks
    secrets: Sequence[str] = ()  # its secret arguments' values: no stored error shows them

    async def run(self) -> None:
        """The innermost call of the middleware chain: the task, then a workflow's next
        steps through the enqueue hooks, in the job's context."""
        assert self.call is not None
        self.payload = await self.call()
        if self.stop_reason == "cancel_requested":
            return  # it returned, but only because it was asked to stop
        follow_ups = _next_steps(self.record, self.payload)
        if follow_ups:
            self.follow_ups = await self.worker._through_enqueue_hooks(follow_ups)
        self.completed = True


class Worker:
    """Runs the jobs of some queues. `await worker.run()` until stopped."""

    def __init__(
        self,
        app: Conveyor,
        *,
        queues: Sequence[str] | Mapping[str, int] | None = None,
        concurrency: int = 10,
        burst: bool = False,
        lease: float = 30.0,
        heartbeat: float = 10.0,
        grace: float = 30.0,
        sweep_interval: float = 2.0,
        max_recoveries: int = DEFAULT_MAX_RECOVERIES,
        idle_poll: float = 1.0,
        scheduler: bool = True,
        process_pool: int | None = None,
        max_jobs: int | None = None,
    ) -> None:
        if concurrency < 1:
            raise ConfigurationError("concurrency must be at least 1")
        if not 0 < heartbeat < lease:
            raise ConfigurationError(
                f"the heartbeat ({heartbeat} s) must be shorter than the lease ({lease} s), "
                "or leases lapse under healthy jobs"
            )
        if grace < 0:
            raise ConfigurationError("grace must be >= 0 seconds")
        if process_pool is None:  # started only when a task declared executor="process" runs
            process_pool = min(4, os.cpu_count() or 1)
        if process_pool < 1:
            raise ConfigurationError("process_pool must be at least 1")
        if max_jobs is not None and max_jobs < 1:
            raise ConfigurationError("max_jobs must be at least 1")
        self.app = app
        self.queues = list(dict.fromkeys(queues or _queues_of(app)))
        if not self.queues:
            raise ConfigurationError("no queues to work on: register a task or pass queues=")
        # queue -> weight: its share of each claim when every queue has work (fair_share)
        self.weights = dict(queues) if isinstance(queues, Mapping) else {}
        check_weights(self.queues, self.weights)
        self._rotation = Rotation(self.queues, self.weights)
        self.concurrency = concurrency
        self.burst = burst
        self.lease = lease
        self.heartbeat = heartbeat
        self.grace = grace
        self.sweep_interval = sweep_interval
        self.max_recoveries = max_recoveries
        self.idle_poll = idle_poll
        self.scheduler = scheduler and not burst  # a burst worker ends before ticks matter
        self.name = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(2).hex()}"
        self.state = types.SimpleNamespace()
        self.processed = 0
        self._claims_left = max_jobs  # None: no limit; 0: retiring, claims nothing more
        self._running: dict[str, _Running] = {}
        self._acks: list[Ack] = []
        self._acked_records: list[JobRecord] = []  # the jobs of `_acks`, in the same order
        # the leases of outcomes not yet written (queued or being written): still renewed
        self._unwritten: set[Lease] = set()
        self._updates: dict[str, tuple[RunningUpdate, list[concurrent.futures.Future[None]]]] = {}
        self._outbox = asyncio.Event()
        self._acked = asyncio.Event()  # set while every outcome so far is written
        self._acked.set()
        self._flushes = 0  # writes of outcomes so far: a claim that began before one is stale
        self._slot_freed = asyncio.Event()
        self._stopping = asyncio.Event()
        # the claim loop's task while it waits (see _until_stopped), and whether stop() cancelled it
        self._interruptible: asyncio.Task[Any] | None = None
        self._interrupted = False
        # set when the background loops must end; they check it rather than trusting
        # cancellation alone, which some client libraries swallow mid-call
        self._finished = asyncio.Event()
        self._hurry = False
        self._closing = False
        self._executor = Executor(concurrency, process_pool)
        self._backend: Backend | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def stop(self, hurry: bool = False) -> None:
        """Stop claiming; running jobs get the grace period (none if `hurry`)."""
        self._hurry = self._hurry or hurry
        self._stopping.set()
        if self._interruptible is not None and not self._interrupted:
            self._interrupted = True
            self._interruptible.cancel()

    def retire(self) -> None:
        """Claim no more jobs; `run` returns once the jobs held now are done (finished,
        not handed back: no grace period applies unless a stop comes too)."""
        self._claims_left = 0
        self._slot_freed.set()  # a claim loop waiting for a free slot looks again

    @property
    def retired(self) -> bool:
        """Whether it took its last job: `max_jobs` reached, or `retire()` called."""
        return self._claims_left == 0

    async def run(self, install_signal_handlers: bool = False) -> None:
        # the tasks started below inherit it: every line this worker logs names it
        token = set_current_worker(self.name)
        try:
            await self._run(install_signal_handlers)
        finally:
            reset_current_worker(token)

    async def _run(self, install_signal_handlers: bool) -> None:
        self._loop = asyncio.get_running_loop()
        self._backend = await self.app.connected()
        if install_signal_handlers:
            self._install_signals()
        for hook in self.app.startup_hooks:
            await hook(self.state)
        logger.info(
            "worker %s started: queues %s, concurrency %d, backend %s",
            self.name, ",".join(self.queues), self.concurrency, redacted_url(self.app.url),
        )  # fmt: skip
        flusher = asyncio.create_task(self._flush_loop(), name="acknowledgements")
        loops = [
            flusher,
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
            asyncio.create_task(self._presence_loop(), name="presence"),
            asyncio.create_task(self._sweep_loop(), name="lease sweeper"),
        ]
        if self.scheduler:
            loops.append(asyncio.create_task(self._schedule_loop(), name="scheduler"))
        claimer = asyncio.create_task(self._claim_loop(), name="claimer")
        failure: BaseException | None = None
        try:
            done, _ = await asyncio.wait([claimer, *loops], return_when=asyncio.FIRST_COMPLETED)
            for finished in done:
                if finished is not claimer and not finished.cancelled():
                    failure = finished.exception() or RuntimeError(
                        f"the worker's {finished.get_name()} loop ended unexpectedly"
                    )
                    logger.error("the %s loop died: %r; stopping", finished.get_name(), failure)
                    self.stop(hurry=True)
            if failure is None:
                await claimer
        finally:
            self._stopping.set()
            claimer.cancel()
            await self._drain()
            await self._close_outbox(flusher)
            self._finished.set()
            for background in loops:
                background.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            self._executor.shutdown()
            for hook in self.app.shutdown_hooks:
                await hook(self.state)
            if install_signal_handlers:
                self._remove_signals()
            logger.info("worker %s stopped after %s", self.name, counted(self.processed, "job"))
        if failure is not None:
            raise failure

    def _install_signals(self) -> None:
        assert self._loop is not None
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._loop.add_signal_handler(sig, self._on_signal, sig)

    def _remove_signals(self) -> None:
        assert self._loop is not None
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._loop.remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        if self._stopping.is_set():
            logger.warning("%s again: handing running jobs back now", sig.name)
            self.stop(hurry=True)
            self._slot_freed.set()
            return
        logger.info(
            "%s: no more claims; %d running jobs have %g s to finish",
            sig.name, len(self._running), self.grace,
        )  # fmt: skip
        self.stop()

    async def _drain(self) -> None:
        """Wait out the grace period, then hand back what still runs."""
        deadline = time.monotonic() + (0 if self._hurry else self.grace)
        while self._running and not self._hurry and time.monotonic() < deadline:
            self._slot_freed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(deadline - time.monotonic()):
                    await self._slot_freed.wait()
        leftovers = list(self._running.values())
        for running in leftovers:
            running.stop_reason = "shutdown"
            if running.task is not None:
                running.task.cancel()
        tasks = [r.task for r in leftovers if r.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        for running in leftovers:  # jobs in threads cannot be cancelled: hand them back
            if running.record.id in self._running:
                self._finish(running, Ack(running.lease, JobState.QUEUED))
        if leftovers:
            logger.info("handed %d unfinished jobs back to the queue", len(leftovers))

    # -- claiming --------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        assert self._backend is not None
        backend = self._backend
        # claim in batches: wait for a quarter of the slots to free up (or all to be idle)
        batch_floor = max(1, self.concurrency // 4)
        backoff = 0.05
        while not self._stopping.is_set():
            if self._claims_left == 0:  # retiring: finish what is held, then return
                if not self._running:
                    return
                self._slot_freed.clear()
                await self._until_stopped(self._slot_freed.wait())
                continue
            free = self.concurrency - len(self._running)
            floor = batch_floor
            if self._claims_left is not None:
                free = min(free, self._claims_left)
                floor = min(floor, self._claims_left)
            if free < floor and self._running:
                self._slot_freed.clear()
                await self._until_stopped(self._slot_freed.wait())
                continue
            flushes = self._flushes
            try:
                records = await backend.claim(
                    self._rotation.order(), free, self.name, self.lease, self.weights
                )
            except Exception as exc:  # the backend is away: back off, keep trying
                logger.warning("could not claim jobs (%s); retrying in %.2f s", exc, backoff)
                await self._until_stopped(asyncio.sleep(backoff))
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.05
            self._rotation.advance(len(records))
            if self._claims_left is not None:  # retire() may have zeroed it meanwhile
                self._claims_left = max(0, self._claims_left - len(records))
            for record in records:
                self._start(record)
            # a short batch means the queues ran dry: wait for work rather than ask again
            # (the wait looks once more before it sleeps, so nothing enqueued since is missed)
            if len(records) == free or (records and self.burst):
                continue
            if self.burst:
                if not self._running:
                    # outcomes written during that claim, or still being written, may carry
                    # follow-ups (a chain's next step): look again once they are in
                    if not self._acked.is_set():
                        await self._until_stopped(self._acked.wait())
                        continue
                    if self._flushes != flushes:
                        continue
                    return
                self._slot_freed.clear()
                await self._until_stopped(self._slot_freed.wait())
                continue
            await self._wait_idle()

    async def _until_stopped(self, waiting: Coroutine[Any, Any, T]) -> T | None:
        """`waiting`'s result, or None if a stop request comes first: `stop()` cancels the
        claim loop where it waits. Awaited in place, not as a task of its own, so a job
        handed over while idle starts without the extra turns of the event loop."""
        if self._stopping.is_set():
            waiting.close()
            return None
        self._interruptible = asyncio.current_task()
        try:
            return await waiting
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._interrupted and task is not None and task.uncancel() == 0:
                return None  # the stop request's own cancellation, and no other
            raise
        finally:
            self._interruptible = None

    async def _wait_idle(self) -> None:
        """Wait for work, offering to take the next job: one the store hands over meanwhile
        (leased to this worker by its enqueue) starts at once, as if claimed."""
        assert self._backend is not None
        waiting = self._backend.wait_for_jobs(self.queues, self.idle_poll, self.name, self.lease)
        try:
            handed = await self._until_stopped(waiting)
        except Exception:  # the store is away: the next claim says so
            return
        if handed is None:  # stopping
            return
        if self._claims_left == 0:  # retired meanwhile: back to the queue, unrun
            acks = [Ack(Lease(r.id, r.lease_token or ""), JobState.QUEUED, task=r.task,
                        queue=r.queue) for r in handed]  # fmt: skip
            await self._backend.ack(acks)
            return
        if self._claims_left is not None:
            self._claims_left = max(0, self._claims_left - len(handed))
        for record in handed:
            self._start(record)
        if handed:  # the job starts before the claim that follows is sent
            await asyncio.sleep(0)

    def _start(self, record: JobRecord) -> None:
        assert record.lease_token is not None
        stale = self._running.get(record.id)
        if stale is not None:  # its lease lapsed under an attempt still running here
            logger.warning(
                "job %s: claimed again while an earlier attempt still ran here, past its "
                "lost lease; stopping that attempt",
                record.id,
                extra=job_fields(stale.record),
            )
            self._interrupt(stale, "lease_lost")
            self._stopped(stale)
        running = _Running(self, record, Lease(record.id, record.lease_token))
        self._running[record.id] = running
        running.task = asyncio.create_task(self._execute(running))

    # -- executing -------------------------------------------------------------------------

    async def _execute(self, running: _Running) -> None:
        record = running.record
        sealer = self.app.sealer
        if sealer is not None:  # its signature first: nothing of a forged job is read
            refused = sealer.open(record)
            if refused is not None:
                self._finish(running, Ack(running.lease, JobState.FAILED, error=refused))
                return
        task = self.app.find_task(record.task)
        if task is None:
            error = JobError(
                "UnknownTask",
                f"no task named {record.task!r} is registered on this worker's app",
                reason="unknown_task",
            )
            self._finish(running, Ack(running.lease, JobState.FAILED, error=error))
            return
        if len(record.payload) > self.app.max_payload_bytes:  # written around the client
            error = JobError(
                "PayloadTooLarge",
                f"the stored arguments are {len(record.payload)} bytes, over this app's "
                f"{self.app.max_payload_bytes}-byte limit",
                reason="undecodable",
            )
            self._finish(running, Ack(running.lease, JobState.FAILED, error=error))
            return
        try:
            arguments = task.codec.decode(record.payload)
            args, kwargs = task.call_arguments(arguments)
        except (SerializationError, TypeError) as exc:
            error = JobError(type(exc).__name__, str(exc), reason="undecodable")
            self._finish(running, Ack(running.lease, JobState.FAILED, error=error))
            return
        if task.secret_params:
            running.secrets = secret_texts(arguments, task.secret_params)
        reporter = _Reporter(self, running)
        if task.context_params:
            context = Context(
                job_id=record.id,
                task_name=record.task,
                queue=record.queue,
                attempt=record.attempts,
                max_attempts=record.max_attempts,
                headers=record.headers,
                checkpoint=record.checkpoint,
                reporter=reporter,
                state=self.state,
            )
            running.context = context
            for name in task.context_params:
                kwargs[name] = context
        running.in_thread = not task.is_async and task.config.executor == "thread"
        running.call = functools.partial(
            self._executor.run, task, record, args, kwargs, reporter, running.context
        )
        try:
            await self.app.middleware_chain.execute(record, running.run)
            ours = self._running.get(record.id) is running
            if ours and not running.completed and running.stop_reason != "cancel_requested":
                # a middleware let the job succeed without its result (it swallowed the
                # task's error, or never called call_next()): its result is null, and a
                # workflow goes on from there rather than stopping at a succeeded step
                running.payload = running.payload or b"null"
                follow_ups = _next_steps(record, running.payload)
                if follow_ups:
                    running.follow_ups = await self._through_enqueue_hooks(follow_ups)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            self._stopped(running)
            return
        except Exception as exc:
            if self._running.get(record.id) is not running:
                return  # a thread that ran on once its job was no longer ours: nothing to say
            if running.stop_reason == "cancel_requested":  # a sync task that saw ctx.cancelled
                self._stopped(running)
            elif isinstance(exc, Retry):
                self._retry_or_fail(running, exc, exc.delay)
            elif isinstance(exc, TaskTimeout):
                self._retry_or_fail(running, exc, None, reason="timeout")
            elif isinstance(exc, SerializationError):
                damaged = isinstance(exc, _DamagedWorkflow)
                reason = "undecodable" if damaged else "unencodable_result"
                error = JobError("SerializationError", str(exc), reason=reason)
                error = scrubbed(error, running.secrets)
                self._finish(running, Ack(running.lease, JobState.FAILED, error=error))
            else:
                self._retry_or_fail(running, exc, None)
            return
        finally:
            running.call = None  # it holds the reporter, which holds `running`: no cycle
        if running.stop_reason == "cancel_requested":
            self._stopped(running)
            return
        result = running.payload if running.payload is not None else b"null"
        if sealer is not None:
            result = sealer.result(record.id, result)
        ack = Ack(running.lease, JobState.SUCCEEDED, result=result, follow_ups=running.follow_ups)
        self._finish(running, ack)

    async def _through_enqueue_hooks(self, follow_ups: Sequence[JobRecord]) -> Sequence[JobRecord]:
        """A workflow step's next jobs pass the enqueue hooks; they are stored with the
        step's success, atomically: the hooks' store only says they will be. The jobs as
        they will be stored (signed and encrypted, if the app does)."""

        async def stored_with_the_ack() -> Sequence[bool]:
            return [True] * len(follow_ups)

        await self.app.middleware_chain.enqueue(follow_ups, stored_with_the_ack)
        return self.app.sealed(follow_ups)

    def _stopped(self, running: _Running) -> None:
        reason = running.stop_reason
        if reason == "cancel_requested":
            error = JobError("Cancelled", "cancelled on request while running", reason="cancelled")
            self._finish(running, Ack(running.lease, JobState.CANCELLED, error=error))
        elif reason == "lease_lost":
            if self._running.get(running.record.id) is running:
                self._forget(running)  # another worker owns the job now: write nothing
                self._ended(running.record, "lease_lost", None)
        else:
            self._finish(running, Ack(running.lease, JobState.QUEUED))

    def _retry_or_fail(
        self, running: _Running, exc: BaseException, delay: float | None, reason: str = "exception"
    ) -> None:
        record = running.record
        task = self.app.find_task(record.task)
        assert task is not None  # it ran
        trace: str | None
        if isinstance(exc, ProcessTaskError):  # raised in a child process, carried as text
            type_name, trace = exc.type_name, exc.traceback_text
        else:
            type_name = f"{type(exc).__module__}.{type(exc).__qualname__}"
            trace = None if isinstance(exc, TaskTimeout) else user_traceback(exc)
        if is_soft_timeout(type_name):
            reason = "soft_timeout"
        error = JobError(
            type=type_name.removeprefix("builtins."),
            message=str(exc),
            traceback=trace,
            reason=reason,
        )
        error = scrubbed(error, running.secrets)
        raised = exc.type_name if isinstance(exc, ProcessTaskError) else type(exc)
        retried = isinstance(exc, Retry) or is_retried(task.config.retry_on, raised)
        if retried and record.attempts < record.max_attempts:
            if delay is None:
                delay = retry_delay(task.config.backoff, record.attempts, task.config.backoff_base)
            logger.info(
                "job %s (%s) attempt %d/%d failed: %s; retrying in %.2f s",
                record.id, record.task, record.attempts, record.max_attempts, error.type, delay,
                extra=job_fields(record),
            )  # fmt: skip
            self._finish(
                running, Ack(running.lease, JobState.SCHEDULED, error=error, retry_in=delay)
            )
        else:
            logger.warning(
                "job %s (%s) failed after %s: %s: %s",
                record.id, record.task, counted(record.attempts, "attempt"), error.type,
                error.message,
                extra=job_fields(record),
            )  # fmt: skip
            self._finish(running, Ack(running.lease, JobState.FAILED, error=error))

    def _finish(self, running: _Running, ack: Ack) -> None:
        if self._running.get(running.record.id) is not running:
            return  # already handed back, or its lease was lost: another worker owns it
        self._forget(running)
        self.processed += 1
        ack.task, ack.queue = running.record.task, running.record.queue  # for the counters
        self._acks.append(ack)
        self._acked_records.append(running.record)
        self._unwritten.add(ack.lease)
        self._acked.clear()
        self._outbox.set()

    def _forget(self, running: _Running) -> None:
        self._running.pop(running.record.id, None)
        self._slot_freed.set()

    # -- acknowledgements and progress -----------------------------------------------------

    async def _close_outbox(self, flusher: asyncio.Task[None]) -> None:
        """Let the flusher write what is left; an unwritten outcome reruns after its lease."""
        self._closing = True
        self._outbox.set()
        if flusher.done():
            return
        try:
            async with asyncio.timeout(self.lease):
                await asyncio.shield(flusher)
        except TimeoutError:
            logger.error(
                "could not write %d job outcomes before stopping; those jobs will run again "
                "once their leases expire",
                len(self._acks),
            )

    async def _flush_loop(self) -> None:
        backoff = 0.05
        while True:
            await self._outbox.wait()
            self._outbox.clear()
            try:
                await self._flush()
                backoff = 0.05
                self._flushes += 1
                if not self._acks:
                    self._acked.set()
                if self._closing and not self._acks and not self._updates:
                    return
            except Exception as exc:  # the backend is away: keep the outcomes, try again
                logger.warning("could not acknowledge jobs (%s); retrying in %.2f s", exc, backoff)
                self._outbox.set()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _flush(self) -> None:
        assert self._backend is not None
        # both taken at once: an outcome queued while the updates were being written may
        # follow updates queued meanwhile too (a checkpoint saved just before returning),
        # and must not be written before them, or they would land on a finished job
        updates, self._updates = self._updates, {}
        acks, self._acks = self._acks, []
        records, self._acked_records = self._acked_records, []
        if updates:
            try:
                await self._backend.update_running([u for u, _ in updates.values()])
            except BaseException:
                for job_id, pending in updates.items():
                    self._updates.setdefault(job_id, pending)
                self._acks[:0] = acks
                self._acked_records[:0] = records
                raise
            for _, futures in updates.values():
                for future in futures:
                    if not future.done():
                        future.set_result(None)
        if not acks:
            return
        try:
            accepted = await self._backend.ack(acks)
        except BaseException:
            self._acks[:0] = acks
            self._acked_records[:0] = records
            raise
        self._unwritten.difference_update(ack.lease for ack in acks)
        told = self.app.middleware_chain.listens
        for ack, ok, record in zip(acks, accepted, records, strict=True):
            if not ok:
                logger.warning(
                    "job %s: its lease was lost before the outcome (%s) was written; "
                    "another worker owns it now, so this outcome is dropped",
                    ack.lease.job_id, ack.state, extra=job_fields(record),
                )  # fmt: skip
            if told:
                self._ended(record, _OUTCOMES[ack.state] if ok else "lease_lost", ack.error)

    def _ended(self, record: JobRecord, outcome: Outcome, error: JobError | None) -> None:
        self.app.middleware_chain.job_ended(record, outcome, error)

    def report(
        self,
        running: _Running,
        progress: float | None,
        message: str | None,
        checkpoint: bytes | None,
    ) -> concurrent.futures.Future[None]:
        """Queue a progress or checkpoint write; safe to call from a task's thread."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        assert self._loop is not None
        self._loop.call_soon_threadsafe(
            self._queue_update, running, progress, message, checkpoint, future
        )
        return future

    def _queue_update(
        self,
        running: _Running,
        progress: float | None,
        message: str | None,
        checkpoint: bytes | None,
        future: concurrent.futures.Future[None],
    ) -> None:
        update, futures = self._updates.setdefault(
            running.record.id, (RunningUpdate(running.lease), [])
        )
        if self.app.sealer is not None:
            message, checkpoint = self.app.sealer.update(running.record.id, message, checkpoint)
        if progress is not None:  # progress coalesces: only the latest value is written
            update.progress, update.message = progress, message
        if checkpoint is not None:
            update.checkpoint = checkpoint
        futures.append(future)
        self._outbox.set()

    # -- leases ----------------------------------------------------------------------------

    async def _presence_loop(self) -> None:
        """Keep this worker in the store's registry (the dashboard's list of workers); an
        entry not renewed for PRESENCE_BEATS heartbeats is gone."""
        assert self._backend is not None
        backend = self._backend
        started_at = time.time()
        host, pid = socket.gethostname(), os.getpid()
        try:
            while True:
                info = WorkerInfo(
                    self.name, host, pid, tuple(self.queues), self.concurrency, started_at,
                    processed=self.processed,
                )  # fmt: skip
                try:
                    await backend.register_worker(info, self.heartbeat * PRESENCE_BEATS)
                except Exception as exc:
                    logger.warning("could not renew this worker's registration (%s)", exc)
                if not await self._rest(self.heartbeat):
                    return
        finally:
            with contextlib.suppress(Exception):  # it expires anyway
                async with asyncio.timeout(self.heartbeat):
                    await backend.deregister_worker(self.name)

    async def _heartbeat_loop(self) -> None:
        assert self._backend is not None
        while await self._rest(self.heartbeat):
            running = list(self._running.values())
            # a job that ended keeps its lease until its outcome is written: writes that fall
            # behind (a slow or unreachable store) must not let a sweep hand it to another
            # worker, to run again
            leases = [r.lease for r in running] + list(self._unwritten)
            if not leases:
                continue
            try:
                statuses = await self._backend.extend(leases, self.lease)
            except Exception as exc:
                logger.warning("could not renew leases (%s); will try again", exc)
                continue
            for item in running:
                status = statuses.get(item.record.id)
                if status is None or self._running.get(item.record.id) is not item:
                    continue
                if not status.held:
                    logger.warning(
                        "job %s: lease lost (the worker was paused or cut off past its "
                        "lease); stopping it, another worker may run it",
                        item.record.id,
                        extra=job_fields(item.record),
                    )
                    self._interrupt(item, "lease_lost")
                    if item.in_thread:  # the thread runs on: the job is no longer ours
                        self._stopped(item)
                elif status.cancel_requested and item.stop_reason is None:
                    self._interrupt(item, "cancel_requested")

    def _interrupt(self, running: _Running, reason: StopReason) -> None:
        running.stop_reason = reason
        if running.context is not None:
            running.context._mark_cancelled()
        if running.task is not None and not running.in_thread:
            running.task.cancel()

    async def _sweep_loop(self) -> None:
        assert self._backend is not None
        last_purge: float | None = None  # purge on the first sweep, however long the host is up
        while True:
            try:
                recovered = await self._backend.recover_expired(self.max_recoveries)
                if recovered.requeued or recovered.dead or recovered.cancelled:
                    logger.warning(
                        "expired leases: %s requeued, %d dead-lettered as worker_lost, "
                        "%d cancelled as requested",
                        counted(recovered.requeued, "job"), recovered.dead, recovered.cancelled,
                    )  # fmt: skip
                if last_purge is None or time.monotonic() - last_purge > 60:
                    await self._backend.purge_expired()
                    last_purge = time.monotonic()
            except Exception as exc:
                logger.warning("lease sweep failed (%s); will try again", exc)
            if not await self._rest(self.sweep_interval):
                return

    async def _schedule_loop(self) -> None:
        assert self._backend is not None
        scheduler = Scheduler(self.app)
        while True:
            pause = MAX_PAUSE
            try:
                if self.app.schedules:
                    started, now = time.monotonic(), await self._backend.now()
                    await scheduler.enqueue_due(now)
                    # the round's own time counts, so the next look lands just after a tick
                    pause = scheduler.pause(now + time.monotonic() - started)
            except Exception as exc:
                logger.warning("cron round failed (%s); will try again", exc)
                pause = 1.0
            if not await self._rest(pause):
                return

    async def _rest(self, seconds: float) -> bool:
        """Sleep between two rounds of a background loop; False once the worker finished."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._finished.wait()
        return not self._finished.is_set()


_OUTCOMES: dict[JobState, Outcome] = {
    JobState.SUCCEEDED: "succeeded",
    JobState.FAILED: "failed",
    JobState.SCHEDULED: "retried",
    JobState.CANCELLED: "cancelled",
    JobState.QUEUED: "handed_back",
}


class _DamagedWorkflow(SerializationError):
    """A job's workflow headers cannot be read: its next steps cannot be made."""


def _next_steps(record: JobRecord, payload: bytes) -> Sequence[JobRecord]:
    """A workflow step's next jobs (none for a job outside a workflow)."""
    try:
        return workflow_follow_ups(record, payload)
    except SerializationError as exc:
        raise _DamagedWorkflow(str(exc)) from None


class _Reporter:
    __slots__ = ("_running", "_worker")

    def __init__(self, worker: Worker, running: _Running) -> None:
        self._worker = worker
        self._running = running

    def report(
        self, progress: float | None, message: str | None, checkpoint: bytes | None
    ) -> concurrent.futures.Future[None]:
        return self._worker.report(self._running, progress, message, checkpoint)


_MACHINERY = tuple(
    os.path.dirname(path) + os.sep
    for path in (asyncio.__file__, concurrent.futures.__file__, __file__)
)


def user_traceback(exc: BaseException) -> str:
    """The traceback from the task's own frames down, without the worker's machinery."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_MACHINERY):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


def _queues_of(app: Conveyor) -> list[str]:
    queues = {task.config.queue for task in app.tasks.values()}
    queues |= {schedule.call.record.queue for schedule in app.schedules.values()}
    return sorted(queues) or [app.default_queue]


async def run_worker(app: Conveyor, **options: Any) -> None:
    """Run a worker with signal handling until SIGTERM or SIGINT (or the end of a burst)."""
    await Worker(app, **options).run(install_signal_handlers=True)
