"""The handle on a workflow: its overall state, its result, its steps, cancelling it.

A handle needs only the workflow's id: the shape travels in the headers of its first job,
and every other step's id is derived from the workflow's. It reads the steps' records, so a
workflow can be followed as long as they are kept (their tasks' `result_ttl`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from conveyor.errors import JobCancelled, JobFailed, JobNotFound, JobTimeout
from conveyor.job import PENDING_STATES, JobError, JobHandle, JobRecord, JobState
from conveyor.workflow_records import (
    SHAPE_HEADER,
    WORKFLOW_HEADER,
    Shape,
    callback_id,
    join_id,
    step_id,
)

if TYPE_CHECKING:
    from conveyor.app import Conveyor

# Cancelling stores a cancelled job under each id a step may still be enqueued with, so a
# step that finishes afterwards finds its follow-up's id taken. These fences are never due,
# and are kept long enough for any step still running to end.
FENCE_TASK = "conveyor.cancelled_step"
FENCE_DELAY = 10 * 365 * 86400.0
FENCE_TTL = 7 * 86400.0
LONGEST_WAIT = 1.0  # seconds between two looks at the whole workflow while waiting


@dataclasses.dataclass(frozen=True, slots=True)
class _Snapshot:
    state: JobState
    stopped_by: JobRecord | None = None  # the step that failed or was cancelled
    waiting_on: str | None = None  # the step whose end moves the workflow on
    finished: Sequence[JobRecord] = ()  # once succeeded: the records holding the result


class WorkflowHandle:
    """A reference to an enqueued workflow (`chain`, `group`, chord); cheap to create."""

    __slots__ = ("_app", "_shape", "created", "id")

    def __init__(self, app: Conveyor, workflow_id: str, created: bool = True) -> None:
        self._app = app
        self.id = workflow_id
        # False when enqueue found a workflow with this id already (idempotent enqueue)
        self.created = created
        self._shape: Shape | None = None

    def __repr__(self) -> str:
        return f"<WorkflowHandle id={self.id}>"

    async def status(self) -> JobState:
        """Overall: queued (nothing started), active, succeeded, failed or cancelled."""
        return (await self._snapshot()).state

    async def result(self, timeout: float | None = None) -> Any:
        """Wait for the workflow to end; the last step's result (a chain), the list of the
        members' results (a group) or the callback's result (a chord).

        Raises `JobFailed` for the step that failed, `JobCancelled` if the workflow was
        cancelled, `JobTimeout` if `timeout` seconds pass first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        backend = await self._app.connected()
        while True:
            snapshot = await self._snapshot()
            if snapshot.state.is_final:
                return self._outcome(snapshot)
            pause = LONGEST_WAIT if deadline is None else deadline - time.monotonic()
            if pause <= 0:
                raise JobTimeout(f"workflow {self.id} still {snapshot.state} after {timeout} s")
            pause = min(pause, LONGEST_WAIT)
            waited = None
            if snapshot.waiting_on is not None:
                waited = await backend.wait_final(snapshot.waiting_on, time.monotonic() + pause)
            if waited is None:  # a step about to be enqueued (the chord's callback)
                await asyncio.sleep(min(pause, 0.02))

    def result_sync(self, timeout: float | None = None) -> Any:
        return self._app.portal.call(self.result(timeout))

    async def cancel(self) -> JobState:
        """Cancel the steps not run yet and ask running ones to stop (as `JobHandle.cancel`);
        no later step is enqueued afterwards. Returns the overall state after the request."""
        shape = await self.shape()
        backend = await self._app.connected()
        members = [step_id(self.id, index) for index in range(shape.size)]
        if shape.kind == "chain":
            later = members[1:]
        elif shape.kind == "chord":
            later = [join_id(self.id, index) for index in range(shape.size)]
            later.append(callback_id(self.id))
        else:
            later = []
        if later:  # fences first: a step finishing meanwhile cannot enqueue past them
            await backend.enqueue(
                self._app.sealed([self._fence(job_id, shape) for job_id in later])
            )
        await asyncio.gather(*(backend.cancel(job_id) for job_id in dict.fromkeys(members + later)))
        return await self.status()

    def cancel_sync(self) -> JobState:
        return self._app.portal.call(self.cancel())

    async def steps(self) -> list[JobHandle[Any]]:
        """Handles on the workflow's jobs that exist: a chain's steps so far, a group's
        members, then a chord's callback once enqueued."""
        shape = await self.shape()
        ids = [step_id(self.id, index) for index in range(shape.size)]
        if shape.kind == "chord":
            ids.append(callback_id(self.id))
        records = await self._records(ids)
        return [JobHandle(self._app, r.id, r.task) for r in records if r is not None]

    async def shape(self) -> Shape:
        """What the workflow is (chain, group or chord) and how many steps or members."""
        if self._shape is None:
            first = await (await self._app.connected()).get(step_id(self.id, 0))
            if first is None or first.headers.get(WORKFLOW_HEADER) != self.id:
                raise JobNotFound(f"no workflow with id {self.id!r}")
            self._shape = Shape.parse(first.headers[SHAPE_HEADER])
        return self._shape

    # -- reading the steps -----------------------------------------------------------------

    async def _snapshot(self) -> _Snapshot:
        shape = await self.shape()
        if shape.kind == "chain":
            return await self._chain(shape.size)
        members = await self._members(shape.size)
        if shape.kind == "group" or members.state is not JobState.SUCCEEDED:
            return members
        return await self._callback(shape.size)

    async def _chain(self, size: int) -> _Snapshot:
        backend = await self._app.connected()
        for index in range(size):
            record = self._present(await backend.get(step_id(self.id, index)), index)
            if record.state is JobState.SUCCEEDED:
                if index == size - 1:
                    return _Snapshot(JobState.SUCCEEDED, finished=[record])
                continue  # its success enqueued the next step in the same write
            if record.state.is_final:
                return _Snapshot(record.state, stopped_by=record)
            queued = index == 0 and record.state in PENDING_STATES
            return _Snapshot(JobState.QUEUED if queued else JobState.ACTIVE, waiting_on=record.id)
        raise AssertionError("a chain has at least one step")

    async def _members(self, size: int) -> _Snapshot:
        found = await self._records([step_id(self.id, index) for index in range(size)])
        records = [self._present(record, index) for index, record in enumerate(found)]
        for state in (JobState.FAILED, JobState.CANCELLED):
            stopped = next((r for r in records if r.state is state), None)
            if stopped is not None:
                return _Snapshot(state, stopped_by=stopped)
        running = [r for r in records if not r.state.is_final]
        if not running:
            return _Snapshot(JobState.SUCCEEDED, finished=records)
        queued = all(r.state in PENDING_STATES for r in records)
        state = JobState.QUEUED if queued else JobState.ACTIVE
        return _Snapshot(state, waiting_on=running[0].id)

    async def _callback(self, size: int) -> _Snapshot:
        backend = await self._app.connected()
        callback = await backend.get(callback_id(self.id))
        if callback is None:  # not enqueued yet; unless every join check gave up
            joins = await self._records([join_id(self.id, index) for index in range(size)])
            broken = next((j for j in joins if j is not None and j.state is JobState.FAILED), None)
            if broken is not None:
                return _Snapshot(JobState.FAILED, stopped_by=broken)
            return _Snapshot(JobState.ACTIVE)
        if callback.state is JobState.SUCCEEDED:
            return _Snapshot(JobState.SUCCEEDED, finished=[callback])
        if callback.state.is_final:
            return _Snapshot(callback.state, stopped_by=callback)
        return _Snapshot(JobState.ACTIVE, waiting_on=callback.id)

    async def _records(self, ids: Sequence[str]) -> list[JobRecord | None]:
        backend = await self._app.connected()
        return list(await asyncio.gather(*(backend.get(job_id) for job_id in ids)))

    def _present(self, record: JobRecord | None, index: int) -> JobRecord:
        if record is None:
            raise JobNotFound(
                f"step {index} of workflow {self.id} is gone: its record outlived its result_ttl"
            )
        return record

    def _outcome(self, snapshot: _Snapshot) -> Any:
        stopped = snapshot.stopped_by
        if stopped is not None and stopped.state is JobState.CANCELLED:
            raise JobCancelled(f"workflow {self.id} was cancelled (job {stopped.id})")
        if stopped is not None:
            error = stopped.error or JobError("Unknown", "no error recorded", None, "unknown")
            raise JobFailed(stopped.id, error.type, error.message, error.traceback, error.reason)
        values = [self._app.decode_result(record) for record in snapshot.finished]
        return values if self._shape is not None and self._shape.kind == "group" else values[0]

    def _fence(self, job_id: str, shape: Shape) -> JobRecord:
        return JobRecord(
            id=job_id,
            task=FENCE_TASK,
            queue=self._app.default_queue,
            payload=b"{}",
            headers={WORKFLOW_HEADER: self.id, SHAPE_HEADER: shape.header()},
            result_ttl=FENCE_TTL,
            delay=FENCE_DELAY,
        )
