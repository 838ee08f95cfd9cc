"""The job records of a workflow's steps, as the producer, the worker and the chord's join
build them.

Everything a workflow needs later travels in its jobs' headers, so no backend stores
anything new: the workflow's id and shape on every job, a chain step's continuation (the
later steps), a chord member's callback. A worker turns them into follow-up jobs that the
backend enqueues atomically with the step's success. Step ids are derived from the
workflow's id, so a follow-up that is written twice (a rerun after a crash, two joins
racing) finds its job already there.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any, Literal

from conveyor.errors import JobNotFound, PayloadTooLarge, SerializationError
from conveyor.job import JobRecord, JobState
from conveyor.limits import limit_fields, step_limits
from conveyor.task import Step, Task, TaskConfig

if TYPE_CHECKING:
    from conveyor.app import Conveyor

Kind = Literal["chain", "group", "chord"]

WORKFLOW_HEADER = "workflow"  # the workflow's id, on each of its jobs
SHAPE_HEADER = "workflow_shape"  # "chain:3", "group:4", "chord:4": what a handle reads
POSITION_HEADER = "workflow_step"  # a step's (or member's) index
NEXT_HEADER = "workflow_next"  # a chain step's continuation: the later steps, as JSON
CALLBACK_HEADER = "workflow_callback"  # a chord member's callback step, as JSON
ARGUMENT_HEADERS = (NEXT_HEADER, CALLBACK_HEADER)  # they hold later steps' arguments

JOIN_TASK = "conveyor.chord_join"
JOIN_ATTEMPTS = 5  # the join only reads and enqueues: its retries cover a backend hiccup


@dataclasses.dataclass(frozen=True, slots=True)
class Shape:
    kind: Kind
    size: int  # steps of a chain, members of a group or chord

    def header(self) -> str:
        return f"{self.kind}:{self.size}"

    @classmethod
    def parse(cls, text: str) -> Shape:
        kind, _, size = text.partition(":")
        if kind not in ("chain", "group", "chord") or not size.isdigit():
            raise ValueError(f"not a workflow shape: {text!r}")
        return cls(kind, int(size))  # type: ignore[arg-type]


def step_id(workflow: str, index: int) -> str:
    return f"{workflow}:{index}"


def join_id(workflow: str, member: int) -> str:
    return f"{workflow}:join:{member}"


def callback_id(workflow: str) -> str:
    return f"{workflow}:callback"


def spec(step: Step[Any]) -> dict[str, Any]:
    """A step as JSON, to travel in a header until its turn comes."""
    record = step.record
    return {
        "task": record.task,
        "into": step.into,
        "args": record.payload.decode(),
        "queue": record.queue,
        "priority": record.priority,
        "max_attempts": record.max_attempts,
        "timeout": record.timeout,
        "result_ttl": record.result_ttl,
        "delay": record.delay,
        "headers": record.headers,
        **limit_fields(record),
    }


def fed(step: dict[str, Any], value: bytes) -> bytes:
    """The step's payload: `value` (JSON) as its first argument, then its own arguments.

    Both halves are the codecs' exact bytes, joined without decoding: the next task's
    codec restores the value's type from its own annotation.
    """
    rest = step["args"].encode()
    head = b"{" + json.dumps(step["into"]).encode() + b":" + value
    return head + (b"}" if rest == b"{}" else b"," + rest[1:])


def step_record(
    step: dict[str, Any], job_id: str, payload: bytes, headers: dict[str, str]
) -> JobRecord:
    return JobRecord(
        id=job_id,
        task=step["task"],
        queue=step["queue"],
        payload=payload,
        priority=step["priority"],
        headers={**step["headers"], **headers},
        max_attempts=step["max_attempts"],
        timeout=step["timeout"],
        result_ttl=step["result_ttl"],
        delay=step["delay"],
        **step_limits(step),
    )


def follow_ups(record: JobRecord, result: bytes) -> list[JobRecord]:
    """The jobs a workflow step's success enqueues with it: the chain's next step, or the
    chord's join check. None for a job outside a workflow, or the last step."""
    headers = record.headers
    workflow = headers.get(WORKFLOW_HEADER)
    if workflow is None:
        return []
    try:
        if NEXT_HEADER in headers:
            return [_next_step(workflow, headers, result)]
        if CALLBACK_HEADER in headers:
            return [_join_check(workflow, record, headers)]
    except (ValueError, KeyError, TypeError) as exc:
        raise SerializationError(f"the job's workflow headers are damaged: {exc!r}") from exc
    return []


def _next_step(workflow: str, headers: dict[str, str], result: bytes) -> JobRecord:
    following, *later = json.loads(headers[NEXT_HEADER])
    position = int(headers[POSITION_HEADER]) + 1
    own = {
        WORKFLOW_HEADER: workflow,
        SHAPE_HEADER: headers[SHAPE_HEADER],
        POSITION_HEADER: str(position),
    }
    if later:
        own[NEXT_HEADER] = json.dumps(later)
    return step_record(following, step_id(workflow, position), fed(following, result), own)


def _join_check(workflow: str, member: JobRecord, headers: dict[str, str]) -> JobRecord:
    shape = Shape.parse(headers[SHAPE_HEADER])
    position = int(headers[POSITION_HEADER])
    callback = json.loads(headers[CALLBACK_HEADER])
    arguments = {
        "workflow": workflow,
        "members": shape.size,
        "after": position,
        "callback": callback,
    }
    return JobRecord(
        id=join_id(workflow, position),
        task=JOIN_TASK,
        queue=member.queue,  # served for sure: the member's worker takes this queue
        payload=json.dumps(arguments).encode(),
        priority=member.priority,
        headers={WORKFLOW_HEADER: workflow, SHAPE_HEADER: shape.header()},
        max_attempts=JOIN_ATTEMPTS,
        result_ttl=callback["result_ttl"],  # it fences a cancelled chord as long as the callback
    )


def join_task(app: Conveyor) -> Task[Any, bool]:
    """The chord's join check, a task every app runs without registering it."""

    async def join_chord(workflow: str, members: int, after: int, callback: dict[str, Any]) -> bool:
        return await _join(app, workflow, members, after, callback)

    config = TaskConfig(queue=app.default_queue, retries=JOIN_ATTEMPTS - 1)
    return Task(app, join_chord, JOIN_TASK, config)


async def _join(
    app: Conveyor, workflow: str, members: int, after: int, callback: dict[str, Any]
) -> bool:
    """Enqueue the callback if every member has succeeded; True if they all had.

    Each member's success enqueues a check, so the check of the member that committed
    last sees every result. The callback's id is fixed: checks that race, or rerun after
    a crash, find it enqueued already.
    """
    backend = await app.connected()
    results: dict[int, bytes] = {}
    # the members after this one are the likeliest to be unfinished: look there first, so
    # most checks stop after one read and a chord of n members costs about 2n reads
    for index in [*range(after + 1, members), *range(after + 1)]:
        record = await backend.get(step_id(workflow, index))
        if record is None:
            raise JobNotFound(
                f"member {index} of chord {workflow} is gone before the chord joined: its "
                "record outlived its result_ttl; give the task a longer one"
            )
        if record.state is not JobState.SUCCEEDED:
            return False  # not yet (its own check comes later), or never: no callback
        result = app.opened_result(record)
        results[index] = result if result is not None else b"null"
    values = b"[" + b",".join(results[index] for index in range(members)) + b"]"
    payload = fed(callback, values)
    if len(payload) > app.max_payload_bytes:
        raise PayloadTooLarge(
            f"the results of chord {workflow} are {len(payload)} bytes together, over the "
            f"{app.max_payload_bytes}-byte limit of the callback's arguments"
        )
    own = {WORKFLOW_HEADER: workflow, SHAPE_HEADER: Shape("chord", members).header()}
    await app.store([step_record(callback, callback_id(workflow), payload, own)])
    return True
