"""Eager mode: an enqueue runs its job at once, for code under test that must not change."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import cast

from conveyor.app import Conveyor
from conveyor.errors import JobFailed
from conveyor.job import JobError, JobRecord
from conveyor.middleware.base import Middleware, OutgoingJob
from conveyor.middleware.chain import MiddlewareChain
from conveyor.testing.drain import drain

# set while an eager enqueue drains: what the jobs it runs enqueue joins that drain
_draining: contextvars.ContextVar[bool] = contextvars.ContextVar("eager_draining", default=False)


class EagerRunner(Middleware):
    """The innermost enqueue hook: stores the jobs due now, then drains the app."""

    def __init__(self, app: Conveyor, propagate: bool) -> None:
        self.app = app
        self.propagate = propagate

    async def enqueue(
        self, jobs: Sequence[OutgoingJob], call_next: Callable[[], Awaitable[Sequence[bool]]]
    ) -> Sequence[bool]:
        for job in jobs:
            cast(JobRecord, job).delay = 0.0  # "at once": a delay or an eta is not waited for
        created = await call_next()
        if _draining.get():
            return created  # enqueued by a job of this drain: the drain runs it next
        token = _draining.set(True)
        try:
            ran = await drain(self.app)
        finally:
            _draining.reset(token)
        if self.propagate and ran.failed:
            dead = ran.failed[0]
            error = dead.error or JobError("Unknown", "no error recorded")
            raise JobFailed(dead.id, error.type, error.message, error.traceback, error.reason)
        return created


@contextlib.contextmanager
def eager(app: Conveyor, *, propagate: bool = True) -> Iterator[None]:
    """Within the block, `enqueue` (and `enqueue_sync`, `jobs.add`, a workflow's
    `enqueue`) stores the job and runs it, and all it leads to, before returning.

    A real burst worker runs them (see `drain`), with retries due at once. With
    `propagate` (the default) a job that failed for good raises `JobFailed` from the
    enqueue. Use it on an isolated app (the `conveyor_jobs` fixture, or `isolated`).
    """
    saved = app.middleware_chain
    app.middleware_chain = MiddlewareChain([*saved.middleware, EagerRunner(app, propagate)])
    try:
        yield
    finally:
        app.middleware_chain = saved
