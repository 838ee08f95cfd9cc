"""The pages: overview, jobs, a job, workers, queues, schedules; and the charts' data.

Each page is one template whose `live` block htmx fetches again every few seconds (the same
URL, with the `HX-Request` header), so a page and its updates never disagree.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from conveyor.backends.base import Backend, JobFilter, JobPage, QueueBacklog, WorkerInfo
from conveyor.dashboard import charts
from conveyor.dashboard.filters import PAGE_SIZES, BadFilter, parse
from conveyor.dashboard.site import HTMX_STOP_POLLING, Site
from conveyor.errors import ConveyorError
from conveyor.job import JobRecord, JobState
from conveyor.scheduler import Schedule
from conveyor.workflow_records import (
    SHAPE_HEADER,
    WORKFLOW_HEADER,
    Shape,
    callback_id,
    step_id,
)

CORRELATION_HEADER = "correlation_id"
SHOWN_STEPS = 200  # steps of a workflow listed on a job's page
RUNNING_SHOWN = 100  # jobs listed per worker
PARALLEL_READS = 16
T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class QueueRow:
    name: str
    backlog: QueueBacklog
    paused: bool


@dataclasses.dataclass(frozen=True, slots=True)
class WorkerRow:
    info: WorkerInfo
    running: list[JobRecord]


@dataclasses.dataclass(frozen=True, slots=True)
class ScheduleRow:
    schedule: Schedule
    next_tick: int | None
    latest_tick: int | None
    latest_job: JobRecord | None


@dataclasses.dataclass(frozen=True, slots=True)
class WorkflowStep:
    index: str  # "0", "1", ... or "callback"
    job_id: str
    record: JobRecord | None


@dataclasses.dataclass(frozen=True, slots=True)
class WorkflowView:
    id: str
    shape: Shape
    state: JobState | None  # None when its first step is gone
    steps: list[WorkflowStep]
    more: int  # steps not listed


class Pages:
    def __init__(self, site: Site) -> None:
        self.site = site

    async def overview(self, request: Request) -> Response:
        backend = await self.site.backend()
        now, queues, workers = await asyncio.gather(
            backend.now(), self._queues(backend), backend.workers()
        )
        hour = await self._outcomes(backend, "hour", now)
        totals = {outcome: int(sum(hour[outcome])) for outcome in charts.SHOWN}
        return self.site.render(
            request, "overview.html", now=now, page="overview", queues=queues,
            workers=workers, totals=totals,
        )  # fmt: skip

    async def outcomes(self, request: Request) -> Response:
        """The charts' data: `?window=hour` or `day`."""
        window = request.query_params.get("window", "hour")
        if window not in charts.WINDOWS:
            return JSONResponse({"error": "window must be hour or day"}, 400)
        backend = await self.site.backend()
        data = await self._outcomes(backend, window, await backend.now())
        return JSONResponse(data)

    async def _outcomes(self, backend: Backend, window: str, now: float) -> charts.Series:
        async def read() -> charts.Series:
            span = charts.WINDOWS[window]
            counts = await backend.outcome_counts(now - span)
            return charts.series(counts, now, span)

        return await self.site.charts.get(window, read)

    async def jobs(self, request: Request) -> Response:
        backend = await self.site.backend()
        now = await backend.now()
        context: dict[str, Any] = {"page": "jobs", "page_sizes": PAGE_SIZES}
        try:
            query = parse(request.query_params, now)
        except BadFilter as exc:
            query = parse({}, now)
            return self.site.render(
                request, "jobs.html", status=400, now=now, query=query, error=str(exc),
                jobs=[], next_cursor=None, known=self._known(), **context,
            )  # fmt: skip
        try:
            found = await _filled_page(backend, query.job_filter(cursor=query.cursor))
        except ValueError as exc:  # a cursor the store cannot read
            return self.site.render(
                request, "jobs.html", status=400, now=now, query=query, jobs=[],
                error=f"this page's cursor is not valid ({exc}): start from the first page",
                next_cursor=None, known=self._known(), **context,
            )  # fmt: skip
        return self.site.render(
            request, "jobs.html", now=now, query=query, error=None, jobs=found.jobs,
            next_cursor=found.next_cursor, known=self._known(), **context,
        )  # fmt: skip

    def _known(self) -> dict[str, list[str]]:
        """Queue and task names to suggest in the filters."""
        tasks = self.site.conveyor.tasks
        return {
            "queues": sorted({task.config.queue for task in tasks.values()}),
            "tasks": sorted(tasks),
        }

    async def job(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        backend = await self.site.backend()
        now, record = await asyncio.gather(backend.now(), backend.get(job_id))
        if record is None:
            return self.site.render(
                request, "missing.html", status=404, now=now, page="jobs", job_id=job_id
            )
        presenter = self.site.presenter
        record = presenter.visible(record)
        workflow = await self._workflow(backend, record)
        final = record.state.is_final and (workflow is None or _settled(workflow))
        return self.site.render(
            request, "job.html", now=now, page="jobs", job=record,
            live_status=HTMX_STOP_POLLING if final else None,
            arguments=presenter.arguments(record), result=presenter.result(record),
            checkpoint=presenter.checkpoint(record),
            headers=self.site.redactor.headers(record.headers),
            correlation_id=record.headers.get(CORRELATION_HEADER), workflow=workflow,
        )  # fmt: skip

    async def _workflow(self, backend: Backend, record: JobRecord) -> WorkflowView | None:
        workflow_id = record.headers.get(WORKFLOW_HEADER)
        if workflow_id is None:
            return None
        try:
            shape = Shape.parse(record.headers.get(SHAPE_HEADER, ""))
        except ValueError:
            return None
        indexes = [str(i) for i in range(min(shape.size, SHOWN_STEPS))]
        ids = [step_id(workflow_id, int(i)) for i in indexes]
        if shape.kind == "chord":
            indexes.append("callback")
            ids.append(callback_id(workflow_id))
        records = await _gather([backend.get(job_id) for job_id in ids])
        state: JobState | None
        try:
            state = await self.site.conveyor.workflow(workflow_id).status()
        except ConveyorError:  # its first step is gone (result_ttl), or a step is
            state = None
        steps = [WorkflowStep(i, j, r) for i, j, r in zip(indexes, ids, records, strict=True)]
        return WorkflowView(workflow_id, shape, state, steps, max(0, shape.size - SHOWN_STEPS))

    async def workers(self, request: Request) -> Response:
        backend = await self.site.backend()
        now, found = await asyncio.gather(backend.now(), backend.workers())
        pages = await _gather(
            [
                backend.page_jobs(
                    JobFilter(
                        state=JobState.ACTIVE,
                        worker=info.name,
                        limit=min(max(info.concurrency, 1), RUNNING_SHOWN),
                    )
                )
                for info in found
            ]
        )
        rows = [WorkerRow(info, page.jobs) for info, page in zip(found, pages, strict=True)]
        return self.site.render(request, "workers.html", now=now, page="workers", workers=rows)

    async def queues(self, request: Request) -> Response:
        backend = await self.site.backend()
        now, queues = await asyncio.gather(backend.now(), self._queues(backend))
        return self.site.render(request, "queues.html", now=now, page="queues", queues=queues)

    async def _queues(self, backend: Backend) -> list[QueueRow]:
        backlog, paused = await asyncio.gather(backend.backlog(), backend.paused_queues())
        names = {task.config.queue for task in self.site.conveyor.tasks.values()}
        names |= set(backlog) | paused
        return [
            QueueRow(name, backlog.get(name, QueueBacklog()), name in paused)
            for name in sorted(names)
        ]

    async def schedules(self, request: Request) -> Response:
        backend = await self.site.backend()
        now = await backend.now()
        listed = sorted(self.site.conveyor.schedules.values(), key=lambda s: s.name)
        ticks = [(s.next_tick(now), s.latest_tick(now)) for s in listed]
        latest = await _gather(
            [_job_or_none(backend, None if t is None else s.job_id(t)) for s, (_, t) in
             zip(listed, ticks, strict=True)]
        )  # fmt: skip
        rows = [
            ScheduleRow(s, upcoming, last, job)
            for s, (upcoming, last), job in zip(listed, ticks, latest, strict=True)
        ]
        return self.site.render(
            request, "schedules.html", now=now, page="schedules", schedules=rows
        )


def _settled(workflow: WorkflowView) -> bool:
    return workflow.state is not None and workflow.state.is_final


async def _job_or_none(backend: Backend, job_id: str | None) -> JobRecord | None:
    return None if job_id is None else await backend.get(job_id)


async def _gather(calls: Sequence[Awaitable[T]]) -> list[T]:
    """Await the calls, at most PARALLEL_READS at a time, in order."""
    limit = asyncio.Semaphore(PARALLEL_READS)

    async def one(call: Awaitable[T]) -> T:
        async with limit:
            return await call

    return list(await asyncio.gather(*(one(call) for call in calls)))


FILL_BUDGET = 0.2  # seconds a jobs page may spend following short pages before it answers


async def _filled_page(backend: Backend, wanted: JobFilter) -> JobPage:
    """A page of `wanted`, topped up from the pages after it while time allows: a store may
    answer a rare filter with a short page (a bounded scan) and a cursor to go on from."""
    started = time.monotonic()
    page = await backend.page_jobs(wanted)
    jobs = list(page.jobs)
    cursor = page.next_cursor
    while cursor is not None and len(jobs) < wanted.limit:
        if time.monotonic() - started > FILL_BUDGET:
            break
        more = await backend.page_jobs(
            dataclasses.replace(wanted, cursor=cursor, limit=wanted.limit - len(jobs))
        )
        jobs.extend(more.jobs)
        cursor = more.next_cursor
    return JobPage(jobs, cursor)
