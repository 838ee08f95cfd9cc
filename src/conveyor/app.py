"""Conveyor: the app object. Configuration, the task registry and the client side."""

from __future__ import annotations

import datetime
import functools
import inspect
import os
import threading
import types
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any, ParamSpec, Protocol, TypeVar, Unpack, cast, overload

from conveyor.backends import Backend, from_url
from conveyor.backends.base import Enqueued
from conveyor.errors import ConfigurationError
from conveyor.job import JobHandle, JobRecord
from conveyor.job_ids import check_id
from conveyor.middleware.base import Middleware
from conveyor.middleware.chain import MiddlewareChain
from conveyor.middleware.job_context import JobContext
from conveyor.portal import Portal
from conveyor.redact import redacted_url
from conveyor.retry import Backoff
from conveyor.scheduler import (
    MissedTicks,
    Schedule,
    ScheduleOptions,
    check_timing,
    make_schedule,
)
from conveyor.sealing import Sealer, opened_result
from conveyor.task import AsyncTask, Signature, SyncExecutor, Task, TaskConfig
from conveyor.unique import Unique
from conveyor.workflow_handle import WorkflowHandle
from conveyor.workflow_records import JOIN_TASK, join_task

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_URL = "sqlite:///./conveyor.db"
Q = ParamSpec("Q")
T = TypeVar("T")
TaskT = TypeVar("TaskT", bound=Task[Any, Any])
Hook = Callable[[types.SimpleNamespace], Awaitable[None]]


class TaskDecorator(Protocol):
    @overload
    def __call__(self, func: Callable[Q, Coroutine[Any, Any, T]], /) -> AsyncTask[Q, T]: ...

    @overload
    def __call__(self, func: Callable[Q, T], /) -> Task[Q, T]: ...


class CronDecorator(Protocol):
    @overload
    def __call__(self, func: TaskT, /) -> TaskT: ...

    @overload
    def __call__(self, func: Callable[Q, Coroutine[Any, Any, T]], /) -> AsyncTask[Q, T]: ...

    @overload
    def __call__(self, func: Callable[Q, T], /) -> Task[Q, T]: ...


class Conveyor:
    """Holds the backend URL and the tasks. Creating it does no I/O."""

    def __init__(
        self,
        url: str | None = None,
        *,
        default_queue: str = "default",
        max_payload_bytes: int = 1_000_000,
        middleware: Sequence[Middleware] = (),
        signing_keys: Sequence[bytes] | None = None,
        encryption_keys: Sequence[bytes] | None = None,
    ) -> None:
        """url: the backend (default $CONVEYOR_URL, else a SQLite file ./conveyor.db).
        middleware: wraps every enqueue and execution, outermost first (see
        `conveyor.middleware.Middleware`). signing_keys: every job stored is signed with
        the first (HMAC-SHA256), and a worker runs only jobs signed by one of them.
        encryption_keys: arguments, results, checkpoints and progress messages are stored
        encrypted with the first (AES-256-GCM) and read with any (needs
        `conveyor[encryption]`). Keys are random bytes, at least 32 (exactly 32 to
        encrypt), newest first: to rotate, put the new key first and keep the old ones
        listed while jobs they wrote remain."""
        self.url = url or os.environ.get("CONVEYOR_URL") or DEFAULT_URL
        self.default_queue = default_queue
        if max_payload_bytes <= 0:
            raise ConfigurationError("max_payload_bytes must be positive")
        self.max_payload_bytes = max_payload_bytes
        # None without keys: then a job costs nothing more to store or run
        self.sealer: Sealer | None = None
        if signing_keys is not None or encryption_keys is not None:
            self.sealer = Sealer(signing_keys, encryption_keys, max_payload_bytes)
        self.tasks: dict[str, Task[Any, Any]] = {}
        # this process's schedules: the workers started here enqueue their ticks
        self.schedules: dict[str, Schedule] = {}
        self.startup_hooks: list[Hook] = []
        self.shutdown_hooks: list[Hook] = []
        self._backend: Backend | None = None
        self._backend_lock = threading.Lock()
        self._portal: Portal | None = None
        self.middleware_chain = MiddlewareChain([JobContext()])
        if isinstance(middleware, str | bytes | Middleware) or not isinstance(middleware, Iterable):
            raise ConfigurationError(
                f"middleware must be a list of Middleware instances, got {middleware!r}"
            )
        for item in middleware:
            self.add_middleware(item)

    def __repr__(self) -> str:
        return f"<Conveyor {redacted_url(self.url)} tasks={len(self.tasks)}>"

    # -- tasks -----------------------------------------------------------------------------

    @overload
    def task(self, func: Callable[P, Coroutine[Any, Any, R]], /) -> AsyncTask[P, R]: ...

    @overload
    def task(self, func: Callable[P, R], /) -> Task[P, R]: ...

    @overload
    def task(
        self,
        *,
        name: str | None = None,
        queue: str | None = None,
        priority: int = 0,
        retries: int = 3,
        backoff: Backoff = "exponential",
        backoff_base: float = 1.0,
        retry_on: Sequence[type[BaseException]] | None = None,
        timeout: float | None = None,
        soft_timeout: float | None = None,
        result_ttl: float | None = 86400.0,
        job_id: str | Callable[..., str] | None = None,
        executor: SyncExecutor = "thread",
        unique: Unique | None = None,
        concurrency: int | None = None,
        concurrency_key: Callable[..., Any] | None = None,
        rate_limit: str | None = None,
        secret_args: Sequence[str] = (),
    ) -> TaskDecorator: ...

    def task(
        self,
        func: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        queue: str | None = None,
        priority: int = 0,
        retries: int = 3,
        backoff: Backoff = "exponential",
        backoff_base: float = 1.0,
        retry_on: Sequence[type[BaseException]] | None = None,
        timeout: float | None = None,
        soft_timeout: float | None = None,
        result_ttl: float | None = 86400.0,
        job_id: str | Callable[..., str] | None = None,
        executor: SyncExecutor = "thread",
        unique: Unique | None = None,
        concurrency: int | None = None,
        concurrency_key: Callable[..., Any] | None = None,
        rate_limit: str | None = None,
        secret_args: Sequence[str] = (),
    ) -> Task[Any, Any] | TaskDecorator:
        """Register a function as a task. Every option has a default.

        retries: attempts after the first (0 = run once). backoff: "constant", "linear",
        "exponential" (with jitter, the default) or a callable of the attempt number;
        backoff_base: its unit in seconds. retry_on: the exceptions worth another attempt
        (Celery's autoretry_for); any other fails the job at once. None, the default,
        retries every exception; `raise Retry(...)` is always retried. timeout: seconds per
        attempt (the task is
        stopped). soft_timeout: seconds per attempt before the task is told to wrap up,
        shorter than timeout if both are set: `SoftTimeout` is raised inside an async or
        process task, a sync task in a thread sees `ctx.soft_timeout_expired`. result_ttl:
        seconds a finished job's record and result are kept (None keeps them).
        job_id: a format string over the arguments, or a callable taking them, that
        derives a job id, making enqueue idempotent. executor: where a sync task runs,
        "thread" (the default) or "process" (a pool of child processes the worker can kill
        on a timeout or a cancel request; the function must be defined at module level).
        unique: "until_started", "until_finished" or a timedelta: while a job of the same
        call (task and arguments) is pending, pending or running, or was enqueued less than
        that long ago, enqueue returns that job instead of storing another.
        concurrency: at most this many of the task's jobs run at once, across every
        worker; with concurrency_key (a callable taking the arguments, returning a str),
        at most this many per key, so one tenant cannot take every slot. rate_limit:
        "100/m" (per s, m, h or d, or "5/10s") starts at most that many a period across
        every worker. A job held back by a limit waits without using an attempt.
        secret_args: parameters whose values conveyor never shows (in logs, the CLI, the
        dashboard, stored errors), as it never shows those typed `pydantic.SecretStr`,
        `SecretBytes` or `Secret`.
        """
        config = TaskConfig(
            queue=queue or self.default_queue,
            priority=priority,
            retries=retries,
            backoff=backoff,
            backoff_base=backoff_base,
            # a list or tuple as a tuple; anything else as given, for the check to name
            retry_on=tuple(retry_on) if isinstance(retry_on, list | tuple) else retry_on,  # type: ignore[arg-type]
            timeout=timeout,
            soft_timeout=soft_timeout,
            result_ttl=result_ttl,
            job_id=job_id,
            executor=executor,
            unique=unique,
            concurrency=concurrency,
            concurrency_key=concurrency_key,
            rate_limit=rate_limit,
            secret_args=secret_args,
        )

        def register(fn: Callable[..., Any]) -> Task[Any, Any]:
            if not callable(fn):
                raise ConfigurationError(f"@app.task needs a function, got {fn!r}")
            task_name = name or f"{fn.__module__}.{fn.__qualname__}"
            if "<locals>" in task_name and name is None:
                raise ConfigurationError(
                    f"{fn.__qualname__} is defined inside a function, so workers cannot find "
                    "it by name: define it at module level or pass @app.task(name=...)"
                )
            if task_name in self.tasks:
                raise ConfigurationError(
                    f"a task named {task_name!r} is already registered; pass name=... to "
                    "tell them apart"
                )
            kind = AsyncTask if inspect.iscoroutinefunction(fn) else Task
            task: Task[Any, Any] = kind(self, fn, task_name, config)
            self.tasks[task_name] = task
            return task

        return register(func) if func is not None else cast(TaskDecorator, register)

    # -- schedules -------------------------------------------------------------------------

    def cron(
        self,
        expression: str,
        *,
        timezone: str | datetime.tzinfo = "UTC",
        name: str | None = None,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        missed: MissedTicks = "once",
        **options: Unpack[ScheduleOptions],
    ) -> CronDecorator:
        """Enqueue a task at every tick of a cron expression, once however many workers run.

        Decorates a function (registered as a task with default options) or a task.
        expression: 5 fields ("*/5 * * * *"), or 6 with seconds first. timezone: an IANA
        name the expression is read in. name: the schedule's (default: the task's).
        args/kwargs: the call's arguments, checked now. missed: "once" (after downtime
        the latest missed tick runs once) or "skip" (missed ticks never run). options:
        queue, priority, retries, timeout, headers of every job of the schedule.
        """
        unknown = set(options) - set(ScheduleOptions.__annotations__)
        if unknown:
            raise ConfigurationError(
                f"@app.cron: unknown option(s) {sorted(unknown)}; valid options are "
                f"{sorted(ScheduleOptions.__annotations__)}"
            )
        # the expression and timezone are checked here, before any task is registered
        check_timing(expression, timezone, missed, f"@app.cron({expression!r})")

        def decorate(target: Any) -> Any:
            task = target if isinstance(target, Task) else self.task(target)
            if task.app is not self:
                raise ConfigurationError(f"{task.name} belongs to another Conveyor app")
            try:
                call = task.options(**options).s(*args, **dict(kwargs or {}))
                self.add_schedule(
                    name or task.name, expression, call, timezone=timezone, missed=missed
                )
            except Exception:
                if task is not target:  # registered just now: leave nothing half-done
                    del self.tasks[task.name]
                raise
            return task

        return cast(CronDecorator, decorate)

    def add_schedule(
        self,
        name: str,
        expression: str,
        call: Signature[Any],
        *,
        timezone: str | datetime.tzinfo = "UTC",
        missed: MissedTicks = "once",
    ) -> Schedule:
        """Enqueue `call` (`task.s(...)` or `task.options(...).s(...)`) at every tick.

        Schedules live in this process: workers started in it (or that add the same
        schedule, for instance in an `on_startup` hook) enqueue its ticks.
        """
        schedule = make_schedule(name, expression, call, timezone=timezone, missed=missed)
        if call.task.app is not self:
            raise ConfigurationError(f"{call.task.name} belongs to another Conveyor app")
        if name in self.schedules:
            raise ConfigurationError(
                f"a schedule named {name!r} exists already; remove_schedule({name!r}) first, "
                "or pass another name"
            )
        self.schedules[name] = schedule
        return schedule

    def remove_schedule(self, name: str) -> Schedule:
        """Stop enqueuing a schedule's ticks (jobs already enqueued still run)."""
        try:
            return self.schedules.pop(name)
        except KeyError:
            known = ", ".join(sorted(self.schedules)) or "none"
            raise ConfigurationError(f"no schedule named {name!r}; known: {known}") from None

    def on_startup(self, hook: Hook) -> Hook:
        """Run `hook(state)` when a worker starts; tasks see `state` as `ctx.state`."""
        self.startup_hooks.append(hook)
        return hook

    def on_shutdown(self, hook: Hook) -> Hook:
        """Run `hook(state)` when a worker stops, after its last job."""
        self.shutdown_hooks.append(hook)
        return hook

    def add_middleware(self, middleware: Middleware) -> None:
        """Add a middleware inside those already there (before workers start)."""
        if isinstance(middleware, type) and issubclass(middleware, Middleware):
            name = middleware.__name__
            raise ConfigurationError(f"{name} is a Middleware class: pass an instance, {name}()")
        if not isinstance(middleware, Middleware):
            raise ConfigurationError(
                f"middleware must be instances of conveyor.middleware.Middleware, got "
                f"{middleware!r}"
            )
        self.middleware_chain = MiddlewareChain([*self.middleware_chain.middleware, middleware])

    @property
    def middleware(self) -> tuple[Middleware, ...]:
        """The app's middleware, outermost first (conveyor's correlation ids included)."""
        return self.middleware_chain.middleware

    # -- the backend -----------------------------------------------------------------------

    @property
    def backend(self) -> Backend:
        with self._backend_lock:
            if self._backend is None:
                self._backend = from_url(self.url)
            return self._backend

    @property
    def portal(self) -> Portal:
        with self._backend_lock:
            if self._portal is None:
                self._portal = Portal()
            return self._portal

    async def open(self) -> Conveyor:
        """Connect to the backend (done on first use anyway)."""
        await self.backend.open()
        return self

    async def connected(self) -> Backend:
        """The backend, opened."""
        backend = self.backend
        await backend.open()
        return backend

    async def close(self) -> None:
        if self._backend is not None:
            await self._backend.close()
        if self._portal is not None:
            self._portal.close()
            self._portal = None

    async def __aenter__(self) -> Conveyor:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- producing -------------------------------------------------------------------------

    async def enqueue_many(
        self, calls: Iterable[Signature[R]], *, connection: object | None = None
    ) -> list[JobHandle[R]]:
        """Store many checked calls (`task.s(...)`) in one backend operation.

        With `connection`, a database connection or session of yours with a transaction
        open, the jobs are stored in that transaction: they exist if and only if it commits
        (PostgreSQL only).
        """
        signatures = list(calls)
        for call in signatures:
            if not isinstance(call, Signature):
                raise TypeError(f"enqueue_many takes task.s(...) signatures, got {call!r}")
            if call.task.app is not self:
                raise ConfigurationError(f"{call.task.name} belongs to another Conveyor app")
        stored = await self.store([s.record for s in signatures], connection)
        return [JobHandle(self, item.record.id, item.record.task, item.created) for item in stored]

    async def store(
        self, records: Sequence[JobRecord], connection: object | None = None
    ) -> list[Enqueued]:
        """Store checked records through the middleware's enqueue hooks."""
        backend = await self.connected()
        stored: list[Enqueued] = []

        async def write() -> list[bool]:
            sealed = self.sealed(records)  # after the hooks: they may add headers
            if connection is None:
                stored[:] = await backend.enqueue(sealed)
            else:
                stored[:] = await backend.enqueue_in(connection, sealed)
            return [item.created for item in stored]

        await self.middleware_chain.enqueue(records, write)
        return stored

    def sealed(self, records: Sequence[JobRecord]) -> Sequence[JobRecord]:
        """`records` as the store must hold them: signed and encrypted, if this app does."""
        return records if self.sealer is None else self.sealer.seal(records)

    def readable(self, record: JobRecord) -> JobRecord:
        """A stored record with what this app's keys decrypt decrypted."""
        return record if self.sealer is None else self.sealer.readable(record)

    def opened_result(self, record: JobRecord) -> bytes | None:
        """A job's stored result, decrypted if it was encrypted."""
        return opened_result(self.sealer, record)

    def enqueue_many_sync(
        self, calls: Iterable[Signature[R]], *, connection: object | None = None
    ) -> list[JobHandle[R]]:
        return self.portal.call(self.enqueue_many(calls, connection=connection))

    def job(self, job_id: str) -> JobHandle[Any]:
        """A handle on an existing job, by id."""
        return JobHandle(self, check_id(job_id, "a job id"), "?")

    def workflow(self, workflow_id: str) -> WorkflowHandle:
        """A handle on an existing workflow (chain, group or chord), by id."""
        return WorkflowHandle(self, check_id(workflow_id, "a workflow id"))

    def find_task(self, name: str) -> Task[Any, Any] | None:
        """The task a job names: a registered one, or conveyor's own (the chord's join)."""
        task = self.tasks.get(name)
        if task is None and name == JOIN_TASK:
            return self._join_task
        return task

    @functools.cached_property
    def _join_task(self) -> Task[Any, Any]:
        return join_task(self)

    def decode_result(self, record: JobRecord) -> Any:
        result = self.opened_result(record)
        if result is None:
            return None
        task = self.tasks.get(record.task)
        if task is None:
            from conveyor.serialization import ANY_VALUE

            return ANY_VALUE.decode(result)
        return task.result_codec.decode(result)

    def task_names(self) -> Sequence[str]:
        return sorted(self.tasks)
