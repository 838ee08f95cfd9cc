"""What the jobs router answers: typed so the OpenAPI schema documents it."""

from __future__ import annotations

import datetime
import json

from pydantic import BaseModel, Field, JsonValue

from conveyor.context import CORRELATION_HEADER
from conveyor.encryption import is_sealed
from conveyor.job import JobEvent, JobRecord, JobState
from conveyor.sealing import ENCRYPTED, shown


class JobFailure(BaseModel):
    """Why a job failed. The traceback stays on the server (`conveyor jobs show`)."""

    type: str = Field(examples=["smtplib.SMTPServerDisconnected"])
    message: str
    reason: str = Field(
        description="exception, timeout, worker_lost, undecodable, unknown_task, cancelled, ..."
    )


class JobStatus(BaseModel):
    """A job's state, progress, outcome, attempts and timings."""

    id: str
    task: str
    queue: str
    state: JobState
    progress: float | None = Field(description="from 0.0 to 1.0, as the task last reported")
    message: str | None = Field(description="the message of the last progress report")
    result: JsonValue = Field(
        default=None,
        description='the return value, once succeeded ("encrypted" if this app cannot decrypt it)',
    )
    error: JobFailure | None = Field(
        description="why the last attempt failed: set while waiting to retry and once failed"
    )
    attempts: int
    max_attempts: int
    cancel_requested: bool
    correlation_id: str | None = Field(description="the id of the request that enqueued it")
    enqueued_at: datetime.datetime
    due_at: datetime.datetime = Field(description="when it may run (next retry, if scheduled)")
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None

    @classmethod
    def from_record(cls, record: JobRecord) -> JobStatus:
        error = record.error
        return cls(
            id=record.id,
            task=record.task,
            queue=record.queue,
            state=record.state,
            progress=record.progress,
            message=_text(record.progress_message),
            # results are stored as plain JSON: the API passes them on without the task's types
            result=_json(record.result),
            error=None
            if error is None
            else JobFailure(type=error.type, message=error.message, reason=error.reason),
            attempts=record.attempts,
            max_attempts=record.max_attempts,
            cancel_requested=record.cancel_requested,
            correlation_id=record.headers.get(CORRELATION_HEADER),
            enqueued_at=_utc(record.enqueued_at),
            due_at=_utc(record.due_at),
            started_at=None if record.started_at is None else _utc(record.started_at),
            finished_at=None if record.finished_at is None else _utc(record.finished_at),
        )


class JobUpdate(BaseModel):
    """One Server-Sent Event: the job's state and progress when either changed."""

    job_id: str
    state: JobState
    progress: float | None
    message: str | None

    @classmethod
    def from_event(cls, event: JobEvent) -> JobUpdate:
        return cls(
            job_id=event.job_id,
            state=event.state,
            progress=event.progress,
            message=_text(event.progress_message),
        )


class Problem(BaseModel):
    """An error answer, as FastAPI writes it for HTTPException."""

    detail: str


def _text(text: str | None) -> str | None:
    return None if text is None else shown(text)


def _json(data: bytes | None) -> JsonValue:
    """A stored JSON value; "encrypted" when it is and this app holds no key to read it."""
    if data is None:
        return None
    return ENCRYPTED if is_sealed(data) else json.loads(data)


def _utc(epoch: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC)
