"""OpenTelemetry spans for jobs, per the messaging semantic conventions.

A PRODUCER span `send <queue>` wraps each enqueue of a batch and its context travels in
every job's headers (the global propagator: W3C trace context by default); a CONSUMER
span `process <queue>` wraps each attempt, its parent the context that came with the job,
so a job runs in the trace of the code that enqueued it (the conventions' option for a
single message; the span also links to that context, their default). The span ends when
the attempt returned, and carries its outcome, known once written: `failed`, `retried` and
`lease_lost` are errors, with the exception recorded as the job stores it.

Needs `conveyor[otel]` (opentelemetry-api); the SDK, and where spans go, are the
application's choice.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

from conveyor.errors import ConfigurationError
from conveyor.job import JobError
from conveyor.middleware.base import Job, Middleware, Outcome, OutgoingJob

try:
    from opentelemetry import context, propagate, trace
    from opentelemetry.util.types import Attributes
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ConfigurationError(
        "tracing needs opentelemetry-api: pip install 'conveyor[otel]'"
    ) from exc

# The semantic conventions' messaging attributes, and conveyor's own under
# `messaging.conveyor.*`, where the conventions put a messaging system's attributes.
SYSTEM = "messaging.system"
OPERATION_TYPE = "messaging.operation.type"
OPERATION_NAME = "messaging.operation.name"
DESTINATION = "messaging.destination.name"
MESSAGE_ID = "messaging.message.id"
BATCH_SIZE = "messaging.batch.message_count"
CLIENT_ID = "messaging.client.id"
ERROR_TYPE = "error.type"
TASK = "messaging.conveyor.task.name"
ATTEMPT = "messaging.conveyor.job.attempt"
OUTCOME = "messaging.conveyor.job.outcome"


@dataclasses.dataclass(slots=True)
class _OpenAttempt:
    """The span of one attempt, open until both its execution returned and its outcome
    was told: a thread task whose lease was lost is told `lease_lost` while it still runs."""

    job: Job  # held, so that no other job takes its id() while the span is open
    span: trace.Span
    returned_at: int | None = None  # epoch ns, when the execution returned
    told: bool = False  # job_ended came


class TracingMiddleware(Middleware):
    """Traces enqueues (PRODUCER spans) and attempts (CONSUMER spans).

    `Conveyor(middleware=[TracingMiddleware()])` in the producing process and the
    worker's app alike. Spans go to `tracer_provider`, by default the global one (which
    may be set after this middleware is made, as long as it is set before jobs flow).
    Put it first in the list, so its spans cover the work of the middleware after it.
    """

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        self._tracer = trace.get_tracer("conveyor", tracer_provider=tracer_provider)
        self._open: dict[int, _OpenAttempt] = {}  # id() of a running job's record -> span

    async def enqueue(
        self, jobs: Sequence[OutgoingJob], call_next: Callable[[], Awaitable[Sequence[bool]]]
    ) -> Sequence[bool]:
        if not jobs:
            return await call_next()
        queue = _shared(job.queue for job in jobs)
        name = "send" if queue is None else f"send {queue}"  # no one queue: none named
        attributes = _send_attributes(jobs, queue)
        with self._tracer.start_as_current_span(
            name, kind=trace.SpanKind.PRODUCER, attributes=attributes
        ) as span:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)  # one context for the batch: inject it once
            for job in jobs:
                job.headers.update(carrier)
            try:
                return await call_next()
            except Exception as exc:
                span.set_attribute(ERROR_TYPE, _type_name(exc))
                raise

    async def execute(self, job: Job, call_next: Callable[[], Awaitable[None]]) -> None:
        parent = propagate.extract(job.headers)
        creation = trace.get_current_span(parent).get_span_context()
        span = self._tracer.start_span(
            f"process {job.queue}",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            attributes=_process_attributes(job),
            links=[trace.Link(creation)] if creation.is_valid else None,
        )
        attempt = _OpenAttempt(job, span)
        self._open[id(job)] = attempt
        token = context.attach(trace.set_span_in_context(span))
        try:
            await call_next()
        finally:
            context.detach(token)
            attempt.returned_at = time.time_ns()
            if attempt.told:
                self._close(attempt)

    def job_ended(self, job: Job, outcome: Outcome, error: JobError | None) -> None:
        attempt = self._open.get(id(job))
        if attempt is None or attempt.job is not job:
            return  # it never ran here: undecodable, an unknown task, or an outer hook raised
        attempt.told = True
        _record_outcome(attempt.span, outcome, error, attempt.returned_at)
        if attempt.returned_at is not None:
            self._close(attempt)

    def _close(self, attempt: _OpenAttempt) -> None:
        del self._open[id(attempt.job)]
        attempt.span.end(end_time=attempt.returned_at)


def _send_attributes(jobs: Sequence[OutgoingJob], queue: str | None) -> Attributes:
    attributes: dict[str, str | int] = {
        SYSTEM: "conveyor",
        OPERATION_TYPE: "send",
        OPERATION_NAME: "send",
    }
    if queue is not None:
        attributes[DESTINATION] = queue
    task = _shared(job.task for job in jobs)
    if task is not None:
        attributes[TASK] = task
    if len(jobs) == 1:
        attributes[MESSAGE_ID] = jobs[0].id
    else:
        attributes[BATCH_SIZE] = len(jobs)
    return attributes


def _process_attributes(job: Job) -> Attributes:
    attributes: dict[str, str | int] = {
        SYSTEM: "conveyor",
        OPERATION_TYPE: "process",
        OPERATION_NAME: "process",
        DESTINATION: job.queue,
        MESSAGE_ID: job.id,
        TASK: job.task,
        ATTEMPT: job.attempts,
    }
    if job.worker is not None:
        attributes[CLIENT_ID] = job.worker
    return attributes


def _record_outcome(
    span: trace.Span, outcome: Outcome, error: JobError | None, returned_at: int | None
) -> None:
    span.set_attribute(OUTCOME, outcome)
    if outcome == "lease_lost":  # this attempt's outcome was dropped: another worker has it
        span.set_attribute(ERROR_TYPE, "lease_lost")
        span.set_status(trace.StatusCode.ERROR, "the lease was lost: another worker owns the job")
    elif outcome in ("failed", "retried") and error is not None:
        # the exception as the job stores it: the task's own frames, also when it was
        # raised in a child process (a process task), and a timeout's message
        exception = {"exception.type": error.type, "exception.message": error.message}
        if error.traceback is not None:
            exception["exception.stacktrace"] = error.traceback
        span.add_event("exception", exception, timestamp=returned_at)
        span.set_attribute(ERROR_TYPE, error.type)
        span.set_status(trace.StatusCode.ERROR, f"{error.type}: {error.message}")
    # succeeded, cancelled, handed_back: no error


def _shared(values: Iterable[str]) -> str | None:
    """The one value all of `values` share, or None when they differ."""
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None


def _type_name(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")
