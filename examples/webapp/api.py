"""The example API: `uvicorn examples.webapp.api:api` (with `$CONVEYOR_URL` set).

Jobs run on a worker process (`conveyor worker examples.webapp.tasks:conveyor`), or inside
this process when `EMBEDDED_WORKER=1`: durable BackgroundTasks with no other process.
"""

from __future__ import annotations

import itertools
import logging
import os
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from conveyor import JobHandle
from conveyor.fastapi import (
    CorrelationIdFilter,
    CorrelationMiddleware,
    Jobs,
    conveyor_lifespan,
    jobs_router,
)
from conveyor.metrics import metrics_app

from .docs import serve_docs
from .tasks import build_report, conveyor, deliver_webhook, send_welcome_email

api = FastAPI(
    title="conveyor example",
    lifespan=conveyor_lifespan(conveyor, worker=os.environ.get("EMBEDDED_WORKER") == "1"),
    docs_url=None,  # FastAPI's pages load their scripts from a CDN: see serve_docs
    redoc_url=None,
)
serve_docs(api)  # /docs from vendored files: it works offline
api.add_middleware(CorrelationMiddleware)  # X-Request-ID (or a new id) travels into the jobs
api.include_router(jobs_router(conveyor))  # GET /jobs/{id}, /jobs/{id}/events, POST .../cancel
api.mount("/metrics", metrics_app(conveyor))  # Prometheus: what this API enqueued, the backlog

# a real app keeps these in its database
registered: set[str] = set()
report_ids = itertools.count(1)


class Signup(BaseModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", examples=["ada@example.com"])


class Report(BaseModel):
    pages: int = Field(default=5, ge=1, le=100)


class Webhook(BaseModel):
    url: str = Field(examples=["https://hooks.slow.example/orders"])
    event: dict[str, str] = Field(default={"type": "order.paid"})


class Accepted(BaseModel):
    """The job that will do the work, and where to follow it."""

    job_id: str
    status: str
    events: str


def accepted(job: JobHandle[Any]) -> Accepted:
    return Accepted(job_id=job.id, status=f"/jobs/{job.id}", events=f"/jobs/{job.id}/events")


@api.post("/signup", status_code=202)
async def signup(body: Signup, jobs: Jobs) -> Accepted:
    job = jobs.add(send_welcome_email, body.email)
    if body.email in registered:
        # the endpoint raises: the job added above is never stored, no email goes out
        raise HTTPException(409, f"{body.email} is already registered")
    registered.add(body.email)
    return accepted(job)


@api.post("/reports", status_code=202)
async def create_report(body: Report, jobs: Jobs) -> Accepted:
    return accepted(jobs.add(build_report, next(report_ids), pages=body.pages))


@api.post("/webhooks", status_code=202)
async def send_webhook(body: Webhook, jobs: Jobs) -> Accepted:
    return accepted(jobs.add(deliver_webhook, body.url, body.event))


def _log_with_correlation_ids() -> None:
    """Log lines of the jobs (when the worker is embedded) carry the request's id."""
    handler = logging.StreamHandler()
    handler.addFilter(CorrelationIdFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s: %(message)s")
    )
    for name in ("conveyor", "examples"):
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)


_log_with_correlation_ids()
