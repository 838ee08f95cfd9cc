"""Nesting the middleware of an app around enqueues and executions, once per app."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from conveyor.errors import ConfigurationError
from conveyor.job import JobError
from conveyor.middleware.base import Job, Middleware, Outcome, OutgoingJob

logger = logging.getLogger("conveyor.middleware")

Store = Callable[[], Awaitable[Sequence[bool]]]
Run = Callable[[], Awaitable[None]]


def _defines(middleware: Middleware, hook: str) -> bool:
    return getattr(type(middleware), hook) is not getattr(Middleware, hook)


class MiddlewareChain:
    """The hooks an app's middleware define, in onion order. A middleware that leaves a
    hook as the base class has it is not called for that hook at all, so an app without
    middleware pays nothing per job."""

    __slots__ = ("_enqueuers", "_executors", "_listeners", "middleware")

    def __init__(self, middleware: Sequence[Middleware]) -> None:
        self.middleware = tuple(middleware)
        self._enqueuers = [m for m in self.middleware if _defines(m, "enqueue")]
        self._executors = [m for m in self.middleware if _defines(m, "execute")]
        self._listeners = [m for m in reversed(self.middleware) if _defines(m, "job_ended")]

    @property
    def listens(self) -> bool:
        """Whether any middleware wants to hear how jobs ended."""
        return bool(self._listeners)

    async def enqueue(self, jobs: Sequence[OutgoingJob], store: Store) -> Sequence[bool]:
        """Run the enqueue hooks around `store`; what it stored, or a ConfigurationError
        when a hook returned without calling `call_next()` (nothing was stored)."""
        stored: Sequence[bool] | None = None

        async def store_once() -> Sequence[bool]:
            nonlocal stored
            stored = await store()
            return stored

        await self._enqueue_from(0, jobs, store_once)
        if stored is None:
            raise ConfigurationError(
                "a middleware's enqueue hook returned without calling call_next(): "
                "nothing was stored"
            )
        return stored

    # Plain functions that hand back the outermost hook's awaitable: no frame of their own
    # around every job.

    def _enqueue_from(
        self, index: int, jobs: Sequence[OutgoingJob], store: Store
    ) -> Awaitable[Sequence[bool]]:
        left = len(self._enqueuers) - index
        if left == 0:
            return store()
        if left == 1:  # the innermost hook calls the store itself
            return self._enqueuers[index].enqueue(jobs, store)
        return self._enqueuers[index].enqueue(
            jobs, lambda: self._enqueue_from(index + 1, jobs, store)
        )

    def execute(self, job: Job, run: Run) -> Awaitable[None]:
        return self._execute_from(0, job, run)

    def _execute_from(self, index: int, job: Job, run: Run) -> Awaitable[None]:
        left = len(self._executors) - index
        if left == 0:
            return run()
        if left == 1:  # the innermost hook runs the task itself
            return self._executors[index].execute(job, run)
        return self._executors[index].execute(job, lambda: self._execute_from(index + 1, job, run))

    def job_ended(self, job: Job, outcome: Outcome, error: JobError | None) -> None:
        for middleware in self._listeners:
            try:
                middleware.job_ended(job, outcome, error)
            except Exception:
                logger.exception(
                    "%s.job_ended failed for job %s (%s); the outcome stands",
                    type(middleware).__name__, job.id, outcome,
                )  # fmt: skip
