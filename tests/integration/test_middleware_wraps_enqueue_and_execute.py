"""Middleware nest like an onion around the enqueue and the execution of jobs; an enqueue
hook runs before anything is stored, may add headers, and can stop the enqueue."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from conveyor import ConfigurationError, Context, Conveyor, Task, chain
from conveyor.backends.base import JobFilter
from conveyor.middleware import Job, Middleware, OutgoingJob

from .middleware_support import Outcomes, Tracer
from .support import work_off

events: list[tuple[str, ...]] = []


@pytest.fixture(autouse=True)
def _forget() -> None:
    events.clear()


async def add(a: int, b: int) -> int:
    events.append(("task", "ran"))
    return a + b


async def show_headers(ctx: Context = Context.INJECTED) -> dict[str, str]:
    return dict(ctx.headers)


class Stamp(Middleware):
    """Adds a header to every job it sees stored."""

    async def enqueue(
        self, jobs: Sequence[OutgoingJob], call_next: Callable[[], Awaitable[Sequence[bool]]]
    ) -> Sequence[bool]:
        for job in jobs:
            job.headers["tenant"] = "acme"
        return await call_next()


class StoreWatcher(Middleware):
    """Looks in the store before and after `call_next()`: what the hook sees is not stored yet."""

    def __init__(self, app: Conveyor) -> None:
        self.app = app
        self.before: list[bool] = []
        self.after: list[bool] = []

    async def enqueue(
        self, jobs: Sequence[OutgoingJob], call_next: Callable[[], Awaitable[Sequence[bool]]]
    ) -> Sequence[bool]:
        backend = await self.app.connected()
        self.before += [await backend.get(job.id) is not None for job in jobs]
        stored = await call_next()
        self.after += [await backend.get(job.id) is not None for job in jobs]
        return stored


class Refuse(Middleware):
    async def enqueue(
        self, jobs: Sequence[OutgoingJob], call_next: Callable[[], Awaitable[Sequence[bool]]]
    ) -> Sequence[bool]:
        raise PermissionError(f"tenant over quota: {len(jobs)} jobs refused")


class Forget(Middleware):
    """Returns without calling call_next(): a bug in a user's middleware."""

    async def enqueue(
        self, jobs: Sequence[OutgoingJob], call_next: Callable[[], Awaitable[Sequence[bool]]]
    ) -> Sequence[bool]:
        return [True] * len(jobs)


class OnlyEnded(Outcomes):
    """Overrides job_ended alone."""


class OnlyExecute(Middleware):
    async def execute(self, job: Job, call_next: Callable[[], Awaitable[None]]) -> None:
        events.append(("only-execute", "execute", job.id))
        await call_next()


async def stored_count(app: Conveyor) -> int:
    return len(await (await app.connected()).list_jobs(JobFilter(limit=100)))


async def test_hooks_nest_outer_first_and_job_ended_is_told_innermost_first(
    app: Conveyor,
) -> None:
    app.add_middleware(Tracer("outer", events))
    app.add_middleware(Tracer("inner", events))
    task: Task[..., Any] = app.task(add)

    handle = await task.enqueue(2, 3)
    await work_off(app)

    assert await handle.result(timeout=5) == 5
    assert events == [
        ("outer", "enqueue in", task.name),
        ("inner", "enqueue in", task.name),
        ("inner", "enqueue out"),
        ("outer", "enqueue out"),
        ("outer", "execute in", handle.id),
        ("inner", "execute in", handle.id),
        ("task", "ran"),
        ("inner", "execute out", handle.id),
        ("outer", "execute out", handle.id),
        ("inner", "ended", handle.id, "succeeded"),
        ("outer", "ended", handle.id, "succeeded"),
    ]


async def test_middleware_given_to_the_constructor_nest_in_the_order_given(url: str) -> None:
    app = Conveyor(url, middleware=[Tracer("first", events), Tracer("second", events)])
    try:
        await app.task(add).enqueue(1, 1)
    finally:
        await app.close()

    assert [event[0] for event in events] == ["first", "second", "second", "first"]
    assert [type(m).__name__ for m in app.middleware] == ["JobContext", "Tracer", "Tracer"]


async def test_the_enqueue_hook_runs_before_the_jobs_are_stored(app: Conveyor) -> None:
    watcher = StoreWatcher(app)
    app.add_middleware(watcher)
    task: Task[..., Any] = app.task(add)

    await app.enqueue_many([task.s(1, 2), task.s(3, 4)])

    assert watcher.before == [False, False]
    assert watcher.after == [True, True]


async def test_a_middleware_is_called_only_for_the_hooks_it_defines(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The base class's hooks are never called: a middleware that only listens costs the
    enqueue and the execution nothing."""
    base_calls: list[str] = []
    base_enqueue, base_execute, base_ended = (
        Middleware.enqueue,
        Middleware.execute,
        Middleware.job_ended,
    )

    async def enqueue(self: Middleware, jobs: Any, call_next: Any) -> Sequence[bool]:
        base_calls.append(f"{type(self).__name__}.enqueue")
        return await base_enqueue(self, jobs, call_next)

    async def execute(self: Middleware, job: Job, call_next: Any) -> None:
        base_calls.append(f"{type(self).__name__}.execute")
        await base_execute(self, job, call_next)

    def job_ended(self: Middleware, job: Job, outcome: Any, error: Any) -> None:
        base_calls.append(f"{type(self).__name__}.job_ended")
        base_ended(self, job, outcome, error)

    monkeypatch.setattr(Middleware, "enqueue", enqueue)
    monkeypatch.setattr(Middleware, "execute", execute)
    monkeypatch.setattr(Middleware, "job_ended", job_ended)
    listener = OnlyEnded()
    app.add_middleware(listener)
    app.add_middleware(OnlyExecute())
    task: Task[..., Any] = app.task(add)

    handle = await task.enqueue(1, 2)
    await work_off(app)

    assert await handle.result(timeout=5) == 3
    assert base_calls == []
    assert listener.of(handle.id) == [(1, "succeeded")]
    assert events == [("only-execute", "execute", handle.id), ("task", "ran")]


async def test_a_header_added_at_enqueue_is_stored_and_seen_by_the_task(app: Conveyor) -> None:
    app.add_middleware(Stamp())
    task: Task[..., Any] = app.task(show_headers)

    handle = await task.options(headers={"source": "api"}).enqueue()
    await work_off(app)

    assert (await handle.info()).headers == {"source": "api", "tenant": "acme"}
    assert await handle.result(timeout=5) == {"source": "api", "tenant": "acme"}


async def test_an_enqueue_hook_that_raises_reaches_the_caller_and_nothing_is_stored(
    app: Conveyor,
) -> None:
    app.add_middleware(Refuse())
    adder = app.task(add)
    task: Task[..., Any] = adder

    with pytest.raises(PermissionError, match="over quota: 1 jobs"):
        await task.enqueue(1, 2)
    with pytest.raises(PermissionError, match="over quota: 2 jobs"):
        await app.enqueue_many([task.s(1, 2), task.s(3, 4)])
    with pytest.raises(PermissionError, match="over quota"):
        await chain(adder.s(1, 2), adder.step(3)).enqueue()

    assert await stored_count(app) == 0


async def test_an_enqueue_hook_that_never_calls_call_next_is_an_error(app: Conveyor) -> None:
    app.add_middleware(Forget())
    adder = app.task(add)
    task: Task[..., Any] = adder

    with pytest.raises(ConfigurationError, match="without calling call_next"):
        await task.enqueue(1, 2)
    with pytest.raises(ConfigurationError, match="without calling call_next"):
        await chain(adder.s(1, 2), adder.step(3)).enqueue()

    assert await stored_count(app) == 0
