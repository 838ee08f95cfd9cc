"""What is current while a job runs: the job itself, and the correlation id it carries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from conveyor.context import CORRELATION_HEADER
from conveyor.correlation import CORRELATION_ID, current_correlation_id
from conveyor.log_fields import CURRENT_JOB
from conveyor.middleware.base import Job, Middleware, OutgoingJob


class JobContext(Middleware):
    """Stamps jobs with the correlation id current at enqueue (a FastAPI request's, or the
    running job's). While a job runs, makes it current, and its correlation id: log lines
    carry the job's fields (`conveyor.logs.JobFieldsFilter`) and the jobs it enqueues its
    correlation id. Every app has it, outermost."""

    async def enqueue(
        self, jobs: Sequence[OutgoingJob], call_next: Callable[[], Awaitable[Sequence[bool]]]
    ) -> Sequence[bool]:
        correlation_id = current_correlation_id()
        if correlation_id is not None:
            for job in jobs:
                job.headers.setdefault(CORRELATION_HEADER, correlation_id)
        return await call_next()

    async def execute(self, job: Job, call_next: Callable[[], Awaitable[None]]) -> None:
        # the variables themselves, not their helpers: this runs around every job
        job_token = CURRENT_JOB.set(job)
        correlation_id = job.headers.get(CORRELATION_HEADER)
        if correlation_id is None and CORRELATION_ID.get() is None:  # nothing to change
            try:
                return await call_next()
            finally:
                CURRENT_JOB.reset(job_token)
        correlation_token = CORRELATION_ID.set(correlation_id)
        try:
            return await call_next()
        finally:
            CORRELATION_ID.reset(correlation_token)
            CURRENT_JOB.reset(job_token)
