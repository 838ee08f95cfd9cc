"""A chain runs its steps in order, each result the next step's first argument; a failed
step stops it, and the workflow's handle says so."""

from __future__ import annotations

import pytest

from conveyor import Conveyor, JobFailed, JobState, chain

from .support import running_worker, settle, work_off


async def append(seen: list[str], letter: str) -> list[str]:
    return [*seen, letter]


async def boom(seen: list[str]) -> list[str]:
    raise ValueError(f"no room after {seen}")


def shout(words: list[str], suffix: str = "") -> str:
    return "".join(words).upper() + suffix


async def test_each_result_is_the_next_steps_first_argument(app: Conveyor) -> None:
    add = app.task(append)
    loud = app.task(shout)

    workflow = await chain(
        add.s([], "a"), add.step("b"), add.step(letter="c"), loud.step("!")
    ).enqueue()
    assert await workflow.status() is JobState.QUEUED
    async with running_worker(app):
        await settle(workflow)

    assert await workflow.result(timeout=5) == "ABC!"
    assert await workflow.status() is JobState.SUCCEEDED
    steps = await workflow.steps()
    assert [s.task_name for s in steps] == [add.name, add.name, add.name, loud.name]
    assert [await s.result(timeout=1) for s in steps] == [
        ["a"],
        ["a", "b"],
        ["a", "b", "c"],
        "ABC!",
    ]
    again = app.workflow(workflow.id)
    assert await again.result(timeout=1) == "ABC!"


async def test_a_failed_step_stops_the_chain(app: Conveyor) -> None:
    add = app.task(append)
    fail = app.task(retries=0)(boom)

    workflow = await chain(add.s([], "a"), fail.step(), add.step("never")).enqueue()
    async with running_worker(app):
        await settle(workflow)

    assert await workflow.status() is JobState.FAILED
    with pytest.raises(JobFailed) as caught:
        await workflow.result(timeout=5)
    assert caught.value.job_id == f"{workflow.id}:1"
    assert "no room after ['a']" in caught.value.remote_message
    steps = await workflow.steps()
    assert [s.task_name for s in steps] == [add.name, fail.name], "the third step was enqueued"
    backend = await app.connected()
    assert await backend.get(f"{workflow.id}:2") is None


async def test_a_workflow_id_makes_enqueue_idempotent(app: Conveyor) -> None:
    add = app.task(append)
    call = chain(add.s([], "a"), add.step("b"))

    first = await call.enqueue("order-42")
    second = await call.enqueue("order-42")
    async with running_worker(app):
        await settle(second)

    assert (first.created, second.created) == (True, False)
    assert await app.workflow("order-42").result(timeout=5) == ["a", "b"]
    assert len(await second.steps()) == 2


async def test_one_burst_worker_runs_a_chain_to_its_end(app: Conveyor) -> None:
    # each next step is stored with the previous step's outcome: a burst worker must see
    # its outcomes written before it decides that nothing is left
    add = app.task(append)

    workflow = await chain(add.s([], "a"), add.step("b"), add.step("c")).enqueue()
    worker = await work_off(app)

    assert worker.processed == 3
    assert await workflow.result(timeout=1) == ["a", "b", "c"]
