"""The fields a log line about a job carries, as `extra=` attributes of its record."""

from __future__ import annotations

import contextvars
from typing import Any

from conveyor.context import CORRELATION_HEADER
from conveyor.middleware.base import Job

# the job whose task is running in this context: its own log lines carry its fields
CURRENT_JOB: contextvars.ContextVar[Job | None] = contextvars.ContextVar(
    "conveyor_current_job", default=None
)

# the name of the worker whose loop this is: every line it logs names it
_current_worker: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "conveyor_current_worker", default=None
)

JOB_FIELDS = ("job_id", "task", "queue", "attempt", "correlation_id", "worker")


def job_fields(record: Job) -> dict[str, Any]:
    """`extra=` for a log line about `record`: its id, task, queue, attempt, worker and
    the correlation id it carries."""
    return {
        "job_id": record.id,
        "task": record.task,
        "queue": record.queue,
        "attempt": record.attempts,
        "correlation_id": record.headers.get(CORRELATION_HEADER),
        "worker": record.worker,
    }


def current_job() -> Job | None:
    return CURRENT_JOB.get()


def current_worker() -> str | None:
    return _current_worker.get()


def set_current_worker(name: str | None) -> contextvars.Token[str | None]:
    return _current_worker.set(name)


def reset_current_worker(token: contextvars.Token[str | None]) -> None:
    _current_worker.reset(token)
