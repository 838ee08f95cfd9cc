"""Workflows: `chain`, `group` and a group's `.then` (a chord), above the Backend seam.

- chain(a.s(x), b.step(), c.step()): each step's success enqueues the next one, with the
  result as its first argument, in the same atomic write as the success. A failed step
  (retries spent) stops the chain.
- group(a.s(1), a.s(2)): the members are stored in one enqueue and run in parallel; the
  workflow's result is the list of their results, in order.
- group(...).then(cb.step()): each member's success enqueues a join check; the check that
  sees every member succeeded enqueues the callback, once, under the workflow's fixed
  callback id, with the list of results as its first argument. A failed member fails the
  chord: the callback never runs.

Everything is checked when the workflow is built, before anything is stored.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConfigurationError
from conveyor.job import JobRecord
from conveyor.job_ids import check_id, new_id
from conveyor.limits import limit_fields
from conveyor.task import Signature, Step
from conveyor.workflow_handle import WorkflowHandle
from conveyor.workflow_records import (
    CALLBACK_HEADER,
    NEXT_HEADER,
    POSITION_HEADER,
    SHAPE_HEADER,
    WORKFLOW_HEADER,
    Shape,
    spec,
    step_id,
)

if TYPE_CHECKING:
    from conveyor.app import Conveyor

# A chord's members must outlive the join that reads their results, and its callback must
# outlive the joins that could enqueue it again: a floor on their result_ttl.
MIN_CHORD_TTL = 60.0
MAX_WORKFLOW_ID = 150  # leaves room for the step suffixes within a job id's 200 characters


class Workflow(abc.ABC):
    """What chain, group and chord share: their jobs, and how they are stored."""

    def __init__(self, app: Conveyor, shape: Shape) -> None:
        self.app = app
        self.shape = shape

    async def enqueue(self, workflow_id: str | None = None) -> WorkflowHandle:
        """Store the workflow's first jobs in one write; a handle on the whole workflow.

        workflow_id: makes enqueue idempotent, like a job id: a workflow with this id that
        still exists is returned instead of stored again.
        """
        workflow = _checked_id(workflow_id) if workflow_id is not None else _new_id()
        headers = {WORKFLOW_HEADER: workflow, SHAPE_HEADER: self.shape.header()}
        records = self._first_jobs(workflow, headers)
        stored = await self.app.store(records)
        return WorkflowHandle(self.app, workflow, created=stored[0].created)

    def enqueue_sync(self, workflow_id: str | None = None) -> WorkflowHandle:
        return self.app.portal.call(self.enqueue(workflow_id))

    @abc.abstractmethod
    def _first_jobs(self, workflow: str, headers: dict[str, str]) -> list[JobRecord]: ...


class Chain(Workflow):
    """Steps run one after another; each result is the next step's first argument."""

    def __init__(self, first: Signature[Any], later: list[Step[Any]]) -> None:
        super().__init__(first.task.app, Shape("chain", 1 + len(later)))
        self.first = first
        self.later = later
        self._continuation = json.dumps([spec(step) for step in later]) if later else None
        _check_size(self.app, self._continuation, "the chain's later steps")

    def __repr__(self) -> str:
        names = [self.first.task.name, *(step.task.name for step in self.later)]
        return f"<Chain {' -> '.join(names)}>"

    def _first_jobs(self, workflow: str, headers: dict[str, str]) -> list[JobRecord]:
        own = {**headers, POSITION_HEADER: "0"}
        if self._continuation is not None:
            own[NEXT_HEADER] = self._continuation
        return [_as_step(self.first.record, step_id(workflow, 0), own)]


class Group(Workflow):
    """Members run in parallel; the result is the list of their results, in order."""

    def __init__(self, members: list[Signature[Any]]) -> None:
        super().__init__(members[0].task.app, Shape("group", len(members)))
        self.members = members

    def __repr__(self) -> str:
        return f"<Group of {len(self.members)}>"

    def then(self, callback: Step[Any]) -> Chord:
        """A chord: `callback` runs once with the list of every member's result, in order,
        as its first argument, after all of them succeeded."""
        if not isinstance(callback, Step):
            raise TypeError(
                f"then() takes task.step(...), got {callback!r}; the callback receives the "
                "list of results as its first argument"
            )
        _same_app(self.app, [callback], "then()")
        for task, ttl in [(m.task, m.record.result_ttl) for m in self.members] + [
            (callback.task, callback.record.result_ttl)
        ]:
            if ttl is not None and ttl < MIN_CHORD_TTL:
                raise ConfigurationError(
                    f"task {task.name!r} keeps results {ttl:g} s; a chord needs its members "
                    f"and callback kept at least {MIN_CHORD_TTL:g} s (result_ttl) so the "
                    "join can read every result and the callback runs once"
                )
        return Chord(self.members, callback)

    def _first_jobs(self, workflow: str, headers: dict[str, str]) -> list[JobRecord]:
        return [
            _as_step(member.record, step_id(workflow, index), {**headers, **self._extra(index)})
            for index, member in enumerate(self.members)
        ]

    def _extra(self, index: int) -> dict[str, str]:
        return {POSITION_HEADER: str(index)}


class Chord(Group):
    """A group whose callback runs once with all the results."""

    def __init__(self, members: list[Signature[Any]], callback: Step[Any]) -> None:
        super().__init__(members)
        self.shape = Shape("chord", len(members))
        self.callback = callback
        self._callback = json.dumps(spec(callback))
        _check_size(self.app, self._callback, "the chord's callback")

    def __repr__(self) -> str:
        return f"<Chord of {len(self.members)} then {self.callback.task.name}>"

    def then(self, callback: Step[Any]) -> Chord:
        raise ConfigurationError("this chord has its callback already")

    def _extra(self, index: int) -> dict[str, str]:
        return {POSITION_HEADER: str(index), CALLBACK_HEADER: self._callback}


def chain(*steps: Signature[Any] | Step[Any]) -> Chain:
    """`chain(fetch.s(url), parse.step(), store.step())`: run one after another, each
    result the next step's first argument."""
    if not steps:
        raise ConfigurationError("chain() needs at least one step, such as task.s(...)")
    first, *later = steps
    if not isinstance(first, Signature):
        raise TypeError(
            f"a chain starts with a complete call, task.s(...), got {first!r}: nothing "
            "comes before the first step"
        )
    steps_after: list[Step[Any]] = []
    for position, step in enumerate(later, 2):
        if not isinstance(step, Step):
            raise TypeError(
                f"step {position} of the chain must be task.step(...), which receives the "
                f"previous result as its first argument; got {step!r}"
            )
        steps_after.append(step)
    _same_app(first.task.app, steps_after, "chain()")
    return Chain(first, steps_after)


def group(*members: Signature[Any] | Iterable[Signature[Any]]) -> Group:
    """`group(a.s(1), a.s(2))` or `group(a.s(i) for i in ids)`: run in parallel."""
    calls: list[Any] = list(members)
    if len(calls) == 1 and not isinstance(calls[0], Signature):
        calls = list(calls[0])
    if not calls:
        raise ConfigurationError("group() needs at least one member, such as task.s(...)")
    for position, call in enumerate(calls, 1):
        if not isinstance(call, Signature):
            raise TypeError(f"member {position} of the group must be task.s(...), got {call!r}")
    _same_app(calls[0].task.app, calls, "group()")
    return Group(calls)


def _as_step(record: JobRecord, job_id: str, headers: dict[str, str]) -> JobRecord:
    return JobRecord(
        id=job_id,
        task=record.task,
        queue=record.queue,
        payload=record.payload,
        priority=record.priority,
        headers={**record.headers, **headers},
        max_attempts=record.max_attempts,
        timeout=record.timeout,
        result_ttl=record.result_ttl,
        delay=record.delay,
        **limit_fields(record),
    )


def _same_app(app: Conveyor, calls: Iterable[Signature[Any] | Step[Any]], where: str) -> None:
    for call in calls:
        if call.task.app is not app:
            raise ConfigurationError(f"{where}: {call.task.name} belongs to another Conveyor app")


def _check_size(app: Conveyor, text: str | None, what: str) -> None:
    if text is not None and len(text) > app.max_payload_bytes:
        raise ConfigurationError(
            f"{what} take {len(text)} bytes, over the {app.max_payload_bytes}-byte payload "
            "limit; pass references to large data instead"
        )


def _new_id() -> str:
    return f"wf-{new_id()}"


def _checked_id(workflow_id: object) -> str:
    return check_id(workflow_id, "a workflow id", MAX_WORKFLOW_ID)
