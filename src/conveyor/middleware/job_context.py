"""What is current while a job runs: the job itself, and the correlation id it carries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from conveyor.context import CORRELATION_HEADER
from conveyor.correlation import current_correlation_id, reset_correlation_id, set_correlation_id
from conveyor.log_fields import reset_current_job, set_current_job
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
        job_token = set_current_job(job)
        correlation_token = set_correlation_id(job.headers.get(CORRELATION_HEADER))
        try:
            return await call_next()
        finally:
            reset_correlation_id(correlation_token)
            reset_current_job(job_token)
