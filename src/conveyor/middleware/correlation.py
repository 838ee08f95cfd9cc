"""Correlation ids: the id of the request (or job) behind a job travels in its headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from conveyor.context import CORRELATION_HEADER
from conveyor.correlation import current_correlation_id, reset_correlation_id, set_correlation_id
from conveyor.middleware.base import Job, Middleware, OutgoingJob


class CorrelationIds(Middleware):
    """Stamps jobs with the correlation id current at enqueue (a FastAPI request's, or the
    running job's), and makes a job's id current while it runs: its log lines, and the
    jobs it enqueues, carry it. Every app has it, outermost."""

    async def enqueue(
        self, jobs: Sequence[OutgoingJob], call_next: Callable[[], Awaitable[Sequence[bool]]]
    ) -> Sequence[bool]:
        correlation_id = current_correlation_id()
        if correlation_id is not None:
            for job in jobs:
                job.headers.setdefault(CORRELATION_HEADER, correlation_id)
        return await call_next()

    async def execute(self, job: Job, call_next: Callable[[], Awaitable[None]]) -> None:
        correlation_id = job.headers.get(CORRELATION_HEADER)
        if correlation_id is None:
            return await call_next()
        token = set_correlation_id(correlation_id)
        try:
            return await call_next()
        finally:
            reset_correlation_id(token)
