"""A job naming an unknown task, or whose payload cannot be decoded, fails with the reason
while the jobs around it keep flowing."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Conveyor, JobFailed, JobState, Task
from conveyor.job import JobRecord

from .support import work_off


async def double(n: int) -> int:
    return n * 2


async def _insert_raw(app: Conveyor, *records: JobRecord) -> None:
    """Write records straight to the backend, as an old producer or a bad actor might."""
    results = await (await app.connected()).enqueue(records)
    assert all(result.created for result in results)


async def test_an_unknown_task_fails_with_reason_unknown_task(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(double)
    before = await task.enqueue(1)
    await _insert_raw(
        app, JobRecord(id="ghost", task="old.module.gone", queue="default", payload=b"{}")
    )
    after = await task.enqueue(2)

    await work_off(app)

    ghost = await app.job("ghost").info()
    assert ghost.state is JobState.FAILED
    assert ghost.error is not None
    assert ghost.error.reason == "unknown_task"
    assert "old.module.gone" in ghost.error.message
    assert [await before.result(timeout=5), await after.result(timeout=5)] == [2, 4]


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        pytest.param(b"\xff\xfe not json", "Invalid JSON", id="not-json"),
        pytest.param(b'{"n": "two"}', "n: Input should be a valid integer", id="wrong-type"),
        pytest.param(b"{}", "missing required argument(s): n", id="missing-argument"),
        pytest.param(b'[{"n": 1}]', "do not fit the task", id="wrong-shape"),
    ],
)
async def test_an_undecodable_payload_fails_with_reason_undecodable(
    app: Conveyor, payload: bytes, problem: str
) -> None:
    task: Task[..., Any] = app.task(double)
    await _insert_raw(app, JobRecord(id="poison", task=task.name, queue="default", payload=payload))
    good = await task.enqueue(21)

    await work_off(app)

    with pytest.raises(JobFailed) as caught:
        await app.job("poison").result(timeout=5)
    assert caught.value.reason == "undecodable"
    assert problem in caught.value.remote_message
    assert await good.result(timeout=5) == 42


async def test_a_poison_job_is_not_retried(app: Conveyor) -> None:
    task: Task[..., Any] = app.task(retries=5)(double)
    await _insert_raw(
        app,
        JobRecord(id="poison", task=task.name, queue="default", payload=b"{", max_attempts=6),
    )

    await work_off(app)

    info = await app.job("poison").info()
    assert (info.state, info.attempts) == (JobState.FAILED, 1)
