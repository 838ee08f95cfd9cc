"""The enqueue hooks run for every job stored, not only the caller's: cron ticks, a
workflow's first jobs, its next steps and a chord's callback, and jobs a task enqueues.
Next steps are stored from inside the step's execute hooks, so what a hook made current
there (a trace, a correlation id) reaches them."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import pytest

from conveyor import Context, Conveyor, JobState, Task, chain, group
from conveyor.backends.base import JobFilter
from conveyor.correlation import reset_correlation_id, set_correlation_id
from conveyor.middleware import Job, Middleware, OutgoingJob
from conveyor.scheduler import Scheduler

from .support import running_worker, settle, work_off

# the id of the job whose execute hook is running here: what a tracing middleware keeps
_running: contextvars.ContextVar[str | None] = contextvars.ContextVar("running", default=None)


class Lineage(Middleware):
    """Stamps each job stored with the job that was running when it was stored."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def enqueue(
        self, jobs: Sequence[OutgoingJob], call_next: Callable[[], Awaitable[Sequence[bool]]]
    ) -> Sequence[bool]:
        self.batches.append([job.id for job in jobs])
        for job in jobs:
            job.headers["parent"] = _running.get() or "-"
        return await call_next()

    async def execute(self, job: Job, call_next: Callable[[], Awaitable[None]]) -> None:
        token = _running.set(job.id)
        try:
            await call_next()
        finally:
            _running.reset(token)


async def append(seen: list[str], letter: str) -> list[str]:
    return [*seen, letter]


async def square(n: int) -> int:
    return n * n


def total(values: list[int]) -> int:
    return sum(values)


async def tick() -> None:
    return None


async def whoami(ctx: Context = Context.INJECTED) -> str | None:
    return ctx.correlation_id


@pytest.fixture
def lineage(app: Conveyor) -> Lineage:
    middleware = Lineage()
    app.add_middleware(middleware)
    return middleware


@pytest.fixture
def request_id() -> Iterator[str]:
    token = set_correlation_id("req-42")
    try:
        yield "req-42"
    finally:
        reset_correlation_id(token)


async def headers_of(app: Conveyor) -> dict[str, dict[str, str]]:
    records = await (await app.connected()).list_jobs(JobFilter(limit=100))
    return {record.id: record.headers for record in records}


async def test_a_cron_tick_goes_through_the_enqueue_hooks(app: Conveyor, lineage: Lineage) -> None:
    app.cron("* * * * *", name="minutely")(app.task(tick))

    [handle] = await Scheduler(app).enqueue_due(time.time())

    assert lineage.batches == [[handle.id]]
    assert (await headers_of(app))[handle.id]["parent"] == "-"


async def test_a_workflows_first_jobs_are_one_batch(app: Conveyor, lineage: Lineage) -> None:
    sq: Task[..., Any] = app.task(square)

    first = await group(sq.s(n) for n in range(3)).enqueue()
    second = await chain(sq.s(2), sq.step()).enqueue()

    assert lineage.batches == [[f"{first.id}:{n}" for n in range(3)], [f"{second.id}:0"]]


async def test_a_chains_next_step_is_stored_inside_the_steps_execute_hook(
    app: Conveyor, lineage: Lineage
) -> None:
    add = app.task(append)

    workflow = await chain(add.s([], "a"), add.step("b"), add.step("c")).enqueue()
    async with running_worker(app):
        await settle(workflow)

    assert await workflow.result(timeout=5) == ["a", "b", "c"]
    steps = [f"{workflow.id}:{n}" for n in range(3)]
    assert lineage.batches == [[step] for step in steps]
    headers = await headers_of(app)
    assert [headers[step]["parent"] for step in steps] == ["-", steps[0], steps[1]]


async def test_a_chords_join_checks_and_callback_go_through_the_hooks(
    app: Conveyor, lineage: Lineage
) -> None:
    sq = app.task(square)
    cb = app.task(total)

    workflow = await group(sq.s(n) for n in range(2)).then(cb.step()).enqueue()
    async with running_worker(app, concurrency=2):
        await settle(workflow)

    assert await workflow.result(timeout=5) == 1
    headers = await headers_of(app)
    members = [f"{workflow.id}:{n}" for n in range(2)]
    joins = [f"{workflow.id}:join:{n}" for n in range(2)]
    callback = f"{workflow.id}:callback"
    assert [headers[join]["parent"] for join in joins] == members
    assert headers[callback]["parent"] in joins
    # both checks may find every member done and store the callback: its id keeps it once
    assert {job for batch in lineage.batches for job in batch} == {*members, *joins, callback}


async def spawn(n: int, ctx: Context = Context.INJECTED) -> str:
    child: Task[..., Any] = ctx.state.child
    handle = await child.enqueue(n)
    return handle.id


async def test_a_job_enqueued_by_a_running_task_goes_through_the_hooks(
    app: Conveyor, lineage: Lineage
) -> None:
    parent: Task[..., Any] = app.task(spawn)
    child = app.task(square)

    @app.on_startup
    async def share(state: Any) -> None:
        state.child = child

    handle = await parent.enqueue(3)
    await work_off(app)

    child_id = await handle.result(timeout=5)
    assert lineage.batches == [[handle.id], [child_id]]
    assert (await headers_of(app))[child_id]["parent"] == handle.id
    assert await app.job(child_id).result(timeout=5) == 9


async def test_the_correlation_id_reaches_every_step_of_a_workflow(
    app: Conveyor, request_id: str
) -> None:
    me: Task[..., Any] = app.task(whoami)

    def passing(previous: Any, ctx: Context = Context.INJECTED) -> list[Any]:
        return [previous, ctx.correlation_id]

    later = app.task(name="later")(passing)
    steps = await chain(me.s(), later.step()).enqueue()
    members = await group(me.s(), me.s()).then(later.step()).enqueue()
    async with running_worker(app, concurrency=2):
        await settle(steps)
        await settle(members)

    assert await steps.result(timeout=5) == [request_id, request_id]
    assert await members.result(timeout=5) == [[request_id, request_id], request_id]
    for job_id, headers in (await headers_of(app)).items():
        assert headers.get("correlation_id") == request_id, job_id
    assert (await app.job(f"{steps.id}:1").info()).state is JobState.SUCCEEDED
