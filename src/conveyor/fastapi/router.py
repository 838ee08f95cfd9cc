"""The jobs router: a job's status, its live events (SSE), and cancellation."""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at
# runtime, and they name dependencies local to `jobs_router`.

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.sse import EventSourceResponse

from conveyor.app import Conveyor
from conveyor.errors import JobNotFound
from conveyor.job import JobInfo, JobRecord
from conveyor.job_ids import id_problem

from .models import JobStatus, JobUpdate, Problem

EVENTS_POLL = 0.1  # seconds between two looks at a job whose events are streamed


def jobs_router(
    app: Conveyor,
    *,
    authorize: Callable[..., Any] | None = None,
    prefix: str = "/jobs",
    tags: Sequence[str] = ("jobs",),
) -> APIRouter:
    """`GET {prefix}/{job_id}`, `GET {prefix}/{job_id}/events`, `POST {prefix}/{job_id}/cancel`.

    `authorize` is a FastAPI dependency run before each of them: it decides who may see or
    cancel which job, and raises `HTTPException(403)` to refuse. It can take the path's
    `job_id: str`, or the job itself through `Depends(requested_job(app))`, and any
    dependency of your own (the current user).
    """
    responses: dict[int | str, dict[str, Any]] = {
        404: {"model": Problem, "description": "No job has this id (or its record expired)"}
    }
    if authorize is not None:
        responses[403] = {"model": Problem, "description": "Not allowed to see this job"}
    router = APIRouter(
        prefix=prefix,
        tags=list(tags),
        dependencies=[] if authorize is None else [Depends(authorize)],
        responses=responses,
    )

    async def existing(job_id: str) -> JobRecord:
        return await _find(app, job_id)

    Existing = Annotated[JobRecord, Depends(existing)]

    @router.get("/{job_id}", summary="A job's state, progress, outcome, attempts and timings")
    async def job_status(record: Existing) -> JobStatus:
        return JobStatus.from_record(record)

    @router.get(
        "/{job_id}/events",
        response_class=EventSourceResponse,
        summary="Progress and state changes as Server-Sent Events, until the job ends",
    )
    async def job_events(record: Existing) -> AsyncIterator[JobUpdate]:
        try:
            async for event in app.job(record.id).events(poll=EVENTS_POLL):
                yield JobUpdate.from_event(event)
        except JobNotFound:  # its record expired or was purged while we watched: it ended
            return

    @router.post("/{job_id}/cancel", summary="Cancel a pending job, or ask a running one to stop")
    async def cancel_job(job_id: str) -> JobStatus:
        if id_problem(job_id, "a job id"):  # names no job (PostgreSQL cannot even look for it)
            raise _not_found(job_id)
        record = await (await app.connected()).cancel(job_id)
        if record is None:
            raise _not_found(job_id)
        return JobStatus.from_record(app.readable(record))

    return router


def requested_job(app: Conveyor) -> Callable[[str], Awaitable[JobInfo]]:
    """A dependency giving the job the path's `job_id` names (404 if none): for `authorize`."""

    async def requested(job_id: str) -> JobInfo:
        return JobInfo.from_record(await _find(app, job_id))

    return requested


async def _find(app: Conveyor, job_id: str) -> JobRecord:
    if id_problem(job_id, "a job id"):  # names no job (PostgreSQL cannot even look for it)
        raise _not_found(job_id)
    record = await (await app.connected()).get(job_id)
    if record is None:
        raise _not_found(job_id)
    return app.readable(record)  # what the app's keys decrypt; the rest shows "encrypted"


def _not_found(job_id: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"no job with id {job_id!r}")
