"""A log line as each job starts, and one as it ends with its outcome and duration."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from conveyor.job import JobError
from conveyor.log_fields import job_fields
from conveyor.middleware.base import Job, Middleware, Outcome

logger = logging.getLogger("conveyor.jobs")


class JobLogMiddleware(Middleware):
    """Logs a line as each job starts, and one as it ends with its `outcome` and
    `duration_ms` (`conveyor worker --log-jobs`). Lines per job cost throughput."""

    def __init__(self) -> None:
        # by id() of a job's record, until its end is logged: when it started, and how
        # long it ran once its execute hook returned (a thread whose lease was lost, or
        # that was handed back, is told its end while it still runs)
        self._started: dict[int, float] = {}
        self._ran: dict[int, float] = {}

    async def execute(self, job: Job, call_next: Callable[[], Awaitable[None]]) -> None:
        self._started[id(job)] = started = time.monotonic()
        logger.info("job %s (%s) started", job.id, job.task, extra=job_fields(job))
        try:
            await call_next()
        finally:
            self._ran[id(job)] = time.monotonic() - started

    def job_ended(self, job: Job, outcome: Outcome, error: JobError | None) -> None:
        started = self._started.pop(id(job), None)
        duration = self._ran.pop(id(job), None)
        if duration is None and started is not None:  # its task runs on, no longer ours
            duration = time.monotonic() - started
        fields = job_fields(job)
        fields["outcome"] = outcome
        fields["duration_ms"] = None if duration is None else round(duration * 1000, 3)
        level = logging.WARNING if outcome in ("failed", "lease_lost") else logging.INFO
        reason = f": {error.type}: {error.message}" if error is not None else ""
        logger.log(level, "job %s (%s) %s%s", job.id, job.task, outcome, reason, extra=fields)
