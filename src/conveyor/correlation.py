"""The correlation id of the work in progress, carried from request to job to job."""

from __future__ import annotations

import contextvars
import logging

CORRELATION_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "conveyor_correlation_id", default=None
)


def current_correlation_id() -> str | None:
    return CORRELATION_ID.get()


def set_correlation_id(value: str | None) -> contextvars.Token[str | None]:
    return CORRELATION_ID.set(value)


def reset_correlation_id(token: contextvars.Token[str | None]) -> None:
    CORRELATION_ID.reset(token)


class CorrelationIdFilter(logging.Filter):
    """Adds `correlation_id` to log records ("-" when none) for a `%(correlation_id)s` format.

    Attach it to a handler: the worker sets the id while a job runs, so the worker's lines
    about a job, and the task's own log lines, carry the id of the request behind it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        # a line about a job names the job's id in its record (see conveyor.log_fields)
        given = getattr(record, "correlation_id", None)
        record.correlation_id = given or current_correlation_id() or "-"
        return True
