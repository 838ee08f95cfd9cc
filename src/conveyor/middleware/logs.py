"""Job fields on the log lines of a running job, and (on request) a line per start and end."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from conveyor.job import JobError
from conveyor.log_fields import job_fields, reset_current_job, set_current_job
from conveyor.middleware.base import Job, Middleware, Outcome

logger = logging.getLogger("conveyor.jobs")


class JobLogMiddleware(Middleware):
    """Makes the running job current, so the task's own log lines carry its fields
    (see `conveyor.logs.JobFieldsFilter`). With `log_jobs`, logs a line as each job
    starts, and one as it ends with its `outcome` and `duration_ms`."""

    def __init__(self, log_jobs: bool = False) -> None:
        self.log_jobs = log_jobs
        self._started: dict[int, float] = {}  # id() of a running job's record -> start

    async def execute(self, job: Job, call_next: Callable[[], Awaitable[None]]) -> None:
        token = set_current_job(job)
        try:
            if self.log_jobs:
                self._started[id(job)] = time.monotonic()
                logger.info("job %s (%s) started", job.id, job.task, extra=job_fields(job))
            await call_next()
        finally:
            reset_current_job(token)
            if self.log_jobs and id(job) in self._started:
                started = self._started[id(job)]
                self._started[id(job)] = time.monotonic() - started  # now: its duration

    def job_ended(self, job: Job, outcome: Outcome, error: JobError | None) -> None:
        if not self.log_jobs:
            return
        duration = self._started.pop(id(job), None)
        fields = job_fields(job)
        fields["outcome"] = outcome
        fields["duration_ms"] = None if duration is None else round(duration * 1000, 3)
        level = logging.WARNING if outcome in ("failed", "lease_lost") else logging.INFO
        reason = f": {error.type}: {error.message}" if error is not None else ""
        logger.log(level, "job %s (%s) %s%s", job.id, job.task, outcome, reason, extra=fields)
