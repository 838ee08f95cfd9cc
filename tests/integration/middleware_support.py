"""Middleware that note what the seam tells them, for the tests of the middleware seam."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence

from conveyor.job import JobError
from conveyor.middleware import Job, Middleware, Outcome, OutgoingJob


@dataclasses.dataclass(frozen=True)
class Ended:
    """One `job_ended` notice."""

    job_id: str
    attempt: int
    outcome: Outcome
    error: JobError | None


class Outcomes(Middleware):
    """Notes every `job_ended` notice, in order."""

    def __init__(self) -> None:
        self.ended: list[Ended] = []

    def job_ended(self, job: Job, outcome: Outcome, error: JobError | None) -> None:
        self.ended.append(Ended(job.id, job.attempts, outcome, error))

    def of(self, job_id: str) -> list[tuple[int, Outcome]]:
        """(attempt, outcome) of each notice about `job_id`."""
        return [(e.attempt, e.outcome) for e in self.ended if e.job_id == job_id]


class Tracer(Middleware):
    """Notes, into a list shared with other tracers, each hook it is called for."""

    def __init__(self, name: str, events: list[tuple[str, ...]]) -> None:
        self.name = name
        self.events = events

    async def enqueue(
        self, jobs: Sequence[OutgoingJob], call_next: Callable[[], Awaitable[Sequence[bool]]]
    ) -> Sequence[bool]:
        self.events.append((self.name, "enqueue in", *(job.task for job in jobs)))
        stored = await call_next()
        self.events.append((self.name, "enqueue out"))
        return stored

    async def execute(self, job: Job, call_next: Callable[[], Awaitable[None]]) -> None:
        self.events.append((self.name, "execute in", job.id))
        try:
            await call_next()
        finally:
            self.events.append((self.name, "execute out", job.id))

    def job_ended(self, job: Job, outcome: Outcome, error: JobError | None) -> None:
        self.events.append((self.name, "ended", job.id, outcome))
