"""The worker's log output: plain text, or one JSON object per line."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Literal

from conveyor.correlation import CorrelationIdFilter, current_correlation_id
from conveyor.log_fields import JOB_FIELDS, current_job, current_worker, job_fields

if TYPE_CHECKING:
    from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s: %(message)s"


class JobFieldsFilter(logging.Filter):
    """Gives every record the job fields (`job_id`, `task`, `queue`, `attempt`,
    `correlation_id`, `worker`): those of the job the line is about, else of the job
    running where it was logged, else None; `worker` names the worker whose loop logged
    it."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = current_job()
        given = job_fields(job) if job is not None else {}
        for field in JOB_FIELDS:
            if getattr(record, field, None) is None:
                setattr(record, field, given.get(field))
        if getattr(record, "correlation_id", None) is None:
            record.correlation_id = current_correlation_id()
        if getattr(record, "worker", None) is None:
            record.worker = current_worker()
        return True


def json_formatter() -> JsonFormatter:
    from pythonjsonlogger.json import JsonFormatter  # only text logs: a worker goes without

    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        timestamp=False,
    )


def configure_logging(level: str, log_format: LogFormat) -> None:
    """Log to stderr at `level`, as text or as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.addFilter(JobFieldsFilter())
        handler.setFormatter(json_formatter())
    else:
        handler.addFilter(CorrelationIdFilter())  # lines about a job carry its request's id
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
