"""`unique=`: enqueues of the same call collapse into one job until its key is released."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from conveyor import ConfigurationError, Conveyor, JobState, Task

from .support import work_off


async def send(to: str) -> str:
    return f"sent to {to}"


async def test_until_started_collapses_pending_enqueues_of_one_call(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(unique="until_started")(send)

    first = await task.enqueue("a@b.c")
    second = await task.enqueue("a@b.c")
    other = await task.enqueue("other@b.c")
    worker = await work_off(app)

    assert (second.id, second.created) == (first.id, False)
    assert other.created is True
    assert other.id != first.id
    assert worker.processed == 2
    assert await first.result(timeout=5) == "sent to a@b.c"


async def test_until_finished_lets_a_new_job_in_once_the_first_ends(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(unique="until_finished")(send)
    first = await task.enqueue("a@b.c")
    await work_off(app)

    again = await task.enqueue("a@b.c")

    assert await first.status() is JobState.SUCCEEDED
    assert again.created is True
    assert again.id != first.id


async def test_a_duration_holds_the_call_after_it_ran(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(unique=datetime.timedelta(hours=1))(send)
    first = await task.enqueue("a@b.c")
    await work_off(app)

    again = await task.enqueue("a@b.c")

    assert (again.id, again.created) == (first.id, False)


async def test_options_set_or_drop_uniqueness_for_one_enqueue(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(unique="until_started")(send)
    plain: Task[..., Any] = app.task(name="plain")(send)

    kept = await task.enqueue("a@b.c")
    dropped = await task.options(unique=None).enqueue("a@b.c")
    made_unique = await plain.options(unique="until_started").enqueue("a@b.c")
    same = await plain.options(unique="until_started").enqueue("a@b.c")

    assert dropped.created is True
    assert dropped.id != kept.id
    assert (same.id, same.created) == (made_unique.id, False)


@pytest.mark.parametrize("unique", ["until_done", datetime.timedelta(0), 30])
def test_a_bad_unique_mode_is_refused_at_decoration(app: Conveyor, unique: Any) -> None:
    with pytest.raises(ConfigurationError, match="unique must be"):
        app.task(unique=unique)(send)


async def test_unique_and_job_id_together_are_refused(app: Conveyor) -> None:
    with pytest.raises(ConfigurationError, match="job_id or unique"):
        app.task(unique="until_started", job_id="fixed")(send)
    task: Task[..., Any] = app.task(unique="until_started")(send)

    with pytest.raises(ConfigurationError, match="job_id or unique"):
        await task.options(job_id="fixed").enqueue("a@b.c")
    assert await (await app.connected()).counts() == {}
