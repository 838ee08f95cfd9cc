"""Strings holding undecodable bytes (as `os.fsdecode` makes them) are refused or escaped."""

from __future__ import annotations

import os
from typing import Any

import pytest

from conveyor import ConfigurationError, Context, Conveyor, Task

from .support import work_off

FILE_NAME = os.fsdecode(b"report-\xe9.csv")  # not UTF-8: the byte comes back as a surrogate


async def read_file(ctx: Context = Context.INJECTED) -> str:
    await ctx.progress(0.5, f"reading {FILE_NAME}")
    return "read"


async def test_a_progress_message_keeps_undecodable_bytes_as_escapes(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(read_file)

    handle = await task.enqueue()
    await work_off(app)

    assert await handle.result(timeout=5) == "read"
    info = await handle.info()
    assert info.progress_message == "reading report-\\udce9.csv"


async def test_a_job_id_with_undecodable_bytes_is_refused_at_enqueue(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(read_file)

    with pytest.raises(ConfigurationError, match="not valid UTF-8"):
        await task.options(job_id=f"import-{FILE_NAME}").enqueue()

    assert await (await app.connected()).counts() == {}
