"""Sentry for conveyor jobs: each failing attempt is reported with the job's tags.

    app = Conveyor(middleware=[SentryMiddleware()])

    @app.on_startup
    async def start_sentry(state):               # in the worker, not at import
        sentry_sdk.init(dsn="https://...")

Needs `pip install sentry-sdk`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import sentry_sdk

from conveyor import Retry
from conveyor.middleware import Job, Middleware


class SentryMiddleware(Middleware):
    """Reports what a job raises, then raises it again so the task's retry policy stands.

    Each attempt runs in its own isolation scope: its tags, and the breadcrumbs of the
    task's log lines, do not leak into another job's events. An explicit `Retry` is the
    task asking to run later, not an error, so it is not reported. Jobs that never run
    (an unknown task, arguments that cannot be decoded) do not pass through here: they land
    in `failed`, where the `ConveyorFailedJobsPilingUp` alert sees them.
    """

    async def execute(self, job: Job, call_next: Callable[[], Awaitable[None]]) -> None:
        with sentry_sdk.isolation_scope() as scope:
            scope.set_tags(
                {
                    "conveyor.task": job.task,
                    "conveyor.queue": job.queue,
                    "conveyor.job_id": job.id,
                    "conveyor.attempt": str(job.attempts),
                    # a failure of the last attempt is final: an alert rule can pick these
                    "conveyor.final_attempt": str(job.attempts >= job.max_attempts).lower(),
                }
            )
            try:
                await call_next()
            except Retry:
                raise
            except Exception as exc:
                scope.capture_exception(exc)
                raise
