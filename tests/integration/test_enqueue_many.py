"""`app.enqueue_many` stores many checked calls in one backend operation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from conveyor import ConfigurationError, Conveyor, JobState, Task
from conveyor.backends.base import Enqueued, JobFilter
from conveyor.job import JobRecord

from .support import work_off


async def square(n: int) -> int:
    return n * n


async def negate(n: int) -> int:
    return -n


async def test_n_calls_are_written_in_one_backend_call(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch
) -> None:
    task: Task[..., Any] = app.task(square)
    backend = await app.connected()
    calls: list[int] = []
    real_enqueue = backend.enqueue

    async def counting_enqueue(jobs: Sequence[JobRecord]) -> list[Enqueued]:
        calls.append(len(jobs))
        return await real_enqueue(jobs)

    monkeypatch.setattr(backend, "enqueue", counting_enqueue)

    handles = await app.enqueue_many([task.s(n) for n in range(25)])

    assert calls == [25]
    assert len({h.id for h in handles}) == 25
    assert all(h.created for h in handles)
    assert await backend.counts() == {"default": {JobState.QUEUED: 25}}


async def test_handles_come_back_in_call_order_and_give_each_result(app: Conveyor) -> None:
    square_task: Task[..., Any] = app.task(square)
    negate_task: Task[..., Any] = app.task(negate)

    handles = await app.enqueue_many([square_task.s(3), negate_task.s(3), square_task.s(4)])
    await work_off(app)

    assert [await h.result(timeout=5) for h in handles] == [9, -3, 16]


async def test_an_empty_batch_stores_nothing(app: Conveyor) -> None:
    assert await app.enqueue_many([]) == []
    assert await (await app.connected()).counts() == {}


async def test_something_that_is_not_a_signature_fails_the_whole_batch(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(square)
    batch: list[Any] = [task.s(1), square]

    with pytest.raises(TypeError, match=r"task\.s\(\.\.\.\)"):
        await app.enqueue_many(batch)
    assert await (await app.connected()).list_jobs(JobFilter()) == []


async def test_a_signature_of_another_app_fails_the_whole_batch(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(square)
    stranger = Conveyor("memory://").task(negate)

    with pytest.raises(ConfigurationError, match="belongs to another Conveyor app"):
        await app.enqueue_many([task.s(1), stranger.s(2)])
    assert await (await app.connected()).list_jobs(JobFilter()) == []
