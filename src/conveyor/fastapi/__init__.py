"""conveyor for FastAPI: durable BackgroundTasks, job status, live progress, correlation ids.

`conveyor_lifespan` opens the backend (and can run a worker in the API process), `Jobs` is
the dependency whose `jobs.add(task, ...)` stores the job before the response is sent,
`jobs_router` serves a job's status, events and cancellation, and `CorrelationMiddleware`
carries the request's id into the jobs it enqueues. The README shows them together.
"""

from conveyor.correlation import CorrelationIdFilter
from conveyor.fastapi.correlation import CorrelationMiddleware
from conveyor.fastapi.jobs import Jobs
from conveyor.fastapi.lifespan import conveyor_lifespan
from conveyor.fastapi.models import JobFailure, JobStatus, JobUpdate
from conveyor.fastapi.router import jobs_router, requested_job

__all__ = [
    "CorrelationIdFilter",
    "CorrelationMiddleware",
    "JobFailure",
    "JobStatus",
    "JobUpdate",
    "Jobs",
    "conveyor_lifespan",
    "jobs_router",
    "requested_job",
]
