"""Tasks: plain functions registered on an app, with options and call-site checks."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import inspect
import math
import re
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Generic,
    Literal,
    ParamSpec,
    TypedDict,
    TypeVar,
    Unpack,
    cast,
    get_type_hints,
)

from conveyor.celery_calls import celery_call
from conveyor.context import Context
from conveyor.errors import ArgumentError, ConfigurationError, PayloadTooLarge
from conveyor.job import PRIORITY_LIMIT, JobHandle, JobRecord
from conveyor.job_ids import check_id, new_id
from conveyor.limits import apply_limits, check_limits
from conveyor.retry import Backoff, check_backoff, check_retry_on
from conveyor.secret_args import SECRET_ARGS_HEADER, secret_params
from conveyor.serialization import ArgumentCodec, ValueCodec
from conveyor.soft_timeouts import SOFT_TIMEOUT_HEADER, check_soft_timeout
from conveyor.unique import Unique, check_unique, make_unique

if TYPE_CHECKING:
    from conveyor.app import Conveyor

P = ParamSpec("P")
Q = ParamSpec("Q")
R = TypeVar("R")

# where a sync task runs: a thread of the worker, or a child process the worker can kill
SyncExecutor = Literal["thread", "process"]

QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


class EnqueueOptions(TypedDict, total=False):
    """Options for one enqueue, kept apart from the task's own arguments."""

    delay: float | datetime.timedelta  # seconds from now before the job is due
    eta: datetime.datetime  # when the job is due (timezone-aware)
    job_id: str  # makes enqueue idempotent: a live job with this id is returned instead
    unique: Unique | None  # while a job of the same call holds it, enqueue returns that job
    priority: int  # higher runs first
    queue: str
    retries: int
    timeout: float | None
    soft_timeout: float | None  # seconds before the task is told to wrap up (< timeout)
    headers: Mapping[str, str]
    # enqueue inside the caller's open transaction on this connection (PostgreSQL only): a
    # psycopg (Async)Connection or a SQLAlchemy (Async)Session or (Async)Connection
    connection: object


@dataclasses.dataclass(frozen=True, slots=True)
class TaskConfig:
    """A task's defaults, set by `@app.task(...)`."""

    queue: str = "default"
    priority: int = 0
    retries: int = 3
    backoff: Backoff = "exponential"
    backoff_base: float = 1.0
    # the exceptions retried (None: every one); any other fails the job at once
    retry_on: tuple[type[BaseException], ...] | None = None
    timeout: float | None = None
    soft_timeout: float | None = None  # the task is told: SoftTimeout, or ctx.soft_timeout_expired
    result_ttl: float | None = 86400.0
    job_id: str | Callable[..., str] | None = None
    executor: SyncExecutor = "thread"
    unique: Unique | None = None
    concurrency: int | None = None  # at most this many running at once, across every worker
    concurrency_key: Callable[..., Any] | None = None  # ... per key of the arguments
    rate_limit: str | None = None  # "100/m": at most 100 started a minute, across every worker
    secret_args: Sequence[str] = ()  # parameters never shown (besides those typed SecretStr...)

    def check(self, name: str) -> None:
        where = f"task {name!r}"
        _check_queue(self.queue, where)
        _check_priority(self.priority, where)
        _check_retries(self.retries, where)
        check_backoff(self.backoff)
        check_retry_on(self.retry_on, where)
        if self.backoff_base < 0:
            raise ConfigurationError(f"{where}: backoff_base must be >= 0 seconds")
        _check_timeout(self.timeout, where)
        if self.result_ttl is not None and (not _is_number(self.result_ttl) or self.result_ttl < 0):
            raise ConfigurationError(
                f"{where}: result_ttl must be a finite number of seconds >= 0, or None (keep)"
            )
        check_unique(self.unique, where)
        check_limits(name, self.concurrency, self.concurrency_key, self.rate_limit)
        if self.unique is not None and self.job_id is not None:
            raise ConfigurationError(f"{where}: give job_id or unique, not both")
        if self.executor not in ("thread", "process"):
            raise ConfigurationError(
                f"{where}: executor must be 'thread' or 'process', got {self.executor!r}"
            )


class Task(Generic[P, R]):
    """A registered task. Call it to run inline; `enqueue` it to run on a worker."""

    def __init__(
        self, app: Conveyor, func: Callable[P, Any], name: str, config: TaskConfig
    ) -> None:
        config.check(name)
        self.app = app
        self.func = func
        self.name = name
        self.config = config
        self.is_async = inspect.iscoroutinefunction(func)
        if config.executor == "process":
            _check_importable(func, name, self.is_async)
        hints = _hints(func)
        signature = inspect.signature(func, eval_str=True)
        self.context_params = frozenset(
            n for n, p in signature.parameters.items() if hints.get(n) is Context
        )
        self._full_signature = signature
        self.signature = signature.replace(
            parameters=[p for n, p in signature.parameters.items() if n not in self.context_params]
        )
        kinds = [p.kind for p in self.signature.parameters.values()]
        plain = all(k is inspect.Parameter.POSITIONAL_OR_KEYWORD for k in kinds)
        # every argument given positionally to a plain signature binds without inspect
        self._plain_names = tuple(self.signature.parameters) if plain else None
        self._required = frozenset(
            n for n, p in self.signature.parameters.items() if p.default is inspect.Parameter.empty
        )
        self.secret_params = secret_params(
            hints, self.signature.parameters, config.secret_args, f"task {name!r}"
        )
        # the job names them, for readers that do not know this task
        self._secret_header = ",".join(sorted(self.secret_params))
        self.codec = ArgumentCodec(func, skip=self.context_params, secret=self.secret_params)
        self.check_soft_timeout(config.soft_timeout, config.timeout, f"task {name!r}")
        self.result_codec = ValueCodec(hints.get("return", Any))
        functools.update_wrapper(self, func)

    def __repr__(self) -> str:
        return f"<Task {self.name}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the function here and now, as a plain call (how tasks are unit-tested)."""
        if not self.context_params:
            return cast(R, self.func(*args, **kwargs))
        given = {n: kwargs.pop(n) for n in self.context_params if n in kwargs}
        arguments = dict(self.signature.bind(*args, **kwargs).arguments)
        for name in self.context_params:
            context = given.get(name, Context.INJECTED)
            arguments[name] = Context.inline(self.name) if context is Context.INJECTED else context
        call = inspect.BoundArguments(self._full_signature, arguments)
        return cast(R, self.func(*call.args, **call.kwargs))

    def check_soft_timeout(self, soft: object, timeout: float | None, where: str) -> None:
        check_soft_timeout(soft, timeout, where)
        in_thread = not self.is_async and self.config.executor == "thread"
        if soft is not None and in_thread and not self.context_params:
            # a thread cannot be interrupted: it can only be told
            raise ConfigurationError(
                f"{where}: a sync task in a thread learns of its soft timeout from "
                "ctx.soft_timeout_expired: give it a parameter annotated Context"
            )

    def options(self, **options: Unpack[EnqueueOptions]) -> TaskCall[P, R]:
        return TaskCall(self, options)

    def s(self, *args: P.args, **kwargs: P.kwargs) -> Signature[R]:
        """A checked, encoded call of this task, to enqueue later (in bulk or a workflow)."""
        return TaskCall(self, {}).s(*args, **kwargs)

    def step(self: Task[Concatenate[Any, Q], R], *args: Q.args, **kwargs: Q.kwargs) -> Step[R]:
        """A workflow step: this task called with the previous step's result first, then
        `args` and `kwargs` (checked now): in `chain(a.s(1), b.step(2))` b runs as
        `b(<a's result>, 2)`."""
        return TaskCall(self, {}).step(*args, **kwargs)

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> JobHandle[R]:
        return await TaskCall(self, {}).enqueue(*args, **kwargs)

    def enqueue_sync(self, *args: P.args, **kwargs: P.kwargs) -> JobHandle[R]:
        return TaskCall(self, {}).enqueue_sync(*args, **kwargs)

    def delay(self, *args: P.args, **kwargs: P.kwargs) -> JobHandle[R]:
        """Celery's `task.delay(...)`: `enqueue_sync(...)`, for sync code."""
        return self.apply_async(args, kwargs)

    def apply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        *,
        countdown: float | None = None,
        eta: datetime.datetime | None = None,
        task_id: str | None = None,
        queue: str | None = None,
        priority: int | None = None,
        **unsupported: object,
    ) -> JobHandle[R]:
        """Celery's `task.apply_async(...)`, for sync code: `options(delay=countdown,
        eta=eta, job_id=task_id, queue=queue, priority=priority).enqueue_sync(*args,
        **kwargs)`. Priority is conveyor's: higher runs first."""
        call = celery_call(
            self,
            args,
            kwargs,
            countdown=countdown,
            eta=eta,
            task_id=task_id,
            queue=queue,
            priority=priority,
            unsupported=unsupported,
        )
        return call.enqueue_sync()

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Check arguments against the signature; the error names the task and the problem."""
        for name in self.context_params:
            kwargs.pop(name, None)
        names = self._plain_names
        if names is not None and not kwargs and len(args) == len(names):
            return dict(zip(names, args, strict=True))  # the common case, without inspect
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ArgumentError(f"{self.name}{self.signature}: {exc}") from None
        return dict(bound.arguments)

    def call_arguments(self, arguments: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Turn decoded arguments back into a call; TypeError if they do not fit it."""
        if self._plain_names is not None:  # every parameter can be passed by keyword
            missing = self._required - arguments.keys()
            if missing:
                raise TypeError(f"missing required argument(s): {', '.join(sorted(missing))}")
            return [], dict(arguments)
        bound = inspect.BoundArguments(self.signature, dict(arguments))
        args, kwargs = list(bound.args), dict(bound.kwargs)
        self.signature.bind(*args, **kwargs)  # a stored payload may lack a required argument
        return args, kwargs


class AsyncTask(Task[P, R]):
    """A task whose function is async: a direct call returns an awaitable of its result."""

    def __call__(  # type: ignore[override]
        self, *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, R]:
        return super().__call__(*args, **kwargs)  # type: ignore[return-value]


class TaskCall(Generic[P, R]):
    """A task with options for one enqueue: `task.options(delay=10).enqueue(...)`."""

    __slots__ = ("_options", "task")

    def __init__(self, task: Task[P, R], options: EnqueueOptions) -> None:
        self.task = task
        self._options = _checked(options, task.name) if options else options
        if "soft_timeout" in options or "timeout" in options:
            task.check_soft_timeout(
                options.get("soft_timeout", task.config.soft_timeout),
                options.get("timeout", task.config.timeout),
                f"{task.name}.options()",
            )

    def s(self, *args: P.args, **kwargs: P.kwargs) -> Signature[R]:
        if "connection" in self._options:
            raise ConfigurationError(
                f"{self.task.name}.options(connection=...) applies to enqueue() only; to store "
                "many calls in your transaction use app.enqueue_many(calls, connection=...)"
            )
        return self._signature(args, kwargs)

    def step(self: TaskCall[Concatenate[Any, Q], R], *args: Q.args, **kwargs: Q.kwargs) -> Step[R]:
        task = self.task
        for option in ("connection", "job_id"):
            if option in self._options:
                raise ConfigurationError(
                    f"{task.name}.options({option}=...) does not apply to a workflow step: "
                    "the workflow stores its steps and names their jobs"
                )
        first = next(iter(task.signature.parameters.values()), None)
        if first is None or first.kind not in _POSITIONAL:
            raise ArgumentError(
                f"{task.name}{task.signature}: a workflow step needs a first parameter that "
                "can be passed by position, to receive the previous step's result"
            )
        arguments = task.bind((None, *args), dict(kwargs))  # None stands in for the result
        del arguments[first.name]
        payload = _encoded(task, arguments)
        record = _record(task, arguments, payload, self._options, derive_id=False)
        return Step(task, first.name, record)

    def _signature(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Signature[R]:
        task = self.task
        arguments = task.bind(args, dict(kwargs))
        payload = _encoded(task, arguments)
        return Signature(task, _record(task, arguments, payload, self._options))

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> JobHandle[R]:
        return await self._signature(args, kwargs)._store(self._options.get("connection"))

    def enqueue_sync(self, *args: P.args, **kwargs: P.kwargs) -> JobHandle[R]:
        return self.task.app.portal.call(self.enqueue(*args, **kwargs))


class Signature(Generic[R]):
    """One checked call of a task, ready to store."""

    __slots__ = ("record", "task")

    def __init__(self, task: Task[Any, R], record: JobRecord) -> None:
        self.task = task
        self.record = record

    def __repr__(self) -> str:
        return f"<Signature {self.task.name} id={self.record.id}>"

    async def enqueue(self) -> JobHandle[R]:
        return await self._store(None)

    async def _store(self, connection: object | None) -> JobHandle[R]:
        """Stored through the app's enqueue hooks, in `connection`'s transaction if given.
        The call is its own task's: none of enqueue_many's checks of calls it is handed, on
        the path of every web request that enqueues."""
        app = self.task.app
        (item,) = await app.store([self.record], connection)
        return JobHandle(app, item.record.id, item.record.task, item.created)

    def enqueue_sync(self) -> JobHandle[R]:
        return self.task.app.portal.call(self.enqueue())


class Step(Generic[R]):
    """A checked workflow step (`task.step(...)`): a call that lacks only its first
    argument, `into`, which the previous step's result fills in. `record.payload` holds
    the other arguments."""

    __slots__ = ("into", "record", "task")

    def __init__(self, task: Task[Any, R], into: str, record: JobRecord) -> None:
        self.task = task
        self.into = into
        self.record = record

    def __repr__(self) -> str:
        return f"<Step {self.task.name} into={self.into}>"


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _encoded(task: Task[Any, Any], arguments: dict[str, Any]) -> bytes:
    payload = task.codec.encode(arguments)
    limit = task.app.max_payload_bytes
    if len(payload) > limit:
        raise PayloadTooLarge(
            f"{task.name}: the encoded arguments are {len(payload)} bytes, over the "
            f"{limit}-byte limit; store large data elsewhere and pass a reference "
            "(or raise Conveyor(max_payload_bytes=...))"
        )
    return payload


def _record(
    task: Task[Any, Any],
    arguments: dict[str, Any],
    payload: bytes,
    options: EnqueueOptions,
    *,
    derive_id: bool = True,
) -> JobRecord:
    config = task.config
    headers = dict(options.get("headers", {}))
    if task._secret_header:
        headers[SECRET_ARGS_HEADER] = task._secret_header
    soft_timeout = options.get("soft_timeout", config.soft_timeout)
    if soft_timeout is not None:
        headers[SOFT_TIMEOUT_HEADER] = str(float(soft_timeout))
    job_id = options.get("job_id")
    if job_id is None and config.job_id is not None and derive_id:
        job_id = _derive_id(task, config.job_id, _with_defaults(task, arguments))
    record = JobRecord(
        id=job_id or new_id(),
        task=task.name,
        queue=options.get("queue", config.queue),
        payload=payload,
        priority=options.get("priority", config.priority),
        headers=headers,
        max_attempts=options.get("retries", config.retries) + 1,
        timeout=options.get("timeout", config.timeout),
        result_ttl=config.result_ttl,
        delay=_delay(options),
    )
    unique = options.get("unique", config.unique)
    if unique is not None and derive_id:  # a workflow names its steps: they are not deduplicated
        if job_id is not None:
            raise ConfigurationError(
                f"{task.name}: give job_id or unique, not both (options(unique=None) drops it)"
            )
        make_unique(record, unique)
    if config.concurrency_key is not None:
        arguments = _with_defaults(task, arguments)
    apply_limits(record, config.concurrency, config.concurrency_key, config.rate_limit, arguments)
    return record


def _with_defaults(task: Task[Any, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments and the defaults of those it leaves out, by name."""
    complete = inspect.BoundArguments(task.signature, dict(arguments))
    complete.apply_defaults()
    return dict(complete.arguments)


def _derive_id(
    task: Task[Any, Any], rule: str | Callable[..., str], arguments: dict[str, Any]
) -> str:
    try:
        job_id = rule.format(**arguments) if isinstance(rule, str) else rule(**arguments)
    except (KeyError, TypeError, IndexError) as exc:
        raise ConfigurationError(
            f"task {task.name!r}: its job_id rule could not be applied to the arguments: {exc}"
        ) from None
    return check_id(job_id, f"task {task.name!r}: the id its job_id rule made")


def _delay(options: EnqueueOptions) -> float:
    delay = options.get("delay")
    eta = options.get("eta")
    if isinstance(delay, datetime.timedelta):
        return delay.total_seconds()
    if delay is not None:
        return float(delay)
    if eta is not None:
        now = datetime.datetime.now(datetime.UTC)
        return max(0.0, (eta - now).total_seconds())
    return 0.0


def _checked(options: EnqueueOptions, name: str) -> EnqueueOptions:
    where = f"{name}.options()"
    unknown = set(options) - set(EnqueueOptions.__annotations__)
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown option(s) {sorted(unknown)}; valid options are "
            f"{sorted(EnqueueOptions.__annotations__)}"
        )
    if "delay" in options and "eta" in options:
        raise ConfigurationError(f"{where}: give delay or eta, not both")
    delay = options.get("delay")
    if delay is not None:
        seconds = delay.total_seconds() if isinstance(delay, datetime.timedelta) else delay
        if not _is_number(seconds) or seconds < 0:
            raise ConfigurationError(f"{where}: delay must be >= 0 seconds, got {delay!r}")
    eta = options.get("eta")
    if eta is not None and (not isinstance(eta, datetime.datetime) or eta.tzinfo is None):
        raise ConfigurationError(
            f"{where}: eta must be a timezone-aware datetime, such as "
            "datetime.now(timezone.utc) + timedelta(minutes=5)"
        )
    if options.get("job_id") is not None:
        check_id(options["job_id"], f"{where}: job_id")
    if "unique" in options:
        check_unique(options["unique"], where)
    if "priority" in options:
        _check_priority(options["priority"], where)
    if "headers" in options:
        headers = options["headers"]
        if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ConfigurationError(f"{where}: headers must map str to str, got {headers!r}")
    if "queue" in options:
        _check_queue(options["queue"], where)
    if "retries" in options:
        _check_retries(options["retries"], where)
    if "timeout" in options:
        _check_timeout(options["timeout"], where)
    if "connection" in options and options["connection"] is None:
        raise ConfigurationError(f"{where}: connection must be an open database connection")
    return options


def _check_queue(queue: object, where: str) -> None:
    if not isinstance(queue, str) or not QUEUE_NAME.match(queue):
        raise ConfigurationError(
            f"{where}: queue must be 1 to 100 letters, digits or _.:- characters, got {queue!r}"
        )


def _check_retries(retries: object, where: str) -> None:
    if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 1000:
        raise ConfigurationError(f"{where}: retries must be an int from 0 to 1000, got {retries!r}")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_priority(priority: object, where: str) -> None:
    if (
        not isinstance(priority, int)
        or isinstance(priority, bool)
        or abs(priority) > PRIORITY_LIMIT
    ):
        raise ConfigurationError(
            f"{where}: priority must be an int from -{PRIORITY_LIMIT} to {PRIORITY_LIMIT} "
            f"(higher runs first), got {priority!r}"
        )


def _check_timeout(timeout: object, where: str) -> None:
    if timeout is not None and (not _is_number(timeout) or timeout <= 0):  # type: ignore[operator]
        raise ConfigurationError(f"{where}: timeout must be a positive number of seconds or None")


def _check_importable(func: Callable[..., Any], name: str, is_async: bool) -> None:
    """A process task's child finds the function by module and name: it must be findable."""
    where = f"task {name!r} (executor='process')"
    if is_async:
        raise ConfigurationError(
            f"{where}: only sync functions run in the process pool; async tasks run on "
            "the worker's event loop"
        )
    qualname = getattr(func, "__qualname__", "")
    if not getattr(func, "__module__", None) or "<" in qualname:
        raise ConfigurationError(
            f"{where}: {qualname or func!r} is defined inside a function (or is a lambda), so "
            "the pool's processes cannot import it by name: define it at module level"
        )


def _hints(func: Callable[..., Any]) -> dict[str, Any]:
    try:
        return get_type_hints(func)
    except Exception as exc:
        raise ConfigurationError(
            f"cannot resolve the type annotations of {func.__qualname__}: {exc}"
        ) from exc
