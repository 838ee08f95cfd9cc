"""Startup and shutdown hooks run once per worker; tasks see what they set as `ctx.state`."""

from __future__ import annotations

import types
from typing import Any

import pytest

from conveyor import Context, Conveyor, Task

from .support import work_off

calls: list[str] = []


@pytest.fixture(autouse=True)
def _forget() -> None:
    calls.clear()


async def open_pool(state: types.SimpleNamespace) -> None:
    calls.append("startup")
    state.pool = "pool-1"


async def close_pool(state: types.SimpleNamespace) -> None:
    calls.append(f"shutdown:{state.pool}")


async def use_pool(n: int, ctx: Context = Context.INJECTED) -> str:
    calls.append(f"job:{n}")
    return f"{ctx.state.pool}:{n}"


async def test_hooks_run_once_around_all_the_jobs(app: Conveyor) -> None:
    app.on_startup(open_pool)
    app.on_shutdown(close_pool)
    task: Task[..., Any] = app.task(use_pool)

    handles = await app.enqueue_many([task.s(n) for n in range(3)])
    await work_off(app)

    assert calls[0] == "startup"
    assert calls[-1] == "shutdown:pool-1"
    assert sorted(calls[1:-1]) == ["job:0", "job:1", "job:2"]
    assert [await h.result(timeout=5) for h in handles] == ["pool-1:0", "pool-1:1", "pool-1:2"]


async def test_hooks_run_even_when_there_is_no_job(app: Conveyor) -> None:
    app.on_startup(open_pool)
    app.on_shutdown(close_pool)
    app.task(use_pool)

    await work_off(app)

    assert calls == ["startup", "shutdown:pool-1"]
