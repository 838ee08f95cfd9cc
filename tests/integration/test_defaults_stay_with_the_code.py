"""Only the arguments the caller gave are sent; the worker applies the function's defaults."""

from __future__ import annotations

import json
from typing import Any

from conveyor import Conveyor, Task

from .support import work_off


async def greet(name: str, greeting: str = "hello", punctuation: str = "!") -> str:
    return f"{greeting} {name}{punctuation}"


async def test_a_default_is_not_written_into_the_payload(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(greet)

    handle = await task.enqueue("ada", punctuation="?")

    stored = await (await app.connected()).get(handle.id)
    assert stored is not None
    assert json.loads(stored.payload) == {"name": "ada", "punctuation": "?"}


async def test_the_worker_applies_the_defaults_of_the_code_it_runs(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(greet)

    handle = await task.enqueue("ada", punctuation="?")
    await work_off(app)

    assert await handle.result(timeout=5) == "hello ada?"
